"""Every artifact of the catalog on another fsspec filesystem (here the in-memory one), by
changing `data_root` in conf/base/globals.yml alone: saved, versioned and loaded back."""

import uuid

import fsspec
import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog
from kedro.io.core import generate_timestamp
from matplotlib.figure import Figure

from conftest import PROJECT
from lift.data.entry import DatasetEntry
from lift.method.encoding import Encodings
from lift.method.fine_tuning import TrainedAdapter

NAMES = {"{task}": "classification", "{dataset}": "iris", "{study}": "label_noise"}
NEWEST = "lift.project.datasets.NewestResults"
# the store's credentials every entry names (none for this filesystem)
CREDENTIALS = yaml.safe_load((PROJECT / "conf/base/credentials.yml").read_text())


def shared_catalog_config(root: str) -> dict:
    """conf/base/catalog.yml with `data_root` (conf/base/globals.yml) set to ``root``."""
    globals_ = yaml.safe_load((PROJECT / "conf/base/globals.yml").read_text())
    assert globals_["data_root"] == "data"  # the one place the catalog's base path is set
    text = (PROJECT / "conf/base/catalog.yml").read_text()
    assert text.count("${globals:data_root}/") == text.count("filepath:")
    return yaml.safe_load(text.replace("${globals:data_root}", root))


def concrete(pattern: str) -> str:
    for placeholder, value in NAMES.items():
        pattern = pattern.replace(placeholder, value)
    return pattern


def sample(dataset_type: str, model: str | None, version: int):
    """Data of the kind a catalog entry of ``dataset_type`` holds; ``version`` tells two
    apart."""
    if dataset_type.startswith("pandas."):
        return pd.DataFrame({"row": [version, 2], "kind": ["a", "b"]})
    if dataset_type == "text.TextDataset":
        return f"# report {version}\n"
    if dataset_type == "json.JSONDataset":
        return {"version": version}
    if dataset_type == "pickle.PickleDataset":
        return {"version": version, "weights": [0.5, 1.5]}
    if dataset_type == "matplotlib.MatplotlibDataset":
        figure = Figure()
        figure.add_subplot().plot([0, version])
        return figure
    if model == "lift.data.entry.DatasetEntry":
        source = {"kind": "synthetic", "name": "moons", "n_samples": 100 + version}
        return DatasetEntry.from_params("classification", "moons", {"source": source}, {})
    if model == "lift.method.encoding.Encodings":
        return Encodings(repeats=[])
    if dataset_type == "lift.project.datasets.AdapterDataset":
        weights = {"base_model.model.q.lora_A.weight": torch.full((2, 3), float(version))}
        adapter = TrainedAdapter({"r": 2}, weights, [{"epoch": 1}], 1, trained_on={"d": "cpu"})
        return {0: adapter, 2: adapter}
    raise AssertionError(f"no sample for {dataset_type}")


def same(loaded, saved) -> bool:
    if isinstance(saved, pd.DataFrame):
        return loaded.equals(saved)
    if isinstance(saved, dict) and isinstance(saved.get(0), TrainedAdapter):
        return loaded.keys() == saved.keys() and all(
            torch.equal(loaded[r].weights[k], saved[r].weights[k])
            and loaded[r].history == saved[r].history
            for r in saved
            for k in saved[r].weights
        )
    return loaded == saved


def test_every_artifact_saves_versions_and_loads_on_another_filesystem():
    root = f"memory:///lift-{uuid.uuid4().hex}"  # a path: memory://x/ would be a host
    config = shared_catalog_config(root)
    first, second = generate_timestamp(), None
    while second is None or second <= first:
        second = generate_timestamp()
    for version in (first, second):
        catalog = DataCatalog.from_config(config, CREDENTIALS, save_version=version)
        for pattern, entry in config.items():
            if entry["type"] == NEWEST:  # read only: what the others saved
                continue
            data = sample(entry["type"], entry.get("model"), 1 if version == first else 2)
            catalog.save(concrete(pattern), data)
    memory = fsspec.filesystem("memory")
    latest = DataCatalog.from_config(config, CREDENTIALS)
    names = [concrete(p) for p in config]
    earlier = DataCatalog.from_config(
        config, CREDENTIALS, load_versions=dict.fromkeys(names, first)
    )
    # the paper report reads the newest results of each pipeline there
    newest = latest.load("paper_report.results")
    assert set(newest) == {"classification", "label_noise"}
    assert same(newest["label_noise"].drop(columns="version"), sample("pandas.CSVDataset", None, 2))
    assert set(newest["classification"]["version"]) == {second}
    for pattern, entry in config.items():
        if entry["type"] == NEWEST:
            continue
        name, kind, model = concrete(pattern), entry["type"], entry.get("model")
        # both versions written under the root, in Kedro's layout: <path>/<version>/<file>
        path = entry["filepath"].removeprefix("memory://")
        for pattern_name, value in NAMES.items():
            path = path.replace(pattern_name, value)
        assert memory.exists(f"{path}/{first}") and memory.exists(f"{path}/{second}"), name
        assert latest.exists(name), name
        if kind == "matplotlib.MatplotlibDataset":  # written, never read back
            png = memory.cat(f"{path}/{second}/{path.rsplit('/', 1)[1]}")
            assert png.startswith(b"\x89PNG"), name
            continue
        assert same(latest.load(name), sample(kind, model, 2)), name
        assert same(earlier.load(name), sample(kind, model, 1)), name
    assert not memory.glob(f"{root.removeprefix('memory://')}/**/*.partial"), "a save left"


def test_an_adapter_save_is_a_complete_folder_or_none(monkeypatch):
    from lift.project.datasets import AdapterDataset

    root = f"memory:///lift-{uuid.uuid4().hex}"  # a path: memory://x/ would be a host
    dataset = AdapterDataset(filepath=f"{root}/adapters", version=None)
    adapters = sample("lift.project.datasets.AdapterDataset", None, 1)
    memory = fsspec.filesystem("memory")

    def broken(*args, **kwargs):
        raise OSError("the network went away")

    # the save fails while it writes the weights: no adapters folder is left to be read
    monkeypatch.setattr("safetensors.torch.save", broken)
    with pytest.raises(Exception, match="network went away"):
        dataset.save(adapters)
    monkeypatch.undo()
    assert not dataset.exists()
    assert not memory.exists(f"{root.removeprefix('memory://')}/adapters")
    dataset.save(adapters)
    assert same(dataset.load(), adapters)


def test_an_adapter_whose_copy_was_cut_short_is_refused_by_name():
    from lift.project.datasets import AdapterDataset

    root = f"memory:///lift-{uuid.uuid4().hex}"
    dataset = AdapterDataset(filepath=f"{root}/adapters", version=None)
    dataset.save(sample("lift.project.datasets.AdapterDataset", None, 1))
    # as an object store leaves a move interrupted between two files
    fsspec.filesystem("memory").rm(
        f"{root.removeprefix('memory://')}/adapters/repeat_2/training.json"
    )
    with pytest.raises(Exception, match=r"repeat_2 lacks \['training.json'\]: its save did not"):
        dataset.load()
