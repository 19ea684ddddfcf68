"""The paper's studies of how LIFT learns, as settings that expand into variants of a table.

A study varies the data, the labels or the grid, never the method: each variant of a table
(``Variant``) is a change of its rows or labels (``lift.data.variants``) and, at most, of the LIFT
settings; LIFT and the baselines then run on it exactly as in the main pipelines. The studies:

- ``sample_complexity``: the training split cut to fractions of its rows;
- ``label_noise``: a share of the training and validation labels corrupted (random or
  systematic), the test labels clean;
- ``class_imbalance``: the training rows of the rarer classes cut to minority : majority ratios,
  and the table as it is;
- ``decision_boundaries``: every model's answers on a grid over a 2-D table;
- ``inductive_bias``: the labels replaced by a teacher's (a classical learner fitted on the
  table), and each model's agreement with the teacher on the test rows;
- ``feature_names``: the rows written without names, with the columns' names, with the names
  shuffled, and in the table's own sentence (variants of the LIFT settings, not of the data);
- ``pretraining``: fine-tuning from the pretrained weights, from random ones, and after a
  first stage on gibberish text;
- ``in_context``: the base model shown training rows in its prompt, against LIFT fine-tuned
  on the same rows and on all;
- ``two_stage``: fine-tuning on a few rows, from the pretrained model and after a first stage
  on synthetic pretext tasks of the table's shape;
- ``uncertainty``: answers sampled several times beside the greedy one: how their spread
  follows noise added to a regression table's targets, and how calibrated sampled votes are
  beside scored classes;
- ``image_robustness``: the test images of an image table with Gaussian noise, or moved by
  the fast gradient sign method of a small convolutional network trained on the same images
  (transferred attacks); the models trained on the clean images answer them.

Each study's results are one row per (table, variant, model, repeat) with the task's metrics
(``study_results``) and a figure a reader understands without the code."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from lift.config.errors import DatasetInputError
from lift.config.lift import Settings
from lift.data import images, variants
from lift.data.entry import DatasetEntry
from lift.data.preprocessing import TaskName, task_of
from lift.data.variants import NoiseKind
from lift.evaluation.baselines import CLASSIFIERS, classifier
from lift.evaluation.metrics import METRICS
from lift.evaluation.published import StudyFigures

logger = logging.getLogger(__name__)

Fraction = Annotated[float, Field(gt=0, le=1)]
NoiseSd = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Variant(Settings):
    """One variant of a table: its ``name`` (a namespace segment), the ``level`` a figure
    places it at (a fraction, a rate, a ratio, a teacher), the ``facet`` it belongs to (the
    kind of noise), the ``change`` made to the rows or labels (``kind`` and its options;
    empty: the table as it is) and the ``lift`` settings it writes the rows with."""

    name: str
    level: float | str
    facet: str = ""
    label: str = ""  # how the figure names it
    change: dict[str, Any] = {}
    lift: dict[str, Any] = {}  # LIFT settings of the variant, over the study's (how it is written)
    # how the language model learns the rows: fine-tuned on them (after a first stage on
    # pretext tasks or gibberish: two_stage), shown them in the prompt, or not at all: only
    # the test rows change, and the models of the table as it is answer them (test_only)
    method: Literal["fine_tune", "two_stage", "in_context", "test_only"] = "fine_tune"


def changed(
    dataset: str,
    variant: Variant,
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    attacker: images.Attacker | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table and splits of ``variant`` (``variant.change``) from the table's own (its
    test images perturbed on the scale of ``attacker``, and by its gradients for FGSM)."""
    change = dict(variant.change)
    kind, seed = change.pop("kind", None), int(change.pop("seed", 0))
    target = schema["target"]
    labels = table[target].to_numpy()
    classification = task_of(schema) == "classification"
    if kind is None:
        return table, splits
    if kind == "subsample":
        return table, variants.subsample_training(
            dataset, splits, labels, change["fraction"], classification, seed
        )
    if kind == "rows":
        return table, variants.training_subset(
            dataset, splits, labels, change["count"], classification, seed
        )
    if kind == "test_images":
        if attacker is None:
            raise ValueError("perturbing test images needs the attacker network")
        return perturbed_test_images(table, schema, splits, attacker, **change, seed=seed), splits
    if kind == "target_noise":
        if classification:
            raise DatasetInputError(
                f"Dataset '{dataset}': the variant '{variant.name}' adds noise to numeric "
                "targets; it needs a regression dataset."
            )
        noisy = variants.noisy_targets(labels, variants.held_in_rows(splits), change["sd"], seed)
        return variants.with_target(table, target, noisy), splits
    if not classification:
        raise DatasetInputError(
            f"Dataset '{dataset}': the variant '{variant.name}' changes class labels; it "
            "needs a classification dataset."
        )
    if kind == "rebalance":
        return table, variants.rebalance_training(dataset, splits, labels, change["ratio"], seed)
    if kind == "corrupt":
        corrupted = variants.corrupt_labels(
            dataset,
            labels,
            variants.held_in_rows(splits),
            change["rate"],
            change["noise"],
            len(schema["classes"]),
            seed,
        )
        return variants.with_target(table, target, corrupted), splits
    if kind == "teacher":
        teacher = classifier(change["model"], schema, seed, change.get("params"))
        taught = variants.teacher_labels(teacher, table, schema, splits)
        return variants.with_target(table, target, taught), splits
    raise ValueError(f"unknown change {kind!r}")


