"""LIFT as scikit-learn estimators, for notebooks: ``LIFTClassifier`` and ``LIFTRegressor``
with ``fit``, ``predict``, ``predict_proba`` (classifier) and ``score``, so that
``cross_val_score``, ``Pipeline`` and ``GridSearchCV`` take them.

They are the pipelines' method, not a second one: ``fit`` prepares the table
(``preprocessing``), holds out ``validation_size`` of the rows to choose the epoch on, fits the
number encoding on the training rows (``encoding``), writes the prompts (``serialization``) and
fine-tunes one LoRA adapter (``learner.fine_tune``); ``predict`` checks the rows by name
(``new_rows``) and answers them as the pipelines answer new rows.

Settings: the keywords below override ``lift``, a mapping in the shape of the parameters'
``lift`` section (``{"training": {"epochs": 6}}``), over a named ``preset`` (``"paper"``: the
paper's protocol) over the library's defaults for the task (``LiftSettings.defaults``), which
are the pipelines' defaults too: ``LIFTClassifier()`` trains what ``kedro run`` trains for a
dataset that sets nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings, ModelSettings, with_overrides
from lift.data.preprocessing import prepare_table
from lift.method import learner
from lift.method.encoding import fit_encodings
from lift.method.language_model import prepare_base_model
from lift.method.new_rows import check_new_rows
from lift.method.serialization import serialize
from lift.method.tasks import Answers, task_for

logger = logging.getLogger(__name__)

TARGET = "target"  # the target's column in the table the estimator prepares


def _as_numbers(column: np.ndarray) -> np.ndarray:
    """A column of an array as numbers where every value is one, else as it is (text is a
    category); a value that is neither raises ``TypeError``."""
    try:
        return column.astype(float)
    except ValueError:
        return column


class _LIFTEstimator(BaseEstimator):
    """What both estimators share; ``_task`` says which one."""

    _task = "classification"

    def __init__(
        self,
        model: str = "embedded",
        *,
        models_dir: str | None = None,
        lift: Mapping[str, Any] | None = None,
        preset: str | None = None,
        encoding: str | None = None,
        template: str | None = None,
        epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        lora_rank: int | None = None,
        answer: str | None = None,
        device: str | None = None,
        validation_size: float = 0.2,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.models_dir = models_dir
        self.lift = lift
        self.preset = preset
        self.encoding = encoding
        self.template = template
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.lora_rank = lora_rank
        self.answer = answer
        self.device = device
        self.validation_size = validation_size
        self.random_state = random_state

    def _name(self) -> str:
        return type(self).__name__

    def settings(self) -> LiftSettings:
        """The LIFT settings of these parameters (``lift``, then the keywords over it),
        validated; a bad value raises ``DatasetInputError`` naming its parameter."""
        keywords = {
            "serialization": {"encoding": self.encoding, "template": self.template},
            "training": {
                "epochs": self.epochs,
                "learning_rate": self.learning_rate,
                "batch_size": self.batch_size,
                "seed": self.random_state,
            },
            "lora": {"rank": self.lora_rank},
            "generation": {"mode": self.answer},
            "device": self.device,
        }
        given = {
            section: {k: v for k, v in values.items() if v is not None}
            if isinstance(values, dict)
            else values
            for section, values in keywords.items()
            if values is not None
        }
        lift = self.lift or {}
        if "model" in lift:
            raise DatasetInputError(
                f"{self._name()}: parameter `lift.model` is not read here: give the model as "
                "its first argument, `model` (`embedded`, a model folder or a Hugging Face id)."
            )
        if self.lora_rank is not None and "alpha" not in lift.get("lora", {}):
            given["lora"]["alpha"] = 2 * self.lora_rank  # the paper's ratio
        return LiftSettings.from_params(
            with_overrides(lift, given),
            path="lift",
            subject=f"{self._name()}: ",
            task=self._task,
            preset=self.preset,
        )

    def _table(self, X: Any, y: Any = None, reset: bool = True) -> pd.DataFrame:
        """``X`` checked as scikit-learn checks its inputs (2-D, finite, not sparse; at
        least two rows to fit) as a table with named columns (``x1..xp`` for an array), and
        ``y`` as its target column."""
        fitting = y is not None or reset
        checks = {"dtype": None, "ensure_min_samples": 2 if fitting else 1}
        if fitting:
            checks["y_numeric"] = self._task == "regression"
            values, target = validate_data(self, X, y, reset=True, **checks)
            if self._task == "classification":
                check_classification_targets(target)
        elif isinstance(X, pd.DataFrame):  # matched by name, in any order (new_rows)
            values = check_array(X, **checks)
        else:
            values = validate_data(self, X, reset=False, **checks)
        if isinstance(X, pd.DataFrame):
            table = X.rename(columns=str).reset_index(drop=True)
        else:
            columns = [f"x{i + 1}" for i in range(values.shape[1])]
            table = pd.DataFrame(
                {c: _as_numbers(values[:, i]) for i, c in enumerate(columns)}, columns=columns
            )
        if TARGET in table.columns:
            raise ValueError(
                f"{self._name()}: a feature column is named '{TARGET}', the name the target "
                "takes inside; rename it."
            )
        if fitting:
            table[TARGET] = target
        return table

    def fit(self, X: Any, y: Any) -> _LIFTEstimator:
        """Fine-tune one adapter on ``(X, y)``: ``validation_size`` of the rows (stratified
        for classes) choose the epoch, the rest train."""
        settings = self.settings()
        table = self._table(X, y)
        if self._task == "classification" and table[TARGET].nunique() < 2:
            raise DatasetInputError(
                f"{self._name()}.fit: y holds a single class "
                f"({table[TARGET].iloc[0]!r}); a classifier needs at least two."
            )
        # no baselines here to one-hot encode text columns: any number of categories
        prepared, schema = prepare_table(
            self._name(), table, TARGET, self._task, max_categories=len(table)
        )
        splits = self._splits(prepared[TARGET].to_numpy())
        encodings = fit_encodings(
            prepared, schema, splits, settings.serialization, settings.encodings()
        )
        prompts = serialize(
            prepared, schema, splits, settings.serialization, encodings, self._name()
        )
        base = prepare_base_model(
            ModelSettings(
                name=self.model, **({"models_dir": self.models_dir} if self.models_dir else {})
            )
        )
        task = task_for(schema, settings.serialization)
        (adapter,) = learner.fine_tune(
            self._name(), base, prompts, task, settings, encodings
        ).values()
        self.schema_, self.encodings_, self.adapter_ = schema, encodings, adapter
        self.prompts_, self.base_model_, self.settings_ = prompts, base, settings
        self.history_ = adapter.history
        return self

    def _splits(self, targets: np.ndarray) -> pd.DataFrame:
        """Repeat 0 of the training rows: ``validation_size`` of them held out."""
        rows = np.arange(len(targets))
        if not 0 < self.validation_size < 1:
            raise ValueError(
                f"{self._name()}: validation_size is {self.validation_size}; it must be "
                "between 0 and 1 (the rows that choose the epoch)."
            )
        stratify = targets if self._task == "classification" else None
        if stratify is not None and np.bincount(targets).min() < 2:
            stratify = None  # a class of one row cannot be in both parts
        train, validation = train_test_split(
            rows,
            test_size=self.validation_size,
            random_state=self.random_state,
            stratify=stratify,
        )
        return pd.DataFrame(
            {
                "row": np.concatenate([train, validation]),
                "repeat": 0,
                "split": ["train"] * len(train) + ["validation"] * len(validation),
            }
        )

    def _answers(self, X: Any) -> Answers:
        """The fitted adapter's answers for the rows of ``X``."""
        check_is_fitted(self, "adapter_")
        rows, _ = check_new_rows(self._name(), self._table(X, reset=False), self.schema_)
        settings = self.settings_
        return learner.answer_rows(
            self._name(),
            self.base_model_,
            self.adapter_,
            0,
            rows,
            self.schema_,
            self.prompts_,
            task_for(self.schema_, settings.serialization),
            settings,
            self.encodings_,
            description="predict",
        )


