"""How numbers are written in the prompts, and a regression target in the completions.

``lift.serialization.encoding`` chooses how a numeric feature is written:

- ``raw``: the paper's fixed decimals (``decimals``), e.g. ``0.04`` for diabetes' 0.0381;
- ``significant``: ``digits`` significant digits, e.g. ``0.0381``;
- ``standardized``: the z-score against the training rows, with ``decimals`` decimals;
- ``minmax``: a whole number 0-100 between the training rows' minimum and maximum (values
  beyond them go below 0 or above 100);
- ``quantile``: the value's rank among the training rows, a whole number 0-100;
- ``principal``: the standardized features' principal components over the training rows,
  each as its z-score with ``decimals`` decimals, in the features' places and named
  ``component 1``, ``component 2``, ... in order of variance (a missing value counts as the
  feature's mean). A class that a difference or ratio of correlated measurements tells apart
  (crabs' species: its shell measurements all grow with the crab's size) then shows in one
  number.

The scaled encodings write a feature whose training values are at most ``ordinal_levels``
distinct whole numbers (a 1-10 score, a small count) as it is, in the raw format.

``target_encoding: standardized`` writes a regression target as its z-score against the
training rows (``target_decimals`` decimals) and reads the model's answers back into the
target's units. Scales are fitted on the training rows of each repeat only; the fitted
encoding is an artifact of the run, so that prediction uses exactly the one training used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lift.config.errors import DatasetInputError
from lift.config.lift import NumberEncoding, SerializationSettings, Settings, TargetEncoding
from lift.data.preprocessing import task_of
from lift.data.splits import rows_of

SCALED = ("standardized", "minmax", "quantile", "principal")
COMPONENT = "component {}"  # the name of the principal encoding's k-th written number


class FeatureScale(Settings):
    """A numeric feature's statistics over the training rows (``values``: sorted, kept only
    for the quantile encoding)."""

    mean: float
    std: float
    low: float
    high: float
    values: list[float] = []


class FittedEncoding(Settings):
    """The encoding of one repeat: how every feature and the target are written."""

    repeat: int
    encoding: NumberEncoding
    decimals: int
    digits: int
    target_encoding: TargetEncoding
    target_decimals: int
    scales: dict[str, FeatureScale] = {}
    target_mean: float = 0.0
    target_std: float = 1.0
    axes: list[list[float]] = []
    """``principal``: each component's loadings on the standardized features of ``scales``
    (in their order), the component of most variance first."""
    spreads: list[float] = []
    """``principal``: each component's standard deviation over the training rows."""

    def names(self, features: Sequence[str]) -> list[str]:
        """The names under which a row's ``features`` are written: the principal components
        in the places of the features they are made of, the other features' own names."""
        if self.encoding != "principal":
            return list(features)
        components = iter(range(1, len(features) + 1))
        return [COMPONENT.format(next(components)) if c in self.scales else c for c in features]

    def write_row(self, features: Sequence[str], values: Sequence[Any]) -> list[str]:
        """A row's ``values`` of ``features`` as the prompt shows them, in ``names``' order."""
        if self.encoding != "principal":
            return [self.write(c, v) for c, v in zip(features, values, strict=True)]
        by_name = dict(zip(features, values, strict=True))
        standard = np.array([_standard(by_name[c], s) for c, s in self.scales.items()])
        components = iter(np.asarray(self.axes) @ standard / np.asarray(self.spreads))
        return [
            f"{next(components):.{self.decimals}f}" if c in self.scales else self.write(c, v)
            for c, v in zip(features, values, strict=True)
        ]

    def write(self, column: str, value: Any) -> str:
        """``value`` of feature ``column`` as the prompt shows it (text as it is; a feature the
        principal encoding rotates is written with its row: ``write_row``)."""
        if isinstance(value, str):
            return value
        value = float(value)
        if self.encoding == "raw" or column not in self.scales and self.encoding in SCALED:
            return f"{value:.{self.decimals}f}"
        if self.encoding == "principal":
            raise ValueError(f"Feature {column!r} is written in components: use `write_row`.")
        if self.encoding == "significant":
            return np.format_float_positional(
                value, precision=self.digits, unique=False, fractional=False, trim="-"
            )
        scale = self.scales[column]
        if self.encoding == "standardized":
            return f"{(value - scale.mean) / scale.std:.{self.decimals}f}"
        if self.encoding == "minmax":
            return str(round(100 * (value - scale.low) / (scale.high - scale.low)))
        return str(round(100 * _rank(scale.values, value)))

    def read(self, column: str, text: str) -> float:
        """The number a written feature value stands for (its precision's worth: a whole
        number 0-100 stands for a range of values)."""
        number = float(text)
        if self.encoding in ("raw", "significant") or column not in self.scales:
            return number
        if self.encoding == "principal":
            raise ValueError(f"Feature {column!r} is written in components, not on its own.")
        scale = self.scales[column]
        if self.encoding == "standardized":
            return scale.mean + scale.std * number
        if self.encoding == "minmax":
            return scale.low + (scale.high - scale.low) * number / 100
        return float(np.quantile(scale.values, min(max(number / 100, 0.0), 1.0)))

    def write_target(self, value: float) -> str:
        """A regression target as its completion writes it (without the suffix)."""
        if self.target_encoding == "standardized":
            value = (float(value) - self.target_mean) / self.target_std
        return f"{float(value):.{self.target_decimals}f}"

    def read_targets(self, numbers: np.ndarray) -> np.ndarray:
        """Numbers read from the model's answers, in the target's units."""
        if self.target_encoding == "standardized":
            return self.target_mean + self.target_std * np.asarray(numbers, dtype=float)
        return np.asarray(numbers, dtype=float)