def perturbed_test_images(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    attacker: images.Attacker,
    perturbation: images.Perturbation,
    level: float,
    seed: int = 0,
) -> pd.DataFrame:
    """``table`` with the pixels of its test rows perturbed (``images.perturbed``); the
    training and validation rows as they are."""
    features, target = list(schema["features"]), schema["target"]
    test = np.sort(splits.loc[splits["split"] == "test", "row"].unique())
    pixels = table[features].to_numpy(dtype=float)
    moved = images.perturbed(
        attacker, pixels[test], table[target].to_numpy()[test], perturbation, level, seed
    )
    changed_table = table.astype({f: float for f in features})
    changed_table.iloc[test, [table.columns.get_loc(f) for f in features]] = moved
    return changed_table


class StudySettings(Settings):
    """What every study's parameters (``<study>``) hold: the tables, by task, and what the
    paper published for them.

    ``datasets`` maps a task to the names of the tables studied: each the study's own entry
    in ``tables`` or else a dataset declared in ``<task>.datasets``. ``tables`` maps a task
    to the study's own dataset entries (name -> the same keys as in ``<task>.datasets``; null
    switches one off). ``lift`` holds LIFT settings the study runs with, over the task's and
    the table's own (the keys of ``<task>.lift``, e.g. ``{training: {epochs: 10}}``).
    The paper's figures for a study are in ``lift.evaluation.published`` (a fraction for
    accuracy, RAE for regression, unless ``published_metric`` says otherwise)."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification", "regression")
    # the metric a task's tables are compared on with the paper's, where not the task's first
    published_metric: ClassVar[dict[TaskName, str]] = {}

    datasets: dict[TaskName, list[str]] = {}
    tables: dict[TaskName, dict[str, dict[str, Any] | None]] = {}
    lift: dict[str, Any] = {}

    def metrics(self) -> dict[str, str]:
        """Per task, the metric its tables are compared on (with the paper's figures)."""
        return {task: self.published_metric.get(task, METRICS[task][0]) for task in self.tasks}

    def variants(self) -> list[Variant]:
        """The variants of every table, in the order a figure shows them."""
        raise NotImplementedError

    def variants_for(self, entry: DatasetEntry) -> list[Variant]:
        """The variants of a table (``entry``: its task, name and LIFT settings with the
        study's): the same for every table unless a study says otherwise."""
        return self.variants()

    def studied(
        self, study: str, declared: Mapping[str, Mapping[str, Any] | None]
    ) -> list[tuple[str, str, Mapping[str, Any], str]]:
        """``(task, name, entry parameters, their parameter path)`` of every table studied;
        ``declared`` is each task's ``datasets``. A table an environment switched off (null
        there) is left out with a warning; a name neither the study's nor declared, or a task
        the study does not take, raises ``DatasetInputError``."""
        studied = []
        for task, names in self.datasets.items():
            if task not in self.tasks and names:
                raise DatasetInputError(
                    f"Parameter `{study}.datasets` has {task} tables; the {study} study takes "
                    f"{list(self.tasks)} ones only."
                )
            own = self.tables.get(task, {})
            theirs = declared.get(task) or {}
            for name in names:
                if own.get(name) is not None:
                    studied.append((task, name, own[name], f"{study}.tables.{task}.{name}"))
                elif theirs.get(name) is not None:
                    studied.append((task, name, theirs[name], f"{task}.datasets.{name}"))
                elif name in own or name in theirs:
                    logger.debug(
                        "The %s study leaves out table '%s': this environment switches it off "
                        "(null).",
                        study,
                        name,
                    )
                else:
                    raise DatasetInputError(
                        f"Parameter `{study}.datasets.{task}` names '{name}', which is neither "
                        f"in `{study}.tables.{task}` ({sorted(own)}) nor in `{task}.datasets` "
                        f"({sorted(theirs)}); declare it in one of them."
                    )
        if not any(self.datasets.values()):
            raise DatasetInputError(
                f"Parameter `{study}.datasets` names no table; list some under "
                + " or ".join(f"`{task}`" for task in self.tasks)
                + "."
            )
        return studied


def _segment(prefix: str, value: float) -> str:
    """A variant's name, a namespace segment: ``prefix`` and ``value`` (``noise_0_1``)."""
    return f"{prefix}_{value:g}".replace(".", "_")


def _percent(value: float) -> str:
    return f"{100 * value:g} %"


class SampleComplexity(StudySettings):
    """``sample_complexity``: the training split cut to each of ``fractions`` (stratified,
    every class kept), drawn with ``seed`` + repeat."""

    fractions: Annotated[list[Fraction], Field(min_length=1)] = [0.05, 0.1, 0.2, 0.5, 1.0]
    seed: int = 0

    def variants(self) -> list[Variant]:
        return [
            Variant(
                name=_segment("train", 100 * f),
                level=f,
                label=_percent(f),
                change={"kind": "subsample", "fraction": f, "seed": self.seed},
            )
            for f in sorted(set(self.fractions))
        ]


class LabelNoise(StudySettings):
    """``label_noise``: each of ``rates`` of the training and validation labels corrupted in
    each of ``kinds`` (``random``: another class drawn uniformly; ``systematic``: class k
    becomes k + 1), with ``seed``; and the clean labels."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification",)

    rates: Annotated[list[Fraction], Field(min_length=1)] = [0.05, 0.1, 0.2]
    kinds: Annotated[list[NoiseKind], Field(min_length=1)] = ["random", "systematic"]
    seed: int = 42  # the original's

    def variants(self) -> list[Variant]:
        noisy = [
            Variant(
                name=_segment(kind, 100 * rate),
                level=rate,
                facet=kind,
                label=_percent(rate),
                change={"kind": "corrupt", "rate": rate, "noise": kind, "seed": self.seed},
            )
            for kind in dict.fromkeys(self.kinds)
            for rate in sorted(set(self.rates))
        ]
        return [Variant(name="clean", level=0.0, label="0 %"), *noisy]


class ClassImbalance(StudySettings):
    """``class_imbalance``: the training rows of every class but the largest cut to each of
    ``ratios`` (minority : majority) times the largest's, with ``seed`` + repeat; and, with
    ``as_is``, the table as it is."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification",)

    ratios: list[Fraction] = [0.25, 0.1]
    as_is: bool = True
    seed: int = 0

    def variants(self) -> list[Variant]:
        cut = [
            Variant(
                name=_segment("ratio", 100 * r),
                level=r,
                label=f"1:{1 / r:.3g}",
                change={"kind": "rebalance", "ratio": r, "seed": self.seed},
            )
            for r in sorted(set(self.ratios), reverse=True)
        ]
        if not cut and not self.as_is:
            raise DatasetInputError(
                "Parameter `class_imbalance` studies nothing: give `ratios` or set `as_is: true`."
            )
        return ([Variant(name="as_is", level=1.0, label="as is")] if self.as_is else []) + cut


