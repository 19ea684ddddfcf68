"""``AdapterDataset``: versioned LoRA adapters, one folder per repeat in PEFT's own layout
(``adapter_config.json`` + ``adapter_model.safetensors``), so ``PeftModel.from_pretrained(base,
folder)`` reads them too. ``training.json`` beside them holds the epoch history, the settings
a selection chose and every candidate's validation outcome; an ensemble's other adapters
(``training.ensemble``) lie inside in ``member_<k>/`` folders of the same layout. The folder
may be on any fsspec filesystem (a local path, ``s3://``, ``gs://``, ``memory://``), as every
other artifact. A save is whole or refused when read: on a filesystem that renames folders it
is written aside and moved into place; on an object store (no folders to rename) it is written
in place with ``saved.json`` last, and a version without it is refused by name."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from lift.method.fine_tuning import TrainedAdapter

CONFIG, WEIGHTS, TRAINING = "adapter_config.json", "adapter_model.safetensors", "training.json"
FILES = (CONFIG, WEIGHTS, TRAINING)
SAVED = "saved.json"  # written last: the repeats of a save that finished
# filesystems that move a folder by renaming it: a save there is written aside and moved
RENAMES = {"file", "local", "memory"}


class AdapterDataset(
    AbstractVersionedDataset[dict[int, TrainedAdapter], dict[int, TrainedAdapter]]
):
    """Saves and loads ``{repeat: TrainedAdapter}`` as a directory ``repeat_<r>/`` per repeat.

    Example catalog entry::

        "{task}.{dataset}.adapters":
          type: lift.project.datasets.AdapterDataset
          filepath: ${globals:data_root}/06_models/{task}/{dataset}/adapters
          versioned: true

    ``credentials`` and ``fs_args`` go to the fsspec filesystem, as for Kedro's datasets.
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(credentials or {}), **(fs_args or {}))
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.isdir,
            glob_function=self._fs.glob,
        )
        self.metadata = metadata

    def _exists(self) -> bool:
        try:
            return self._fs.isdir(get_filepath_str(self._get_load_path(), self._protocol))
        except DatasetError:  # no version saved yet
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _read(self, path: str) -> bytes:
        with self._fs.open(path, "rb") as file:
            return file.read()

    def _write(self, path: str, content: bytes) -> None:
        with self._fs.open(path, "wb") as file:
            file.write(content)

    def _load(self) -> dict[int, TrainedAdapter]:
        folder = get_filepath_str(self._get_load_path(), self._protocol)
        adapters = {}
        if self._fs.exists(f"{folder}/{SAVED}"):
            repeats = json.loads(self._read(f"{folder}/{SAVED}"))
            repeat_folders = [f"{folder}/repeat_{int(r)}" for r in repeats]
        elif self._renames():  # saved before saved.json was written: moved whole
            repeat_folders = sorted(self._fs.glob(f"{folder}/repeat_*"))
        else:
            raise DatasetError(
                f"The adapters {folder} lack {SAVED}: their save did not finish. Run their "
                "fine-tuning again (or load another version)."
            )
        for repeat_folder in repeat_folders:
            name = PurePosixPath(repeat_folder).name
            members = sorted(
                self._fs.glob(f"{repeat_folder}/member_*"),
                key=lambda path: int(PurePosixPath(path).name.removeprefix("member_")),
            )
            first, *others = (self._read_adapter(f) for f in [repeat_folder, *members])
            adapters[int(name.removeprefix("repeat_"))] = replace(first, members=tuple(others))
        if not adapters:
            raise DatasetError(f"No adapter (repeat_<r> folder) in {folder}.")
        return adapters

    def _save(self, data: dict[int, TrainedAdapter]) -> None:
        folder = get_filepath_str(self._get_save_path(), self._protocol)
        partial = folder + ".partial" if self._renames() else folder
        if self._fs.exists(partial):
            self._fs.rm(partial, recursive=True)
        for repeat, adapter in data.items():
            target = f"{partial}/repeat_{int(repeat)}"
            self._write_adapter(target, adapter)
            for k, member in enumerate(adapter.members, start=1):
                self._write_adapter(f"{target}/member_{k}", member)
        self._write(f"{partial}/{SAVED}", json.dumps(sorted(int(r) for r in data)).encode())
        if partial != folder:  # a complete folder or none: an interrupted save leaves .partial
            self._fs.mv(partial, folder, recursive=True)

    def _read_adapter(self, folder: str) -> TrainedAdapter:
        """The adapter saved in ``folder`` (its members aside)."""
        from safetensors.torch import load

        missing = [f for f in FILES if not self._fs.exists(f"{folder}/{f}")]
        if missing:  # an object store's copy cut short: its files arrive one by one
            raise DatasetError(
                f"The adapter {folder} lacks {missing}: its save did not finish. "
                "Run its fine-tuning again (or load another version)."
            )
        config = json.loads(self._read(f"{folder}/{CONFIG}"))
        training = json.loads(self._read(f"{folder}/{TRAINING}"))
        return TrainedAdapter(
            lora_config=config,
            weights=load(self._read(f"{folder}/{WEIGHTS}")),
            history=training["history"],
            best_epoch=training["best_epoch"],
            chosen=training.get("chosen", {}),
            candidates=training.get("candidates", []),
            status=training.get("status", ""),
            trained_on=training.get("trained_on", {}),
        )

    def _write_adapter(self, folder: str, adapter: TrainedAdapter) -> None:
        """``adapter`` (its members aside) written to ``folder``."""
        from safetensors.torch import save

        self._fs.makedirs(folder, exist_ok=True)
        config = json.dumps(adapter.lora_config, indent=2, default=str)
        self._write(f"{folder}/{CONFIG}", config.encode())
        weights = {k: v.contiguous() for k, v in adapter.weights.items()}
        self._write(f"{folder}/{WEIGHTS}", save(weights, metadata={"format": "pt"}))
        training = {
            "best_epoch": adapter.best_epoch,
            "history": adapter.history,
            "chosen": adapter.chosen,
            "candidates": adapter.candidates,
            "status": adapter.status,
            "trained_on": adapter.trained_on,
        }
        self._write(f"{folder}/{TRAINING}", json.dumps(training, indent=2).encode())

    def _renames(self) -> bool:
        """Whether this filesystem moves a folder by renaming it."""
        protocols = self._fs.protocol
        return bool(RENAMES & set([protocols] if isinstance(protocols, str) else protocols))