class Encodings(Settings):
    """The fitted encodings of every repeat of a dataset (the ``encoding`` artifact): one per
    repeat, or one per repeat and encoding a selection chooses from."""

    repeats: list[FittedEncoding]

    def of(self, repeat: int, encoding: NumberEncoding | None = None) -> FittedEncoding:
        """The encoding fitted on the training rows of ``repeat`` (the one named ``encoding``
        where there are several)."""
        fitted = [
            f
            for f in self.repeats
            if f.repeat == repeat and (encoding is None or f.encoding == encoding)
        ]
        if len(fitted) != 1:
            raise KeyError(
                f"{len(fitted)} encodings fitted for repeat {repeat}"
                + (f" named {encoding!r}" if encoding else "; name the one to use")
            )
        return fitted[0]

    def only(self, encoding: NumberEncoding | None) -> Encodings:
        """These encodings less those not named ``encoding`` (all of them for None)."""
        if encoding is None:
            return self
        return Encodings(repeats=[f for f in self.repeats if f.encoding == encoding])

    def names(self) -> list[NumberEncoding]:
        """The encodings fitted, in order."""
        return list(dict.fromkeys(f.encoding for f in self.repeats))


def _rank(values: Sequence[float], value: float) -> float:
    """The share of ``values`` (sorted) below ``value``, ties counted half."""
    below = np.searchsorted(values, value, side="left")
    not_above = np.searchsorted(values, value, side="right")
    return float((below + not_above) / (2 * len(values)))


def _ordinal(values: np.ndarray, levels: int) -> bool:
    """Whether ``values`` are at most ``levels`` distinct whole numbers."""
    finite = values[np.isfinite(values)]
    return bool(np.all(finite == np.round(finite)) and len(np.unique(finite)) <= levels)


def fit_encoding(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    rows: Sequence[int] | np.ndarray,
    settings: SerializationSettings,
    repeat: int = 0,
) -> FittedEncoding:
    """The encoding of ``settings`` with its scales fitted on ``rows`` of ``table`` (the
    training rows of one repeat; never validation or test rows)."""
    train = table.iloc[np.asarray(rows, dtype=int)]
    scaled_target = task_of(schema) == "regression" and settings.target_encoding != "raw"
    if train.empty and (settings.encoding in SCALED or scaled_target):
        encoding = settings.encoding if settings.encoding in SCALED else settings.target_encoding
        raise DatasetInputError(
            f"Dataset '{schema.get('dataset')}': the `{encoding}` encoding is fitted "
            f"on training rows, and repeat {repeat} has none."
        )
    scales = {}
    if settings.encoding in SCALED:
        for column in schema["numeric_features"]:
            values = train[column].to_numpy(dtype=float)
            if _ordinal(values, settings.ordinal_levels):
                continue  # written as it is
            low, high = float(values.min()), float(values.max())
            scales[column] = FeatureScale(
                mean=float(values.mean()),
                std=float(values.std()) or 1.0,  # a constant column: its values are 0
                low=low,
                high=high if high > low else low + 1.0,
                values=sorted(values.tolist()) if settings.encoding == "quantile" else [],
            )
    axes, spreads = _principal(train, scales) if settings.encoding == "principal" else ([], [])
    target_mean, target_std = 0.0, 1.0
    if scaled_target:
        targets = train[schema["target"]].to_numpy(dtype=float)
        target_mean, target_std = float(targets.mean()), float(targets.std()) or 1.0
    return FittedEncoding(
        repeat=int(repeat),
        encoding=settings.encoding,
        decimals=settings.decimals,
        digits=settings.digits,
        target_encoding=settings.target_encoding,
        target_decimals=settings.target_decimals,
        scales=scales,
        target_mean=target_mean,
        target_std=target_std,
        axes=axes,
        spreads=spreads,
    )


def _standard(values: Any, scale: FeatureScale) -> np.ndarray:
    """The z-scores of ``values`` against ``scale``; a missing value at 0, the mean (what the
    principal encoding rotates)."""
    z = (np.asarray(values, dtype=float) - scale.mean) / scale.std
    return np.where(np.isfinite(z), z, 0.0)


def _principal(
    train: pd.DataFrame, scales: Mapping[str, FeatureScale]
) -> tuple[list[list[float]], list[float]]:
    """The principal axes of the ``train`` rows' standardized features (those of ``scales``)
    and each component's standard deviation; each axis's sign set so that its largest loading
    is positive (the same components whatever the solver's signs)."""
    if not scales:
        return [], []
    standard = np.column_stack([_standard(train[c], s) for c, s in scales.items()])
    _, singular, axes = np.linalg.svd(standard - standard.mean(axis=0), full_matrices=False)
    axes = np.vstack([axes, np.zeros((len(scales) - len(axes), len(scales)))])  # rows < features
    singular = np.concatenate([singular, np.zeros(len(scales) - len(singular))])
    largest = axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)]
    axes *= np.where(largest < 0, -1.0, 1.0)[:, None]
    spreads = singular / np.sqrt(len(standard))
    # a direction without variance in the training rows: its component written unscaled
    spreads = np.where(spreads > 1e-9, spreads, 1.0)
    return axes.tolist(), spreads.tolist()


def fit_encodings(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    settings: SerializationSettings,
    encodings: Sequence[NumberEncoding] = (),
) -> Encodings:
    """One encoding per repeat of ``splits`` (and per name of ``encodings``, if given,
    instead of ``settings.encoding``), each fitted on that repeat's training rows."""
    return Encodings(
        repeats=[
            fit_encoding(
                table,
                schema,
                rows_of(splits, repeat, "train"),
                settings.model_copy(update={"encoding": encoding}),
                int(repeat),
            )
            for encoding in encodings or [settings.encoding]
            for repeat in sorted(splits["repeat"].unique())
        ]
    )