class DecisionBoundaries(StudySettings):
    """``decision_boundaries``: every model's answers on a ``points`` x ``points`` grid over
    each 2-D table's range (widened by ``margin`` of it on each side)."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification",)

    points: Annotated[int, Field(ge=2, le=1000)] = 40
    margin: Annotated[float, Field(ge=0, le=1)] = 0.05

    def variants(self) -> list[Variant]:
        return [Variant(name="as_is", level="as is", label="as is")]


class Teacher(Settings):
    """A teacher: a baseline ``model`` (``baselines.CLASSIFIERS``) with fixed ``params``."""

    model: str
    params: dict[str, Any] = {}


class InductiveBias(StudySettings):
    """``inductive_bias``: the labels of each table replaced by those of every one of
    ``teachers`` (name -> a baseline with fixed parameters), fitted on the held-in rows with
    ``seed``; a model's test accuracy is then its agreement with the teacher."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification",)

    teachers: Annotated[dict[str, Teacher], Field(min_length=1)] = {
        "logistic_regression": Teacher(model="logistic_regression"),
        "knn_1": Teacher(model="knn", params={"n_neighbors": 1}),
        "decision_tree_3": Teacher(model="decision_tree", params={"max_depth": 3}),
        "svm_rbf": Teacher(model="svm", params={"kernel": "rbf"}),
        "mlp": Teacher(model="mlp"),
        "random_forest": Teacher(model="random_forest"),
        "xgboost": Teacher(model="xgboost"),
    }
    seed: int = 0

    def variants(self) -> list[Variant]:
        return [
            Variant(
                name=f"teacher_{name}",
                level=name,
                label=name,
                change={
                    "kind": "teacher",
                    "model": teacher.model,
                    "params": dict(teacher.params),
                    "seed": self.seed,
                },
            )
            for name, teacher in self.teachers.items()
        ]


