"""Custom Kedro datasets of the project."""

from lift.datasets.adapter_dataset import AdapterDataset

__all__ = ["AdapterDataset"]
