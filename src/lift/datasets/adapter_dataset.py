"""``AdapterDataset``: versioned LoRA adapters, one folder per repeat in PEFT's own layout
(``adapter_config.json`` + ``adapter_model.safetensors``), so ``PeftModel.from_pretrained(base,
folder)`` reads them too. ``training.json`` beside them holds the epoch history, the settings
a selection chose and every candidate's validation outcome."""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_filepath_str

from lift.fine_tuning import TrainedAdapter

CONFIG, WEIGHTS, TRAINING = "adapter_config.json", "adapter_model.safetensors", "training.json"


class AdapterDataset(
    AbstractVersionedDataset[dict[int, TrainedAdapter], dict[int, TrainedAdapter]]
):
    """Saves and loads ``{repeat: TrainedAdapter}`` as a directory ``repeat_<r>/`` per repeat.

    Example catalog entry::

        "{task}.{dataset}.adapters":
          type: lift.datasets.AdapterDataset
          filepath: data/06_models/{task}/{dataset}/adapters
          versioned: true
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            filepath=PurePosixPath(filepath), version=version, exists_function=self._path_exists
        )
        self.metadata = metadata

    @staticmethod
    def _path_exists(path: str) -> bool:
        return Path(path).is_dir()

    def _exists(self) -> bool:
        try:
            return Path(get_filepath_str(self._get_load_path(), "file")).is_dir()
        except DatasetError:  # no version saved yet
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version}

    def _load(self) -> dict[int, TrainedAdapter]:
        from safetensors.torch import load_file

        folder = Path(get_filepath_str(self._get_load_path(), "file"))
        adapters = {}
        for repeat_folder in sorted(folder.glob("repeat_*")):
            config = json.loads((repeat_folder / CONFIG).read_text())
            training = json.loads((repeat_folder / TRAINING).read_text())
            adapters[int(repeat_folder.name.removeprefix("repeat_"))] = TrainedAdapter(
                lora_config=config,
                weights=load_file(repeat_folder / WEIGHTS),
                history=training["history"],
                best_epoch=training["best_epoch"],
                chosen=training.get("chosen", {}),
                candidates=training.get("candidates", []),
                trained_on=training.get("trained_on", {}),
            )
        if not adapters:
            raise DatasetError(f"No adapter (repeat_<r> folder) in {folder}.")
        return adapters

    def _save(self, data: dict[int, TrainedAdapter]) -> None:
        from safetensors.torch import save_file

        folder = Path(get_filepath_str(self._get_save_path(), "file"))
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for repeat, adapter in data.items():
            target = partial / f"repeat_{int(repeat)}"
            target.mkdir(parents=True)
            (target / CONFIG).write_text(json.dumps(adapter.lora_config, indent=2, default=str))
            weights = {k: v.contiguous() for k, v in adapter.weights.items()}
            save_file(weights, target / WEIGHTS, metadata={"format": "pt"})
            (target / TRAINING).write_text(
                json.dumps(
                    {
                        "best_epoch": adapter.best_epoch,
                        "history": adapter.history,
                        "chosen": adapter.chosen,
                        "candidates": adapter.candidates,
                        "trained_on": adapter.trained_on,
                    },
                    indent=2,
                )
            )
        # a complete folder or none: an interrupted save leaves only the .partial folder
        partial.rename(folder)