# The two phrasings with names, `lift.serialization.template`: the variant's number, the
# paper's name for it (its templates I and II)
PHRASINGS = {"feature_names": ("1", "I"), "sentences": ("2", "II")}
Phrasing = Literal["feature_names", "sentences"]


class FeatureNames(StudySettings):
    """``feature_names``: each table written without names (``x1=5.10, ...``, the paper's
    template), with its columns' names, and with the names shuffled across the columns (each
    value under another column's name, drawn with ``seed``: a control), in each of
    ``phrasings`` (``feature_names``: "Given that <name> is <value>, ..."; ``sentences``: "The
    <name> is <value>. ..."); and in the table's own sentence where its entry has one
    (``lift: {serialization: {template: own, sentence: ...}}``)."""

    phrasings: Annotated[list[Phrasing], Field(min_length=1)] = ["feature_names", "sentences"]
    shuffled: bool = True
    seed: Annotated[int, Field(ge=0)] = 0

    def _written(self, name: str, label: str, template: str, names: str = "given") -> Variant:
        serialization = {"template": template, "sentence": None, "names": names}
        return Variant(
            name=name,
            level=label,
            label=label,
            lift={"serialization": {**serialization, "names_seed": self.seed}},
        )

    def variants(self) -> list[Variant]:
        written = [self._written("no_names", "no names\n(x1, x2)", "paper")]
        for kind in ["shuffled", "names"] if self.shuffled else ["names"]:
            names = "shuffled" if kind == "shuffled" else "given"
            for phrasing in dict.fromkeys(self.phrasings):
                number, template = PHRASINGS[phrasing]
                label = f"{kind}\n{template}"
                written.append(self._written(f"{kind}_{number}", label, phrasing, names))
        return written

    def variants_for(self, entry: DatasetEntry) -> list[Variant]:
        own = entry.lift.serialization.template == "own"
        mine = Variant(name="own", level="own sentence", label="own\nsentence")
        return [*self.variants(), *([mine] if own else [])]


