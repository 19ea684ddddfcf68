"""Custom Kedro datasets of the project."""

from lift.datasets.adapter_dataset import AdapterDataset
from lift.datasets.settings_dataset import SettingsDataset

__all__ = ["AdapterDataset", "SettingsDataset"]