class LIFTClassifier(ClassifierMixin, _LIFTEstimator):
    """LIFT for classes: a language model fine-tuned with LoRA to answer each row, written as
    a sentence, with its class. By default each class's completion is scored after the prompt
    (``answer="score"``): ``predict_proba`` is the softmax of the scores and every answer is a
    class. With ``answer="generate"`` (the paper's way) the text is generated and read back,
    ``predict_proba`` is the share of sampled answers per class, and an answer that names no
    class is predicted as the training rows' most frequent class, with a warning."""

    _task = "classification"

    def fit(self, X: Any, y: Any) -> LIFTClassifier:
        super().fit(X, y)
        self.classes_ = np.asarray(self.schema_["classes"])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each row's probability of each class of ``classes_``."""
        answers = self._answers(X)
        assert answers.probabilities is not None
        return answers.probabilities

    def predict(self, X: Any) -> np.ndarray:
        """Each row's class."""
        answers = self._answers(X)
        labels = answers.predictions
        if not answers.valid.all():
            train = self.prompts_[self.prompts_["split"] == "train"]
            majority = int(train["target"].mode().iloc[0])
            logger.warning(
                "%s: %d of %d answers named no class; predicted as the most frequent class",
                self._name(),
                int((~answers.valid).sum()),
                len(labels),
            )
            labels = np.where(answers.valid, labels, majority)
        return self.classes_[labels]


class LIFTRegressor(RegressorMixin, _LIFTEstimator):
    """LIFT for numbers: a language model fine-tuned with LoRA to answer each row, written as
    a sentence, with its target written as a number, which is read back. An answer that holds
    no number is predicted as the training rows' mean (``lift.method.tasks.Regression``)."""

    _task = "regression"

    def predict(self, X: Any) -> np.ndarray:
        """Each row's number."""
        return np.asarray(self._answers(X).predictions, dtype=float)