class FirstStage(Settings):
    """A first stage of fine-tuning before the table's own: ``epochs`` epochs at
    ``learning_rate`` (None: the study's), its data drawn with ``seed``."""

    epochs: Annotated[int, Field(ge=1)] = 3
    learning_rate: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0

    def lift(self) -> dict[str, Any]:
        """The LIFT settings of the first stage, over the study's."""
        rate = {"learning_rate": self.learning_rate} if self.learning_rate else {}
        return {"training": {"epochs": self.epochs, **rate}}


class Pretext(FirstStage):
    """The first stage of two-stage fine-tuning: ``tasks`` synthetic tasks of ``rows`` rows
    each (the target's features and classes, drawn with ``seed``), taken in turn for
    ``rounds`` rounds of ``epochs`` epochs."""

    tasks: Annotated[int, Field(ge=1)] = 2
    rows: Annotated[int, Field(ge=10)] = 100
    rounds: Annotated[int, Field(ge=1)] = 2


class Gibberish(FirstStage):
    """A first stage on gibberish text (``synthetic.gibberish``): ``rows`` prompts of
    ``words`` made-up words, each answered by a quarter as many."""

    rows: Annotated[int, Field(ge=10)] = 200
    words: Annotated[int, Field(ge=4)] = 12


class Pretraining(StudySettings):
    """``pretraining``: the same fine-tuning from the pretrained base model, from a model of
    its architecture with weights drawn afresh (``lift.weights: random``, seeded with the
    training seed): what the pretrained weights bring; and, unless ``gibberish`` is null,
    from the pretrained model after a first stage on gibberish text (the paper's GPT-J "first
    tuned on gibberish")."""

    gibberish: Gibberish | None = Gibberish()

    def variants(self) -> list[Variant]:
        starts = [
            Variant(name=weights, level=weights, label=label, lift={"weights": weights})
            for weights, label in [("pretrained", "pretrained"), ("random", "random init")]
        ]
        after = Variant(
            name="gibberish", level="gibberish", label="gibberish\nfirst", method="two_stage"
        )
        return [*starts, *([after] if self.gibberish else [])]


