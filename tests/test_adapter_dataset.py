"""AdapterDataset: save, load and version listing of LoRA adapters."""

import json

import torch
from kedro.io import Version
from peft import PeftModel

from lift.config.lift import LoraSettings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import BaseModel, load_model
from lift.project.datasets import AdapterDataset


def trained_adapter(model_dir: str, seed: int) -> TrainedAdapter:
    from peft import get_peft_model, get_peft_model_state_dict

    model, _ = load_model(BaseModel("tiny", model_dir), torch.device("cpu"), torch.float32)
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraSettings(rank=4, alpha=8).peft_config())
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:  # zero at initialisation: make the adapter do something
            torch.nn.init.normal_(parameter)
    config = peft_model.peft_config["default"].to_dict()
    config["target_modules"] = sorted(config["target_modules"])
    weights = {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}
    trained_on = {"device": "cpu", "weights": "float32", "products": "float32"}
    return TrainedAdapter(
        config, weights, [{"epoch": 1, "train_loss": 1.0}], best_epoch=1, trained_on=trained_on
    )


def test_save_load_round_trip_in_peft_layout(tmp_path, tiny_model_dir):
    adapters = {0: trained_adapter(tiny_model_dir, 0), 1: trained_adapter(tiny_model_dir, 1)}
    dataset = AdapterDataset(filepath=str(tmp_path / "adapters"), version=Version(None, "v1"))
    dataset.save(adapters)
    folder = tmp_path / "adapters" / "v1" / "adapters"
    # one folder per repeat, and the record that the save finished (written last)
    assert sorted(p.name for p in folder.iterdir()) == ["repeat_0", "repeat_1", "saved.json"]
    assert json.loads((folder / "repeat_1" / "training.json").read_text())["best_epoch"] == 1

    loaded = AdapterDataset(filepath=str(tmp_path / "adapters"), version=Version(None, None)).load()
    assert sorted(loaded) == [0, 1]
    for key, value in adapters[1].weights.items():
        torch.testing.assert_close(loaded[1].weights[key], value)
    assert loaded[0].history == adapters[0].history
    assert loaded[0].trained_on == {"device": "cpu", "weights": "float32", "products": "float32"}

    # PEFT reads the folder as its own, and gives the same outputs as our attach()
    model, tokenizer = load_model(
        BaseModel("tiny", tiny_model_dir), torch.device("cpu"), torch.float32
    )
    inputs = tokenizer(["x=1.00###"], return_tensors="pt")
    ours = loaded[1].attach(model)(**inputs).logits
    fresh, _ = load_model(BaseModel("tiny", tiny_model_dir), torch.device("cpu"), torch.float32)
    theirs = PeftModel.from_pretrained(fresh, folder / "repeat_1")(**inputs).logits
    torch.testing.assert_close(ours, theirs)


def test_versions_are_listed_and_the_latest_is_loaded(tmp_path, tiny_model_dir):
    path = str(tmp_path / "adapters")
    first, second = trained_adapter(tiny_model_dir, 0), trained_adapter(tiny_model_dir, 1)
    AdapterDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")).save(
        {0: first}
    )
    AdapterDataset(filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")).save(
        {0: second}
    )
    latest = AdapterDataset(filepath=path, version=Version(None, None))
    assert latest.resolve_load_version() == "2026-01-02T00.00.00.000Z"
    key = next(iter(second.weights))
    torch.testing.assert_close(latest.load()[0].weights[key], second.weights[key])
    pinned = AdapterDataset(filepath=path, version=Version("2026-01-01T00.00.00.000Z", None))
    torch.testing.assert_close(pinned.load()[0].weights[key], first.weights[key])
    assert latest.exists()
