"""Custom Kedro datasets of the project."""

from lift.datasets.adapter_dataset import AdapterDataset
from lift.datasets.typed_json_dataset import TypedJSONDataset

__all__ = ["AdapterDataset", "TypedJSONDataset"]