class InContext(StudySettings):
    """``in_context``: the unchanged base model shown ``demonstrations`` training rows in the
    prompt (class-balanced, drawn with ``seed``; as many as fit its context, counted), against
    LIFT fine-tuned on the same rows (``subset_epochs``: their epochs, few rows making few
    steps) and on all of them. ``per_table`` sets a table's own count (the paper's were as
    many as fitted GPT-J's context: Breast 35, TAE 50, Customers 29)."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification",)

    demonstrations: Annotated[int, Field(ge=1)] = 32
    per_table: dict[str, Annotated[int, Field(ge=1)]] = {}
    seed: Annotated[int, Field(ge=0)] = 0
    subset_epochs: Annotated[int, Field(ge=1)] | None = None  # None: the study's

    def variants(self) -> list[Variant]:
        return self._variants(self.demonstrations)

    def variants_for(self, entry: DatasetEntry) -> list[Variant]:
        return self._variants(self.per_table.get(entry.name, self.demonstrations))

    def _variants(self, count: int) -> list[Variant]:
        rows = {"kind": "rows", "count": count, "seed": self.seed}
        return [
            Variant(
                name="in_context",
                level="in context",
                label=f"in context\n({count} rows)",
                change=rows,
                method="in_context",
            ),
            Variant(
                name="subset",
                level="subset",
                label=f"fine-tuned\n({count} rows)",
                change=rows,
                lift={"training": {"epochs": self.subset_epochs}} if self.subset_epochs else {},
            ),
            Variant(name="full", level="full", label="fine-tuned\n(all rows)"),
        ]


Sizes = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]


class TwoStage(StudySettings):
    """``two_stage``: LIFT fine-tuned on each of ``rows`` training rows (a table's own in
    ``per_table``; class-balanced where classes, drawn with ``seed``) from the pretrained
    model, and after a first stage on synthetic pretext tasks of the table's shape
    (``pretext``, the paper's: two tasks of 100 rows, alternated for 3 epochs each). The
    paper's regression case is compared on RMSE."""

    published_metric: ClassVar[dict[TaskName, str]] = {"regression": "rmse"}

    rows: Sizes = [10, 20, 50, 100, 200]
    per_table: dict[str, Sizes] = {}  # a table's own sizes (the paper's regression: 1..200)
    pretext: Pretext = Pretext()
    seed: Annotated[int, Field(ge=0)] = 0

    def variants(self) -> list[Variant]:
        return self._variants(self.rows)

    def variants_for(self, entry: DatasetEntry) -> list[Variant]:
        return self._variants(self.per_table.get(entry.name, self.rows))

    def _variants(self, sizes: list[int]) -> list[Variant]:
        return [
            Variant(
                name=f"{method}_{n}",
                level=n,
                facet=method,
                label=f"{n}",
                change={"kind": "rows", "count": n, "seed": self.seed},
                method=method,
            )
            for method in ("fine_tune", "two_stage")
            for n in sorted(set(sizes))
        ]


class Uncertainty(StudySettings):
    """``uncertainty``: LIFT answers every test prompt ``samples`` times at ``temperature``
    (seeded), and greedily. A regression table is fitted on its targets with Gaussian noise
    of each standard deviation in ``noise`` (the target's units; 0: as it is) added to its
    training and validation rows (drawn with ``seed``), to see whether the spread of the
    sampled answers follows the noise; the median, the mean and the greedy answer are scored
    alike. A classification table is answered by sampled votes, greedily and by scoring the
    classes, to compare their calibration (ECE, reliability)."""

    samples: Annotated[int, Field(ge=2)] = 10
    temperature: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0
    noise: Annotated[list[NoiseSd], Field(min_length=1)] = [0.0, 1.0, 2.0, 4.0]
    seed: Annotated[int, Field(ge=0)] = 0

    def _sampled(self, **generation: Any) -> dict[str, Any]:
        """Sampled answers and greedy ones, whatever the task's own answers (scored, say)."""
        sampling = {"samples": self.samples, "temperature": self.temperature}
        return {"generation": {"mode": "generate", **sampling, "also_greedy": True, **generation}}

    def variants(self) -> list[Variant]:
        """The regression tables' variants: one per noise level."""
        return [
            Variant(
                name=_segment("noise", sd),
                level=sd,
                label=f"sd {sd:g}",
                change={"kind": "target_noise", "sd": sd, "seed": self.seed} if sd else {},
                lift=self._sampled(),
            )
            for sd in sorted(set(self.noise))
        ]

    def variants_for(self, entry: DatasetEntry) -> list[Variant]:
        if entry.task == "regression":
            return self.variants()
        voted = self._sampled(also_score=True)
        label = f"{self.samples} samples\nat t={self.temperature:g}"
        return [Variant(name="sampled", level="sampled", label=label, lift=voted)]


class Attack(Settings):
    """The network the transferred attacks come from (``images.LeNet``): trained ``epochs``
    epochs on the held-in images, seeded."""

    epochs: Annotated[int, Field(ge=1)] = 60
    seed: Annotated[int, Field(ge=0)] = 0


Levels = Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=1)]


