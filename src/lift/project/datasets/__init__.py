"""Custom Kedro datasets of the project."""

from lift.project.datasets.adapter_dataset import AdapterDataset
from lift.project.datasets.newest_results import NewestResults
from lift.project.datasets.typed_json_dataset import TypedJSONDataset

__all__ = ["AdapterDataset", "NewestResults", "TypedJSONDataset"]