class ImageRobustness(StudySettings):
    """``image_robustness``: every model trained on an image table as it is answers its test
    images with Gaussian noise of each standard deviation in ``noise``, and moved by each
    ``epsilon`` of the fast gradient sign method of a small convolutional network
    (``attack``; the paper's LeNet-5), a white-box attack on that network that transfers to
    the others; levels on the 0-1 scale of the brightest pixel. The noise is drawn with
    ``seed``; the training and validation images are never changed."""

    tasks: ClassVar[tuple[TaskName, ...]] = ("classification",)

    noise: Levels = [0.01, 0.1, 0.3]
    epsilon: Levels = [0.01, 0.1, 0.3]
    attack: Attack = Attack()
    seed: Annotated[int, Field(ge=0)] = 0

    def variants(self) -> list[Variant]:
        perturbed = [
            Variant(
                name=_segment(kind, level),
                level=level,
                facet=facet,
                label=f"{level:g}",
                change={
                    "kind": "test_images",
                    "perturbation": kind,
                    "level": level,
                    "seed": self.seed,
                },
                method="test_only",
            )
            for kind, facet, levels in [
                ("gaussian", "Gaussian noise", self.noise),
                ("fgsm", "FGSM from LeNet", self.epsilon),
            ]
            for level in sorted(set(levels))
        ]
        return [Variant(name="clean", level=0.0, label="0\n(clean)"), *perturbed]


STUDIES: dict[str, type[StudySettings]] = {
    "sample_complexity": SampleComplexity,
    "label_noise": LabelNoise,
    "class_imbalance": ClassImbalance,
    "decision_boundaries": DecisionBoundaries,
    "inductive_bias": InductiveBias,
    "feature_names": FeatureNames,
    "pretraining": Pretraining,
    "uncertainty": Uncertainty,
    "in_context": InContext,
    "two_stage": TwoStage,
    "image_robustness": ImageRobustness,
}


def study_settings(study: str, params: Mapping[str, Any] | None) -> StudySettings:
    """The validated parameters of ``study`` (its section); a bad value raises
    ``DatasetInputError`` with the parameter's path, an unknown teacher model too."""
    settings = STUDIES[study].parsed(params, study)
    if isinstance(settings, InductiveBias):
        for name, teacher in settings.teachers.items():
            if teacher.model not in CLASSIFIERS:
                raise DatasetInputError(
                    f"Parameter `{study}.teachers.{name}.model` is '{teacher.model}'; use one of "
                    f"{sorted(CLASSIFIERS)}."
                )
    settings.variants()  # a study with nothing to vary says so now
    return settings


def variant_scores(scores: pd.DataFrame, task: str, variant: Variant) -> pd.DataFrame:
    """A variant's scores (``metrics.score_predictions``) with its ``task``, ``variant``,
    ``level``, ``facet`` and ``label`` in front."""
    front = {
        "task": task,
        "variant": variant.name,
        "level": variant.level,
        "facet": variant.facet,
        "label": variant.label,
    }
    scores = scores.assign(**front)
    return scores[[*front, *(c for c in scores.columns if c not in front)]]


def with_sample_means(predictions: pd.DataFrame) -> pd.DataFrame:
    """``predictions`` and, where a model sampled several numbers per prompt
    (``sample_mean``), the rows of ``<model>_mean``: the samples' mean as its answer (beside
    their median, the model's own)."""
    if "sample_mean" not in predictions:
        return predictions
    sampled = predictions[predictions["sample_mean"].notna()]
    means = sampled.assign(model=sampled["model"] + "_mean", y_pred=sampled["sample_mean"])
    return pd.concat([predictions, means], ignore_index=True)


def study_results(
    scores: Sequence[pd.DataFrame], published: StudyFigures, compared: Mapping[str, str]
) -> pd.DataFrame:
    """The study's tidy results: one row per (task, dataset, variant, model, repeat) with the
    metrics, and the paper's figure (``paper_<metric>``, the task's metric in ``compared``)
    where ``published`` has one."""
    # an empty facet or label read back from a scores CSV is NaN
    results = pd.concat(scores, ignore_index=True)
    for column in ("facet", "label"):
        results[column] = results[column].astype(object).where(results[column].notna(), "")
    primary = {task: compared[task] for task in results["task"].unique()}
    for metric in dict.fromkeys(primary.values()):
        results[f"paper_{metric}"] = [
            published.get(dataset, {}).get(variant, {}).get(model, np.nan)
            if primary[task] == metric
            else np.nan
            for task, dataset, variant, model in zip(
                results["task"],
                results["dataset"],
                results["variant"],
                results["model"],
                strict=True,
            )
        ]
    return results
