"""Kedro hooks of the project."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io.core import AbstractDataset
from kedro.pipeline import Pipeline

from lift.config.errors import DatasetInputError
from lift.data.preprocessing import TASKS
from lift.evaluation.reporting import at_prior_notes, metric_table, primary_metric
from lift.method.phases import PHASES, spent
from lift.project import lineage, storage
from lift.project.lineage import Input, LineageStore, Record, RunMixError

logger = logging.getLogger(__name__)

MODEL_PARAMS = "params:lift.model"  # the base model every LIFT node reads
RUN_TIMINGS = "run_timings"  # the catalog entry the timings of every run are saved to


class RunSummary:
    """Times every node by its phase tag (what the method library timed as another phase
    inside a node, ``lift.method.phases.timed``, counts there) and, at the end of a run, prints each
    metrics table the run wrote (its primary metric per dataset and model) and the seconds per
    phase, and saves the timings as the versioned ``run_timings`` artifact."""

    def __init__(self) -> None:
        self.started = 0.0
        self.nodes: dict[str, dict[str, Any]] = {}
        self._node_start: dict[str, tuple[float, dict[str, float]]] = {}

    @hook_impl
    def before_pipeline_run(self) -> None:
        self.started, self.nodes = time.perf_counter(), {}

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._node_start[node.name] = (time.perf_counter(), spent())

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        started, before = self._node_start.pop(node.name)
        inside = {p: s - before.get(p, 0.0) for p, s in spent().items() if s > before.get(p, 0.0)}
        # inside: e.g. the base model, read from disk inside the first node that needs it
        self.record(node, time.perf_counter() - started, inside)

    def record(self, node: Any, seconds: float, inside: dict[str, float] | None = None) -> None:
        """Count ``seconds`` of ``node`` to its phase (a node run elsewhere, by the Dask
        runner's workers, reports its seconds here)."""
        phase = next((tag for tag in PHASES if tag in node.tags), "other")
        self.nodes[node.name] = {"phase": phase, "seconds": seconds, "inside_seconds": inside or {}}

    def timings(self) -> dict[str, Any]:
        """Seconds of the run in all, per phase and per node."""
        phases = dict.fromkeys(PHASES, 0.0)
        for entry in self.nodes.values():
            phases[entry["phase"]] = phases.get(entry["phase"], 0.0) + entry["seconds"]
            for phase, seconds in entry["inside_seconds"].items():
                phases[entry["phase"]] -= seconds
                phases[phase] += seconds
        return {
            "total_seconds": time.perf_counter() - self.started,
            "phases": phases,
            "nodes": self.nodes,
        }

    @hook_impl
    def after_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        for name in sorted(pipeline.outputs()):
            if name.endswith(".metrics"):
                summary = catalog.load(name)
                metric = primary_metric(summary)
                what = "accuracy (%)" if metric == "accuracy" else f"{metric.upper()}"
                print(
                    f"\n{name}: test {what}, mean over {summary['repeats'].max()} "
                    f"repeat(s)\n{metric_table(summary).to_string()}\n"
                )
                for note in at_prior_notes(summary):
                    print(note + "\n")
        timings = self.timings()
        table = pd.Series(timings["phases"], name="seconds").round(1)
        print(f"Run time by phase ({timings['total_seconds']:.0f} s in all)")
        print(table[table > 0].to_frame().T.to_string(index=False) + "\n")
        if RUN_TIMINGS in catalog:
            catalog.save(RUN_TIMINGS, timings)


class RunTracking:
    """Logs what a run made into its MLflow run, where kedro-mlflow started one (it logs the
    parameters the nodes read): each adapter's per-epoch history (``<namespace>.repeat_<r>.
    <metric>`` by epoch), each metrics table (``<task>.<dataset>.<model>.<metric>``), the files
    of the reporting layer (tables and figures, under ``08_reporting/``), where every artifact
    version was saved (``kedro_datasets.json``, and the run's save version as a tag) and the
    seconds per phase (``seconds.<phase>``). Nothing where tracking is off."""

    REPORTING = "08_reporting"

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        self.run_id: str | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: Any) -> None:
        self.run_id = None
        if importlib.util.find_spec("mlflow") is None:  # lift[mlflow] not installed: no run
            return
        import mlflow

        active = mlflow.active_run()  # kedro-mlflow's hook runs first and starts it
        self.run_id = active.info.run_id if active else None
        self.catalog, self.saved = catalog, {}
        if self.run_id is None:
            return
        with self._tracking("the run's save version"):
            self._client().set_tag(self.run_id, "kedro.save_version", run_params["run_id"])

    @contextmanager
    def _tracking(self, what: str) -> Iterator[None]:
        """Log to MLflow inside: a failing store (locked, full, gone) costs the tracking of the
        rest of the run, with a warning, never the run or what it made."""
        try:
            yield
        except Exception as error:  # any failure of the store or its client
            logger.warning(
                "MLflow tracking failed while logging %s (%s: %s); the run goes on untracked "
                "from here, its artifacts are saved as always (MLflow run %s).",
                what,
                type(error).__name__,
                str(error).splitlines()[0][:200] if str(error) else "",
                self.run_id,
            )
            self.run_id = None

    @staticmethod
    def _client() -> Any:
        from mlflow import MlflowClient

        return MlflowClient()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if self.run_id is None:
            return
        with self._tracking(f"`{dataset_name}`"):
            self._log_saved(dataset_name, data)

    def _log_saved(self, dataset_name: str, data: Any) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        if dataset_name.endswith(".adapters") and isinstance(data, dict):
            namespace = dataset_name.rsplit(".", 1)[0]
            for repeat, adapter in data.items():
                for record in getattr(adapter, "history", []):
                    step = int(record["epoch"])
                    metrics += [
                        Metric(f"{namespace}.repeat_{repeat}.{key}", float(value), now, step)
                        for key, value in record.items()
                        if key != "epoch" and isinstance(value, int | float)
                    ]
        elif dataset_name.endswith(".metrics") and isinstance(data, pd.DataFrame):
            task = dataset_name.rsplit(".", 1)[0]
            for row in data.to_dict("records"):
                metrics += [
                    Metric(f"{task}.{row['dataset']}.{row['model']}.{key}", float(v), now, 0)
                    for key, v in row.items()
                    if isinstance(v, int | float) and pd.notna(v) and key != "repeats"
                ]
        client = self._client()
        for start in range(0, len(metrics), 1000):  # MLflow takes 1000 per batch
            client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
        found = storage.artifact(self.catalog, dataset_name)
        if found is None:
            return
        path = found.at(found.saved_version(self.catalog, dataset_name))
        self.saved[dataset_name] = found.url(path)
        parts = Path(path).parts
        if found.local and found.fs.isfile(path) and self.REPORTING in parts:
            folder = Path(*parts[parts.index(self.REPORTING) : -2])
            client.log_artifact(self.run_id, path, str(folder))

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self.run_id is None:
            return
        with self._tracking("the run's timings"):
            client = self._client()
            client.log_dict(self.run_id, self.saved, "kedro_datasets.json")
            timings = self.summary.timings()
            for phase, seconds in {"total": timings["total_seconds"], **timings["phases"]}.items():
                client.log_metric(self.run_id, f"seconds.{phase}", float(seconds))
        with self._tracking("the served models"):
            self._log_served_models()

    def _log_served_models(self) -> None:
        """Each dataset of a task whose adapters this run trained, as an MLflow model that
        answers new rows (``lift.project.served_model``), registered under
        ``predict.registered_name`` (null: logged only)."""
        from lift.project.served_model import ARTIFACTS, log_served_model

        predict = (
            self.catalog.load("params:predict") if "params:predict" in self.catalog else None
        ) or {}
        template = predict.get("registered_name", "{task}.{dataset}")
        base_model = self.catalog.load("params:lift.model")
        for name in self.saved:
            namespace = name.removesuffix(".adapters")
            task, _, dataset = namespace.partition(".")
            if name == namespace or task not in TASKS or "." in dataset:
                continue  # not a task's dataset (a study's variant, a first stage)
            artifacts = {a: self.catalog.load(f"{namespace}.{a}") for a in ARTIFACTS}
            registered = template.format(task=task, dataset=dataset) if template else None
            info = log_served_model(
                task, artifacts, base_model, int(predict.get("repeat", 0)), registered, self.run_id
            )
            logger.info(
                "Dataset '%s' logged as an MLflow model (%s)%s",
                dataset,
                info.model_uri,
                f", registered as '{registered}'" if registered else "",
            )


class RunInputs:
    """Checks, before any node runs, that the data store answers, that every artifact the run
    reads and no node of it makes exists, and every version ``--load-versions`` names; the
    message says what to do. It runs
    before every other hook (plugins' too), so that a run refused here leaves nothing behind,
    not even an MLflow run."""

    store: storage.Store | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self.store = _data_store(context)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self.store is not None:
            self.store.check_reachable()
        problems = []
        for name, version in (run_params.get("load_versions") or {}).items():
            found = storage.artifact(catalog, name)
            if found is not None and found.versioned and found.saved(version) is None:
                saved = found.versions()
                problems.append(
                    f"`--load-versions` asks for version {version} of `{name}`, which has "
                    + (f"these: {', '.join(saved[-10:])}" if saved else "none saved yet")
                )
        if MODEL_PARAMS in pipeline.inputs():
            problems += _base_model_problems(catalog.load(MODEL_PARAMS))
        for name in sorted(i for i in pipeline.inputs() if i.startswith(lineage.PARAMS)):
            problems += _device_problems(catalog.load(name), name.removeprefix(lineage.PARAMS))
        for name in sorted(pipeline.inputs()):
            if name.startswith(lineage.PARAMS) or name == "parameters" or catalog.exists(name):
                continue
            if name.endswith(".raw_table") and name in catalog.config_resolver.config:
                # declared by the user (not the pattern of the tables the project acquires)
                problems.append(
                    f"`{name}` reads {_filepath(catalog, name)}, which does not exist: "
                    "correct the `filepath` of its catalog entry, or put the file there"
                )
            elif name.endswith(".raw_table"):
                problems.append(
                    f"`{name}` has no file: a dataset with `source: {{kind: file}}` reads its "
                    "table from that catalog entry; declare it (docs/tutorials/your-table.md):\n"
                    f"      {name}:\n        type: pandas.CSVDataset\n"
                    f"        filepath: data/01_raw/<your file>.csv\n"
                    "        metadata: {lift: {target: <its target column>}}"
                )
            elif name.endswith(".new_rows"):
                problems.append(
                    f"`{name}` has no file ({_filepath(catalog, name)}): write the rows "
                    "to predict there, or point its catalog entry at them"
                )
            else:
                problems.append(f"`{name}` has no saved version, " + _made_by(name, run_params))
        if problems:
            raise DatasetInputError(
                "This run cannot start:\n" + "".join(f"  - {p}\n" for p in problems)
            )


class RunVersions:
    """A run reads the versions it saved: once a node saved a versioned artifact, the catalog
    reads that version of it. Kedro reads the newest on disk, which it looks up right after
    the save: a run started beside this one in the same project, saving newer versions of the
    same artifacts in step with it, would be read by it (a test saw it happen)."""

    @hook_impl
    def before_pipeline_run(self, catalog: Any) -> None:
        self.catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        found = storage.artifact(self.catalog, dataset_name)
        version = found.saved_version(self.catalog, dataset_name) if found else None
        if version is None:  # not versioned, or added in code rather than configured
            return
        config = self.catalog.config_resolver.resolve_pattern(dataset_name)
        pinned = AbstractDataset.from_config(dataset_name, config, version, version)
        catalog_log = logging.getLogger("kedro.io.data_catalog")
        level = catalog_log.level
        catalog_log.setLevel(logging.ERROR)  # its "Replacing dataset" is this hook's doing
        try:
            self.catalog[dataset_name] = pinned
        finally:
            catalog_log.setLevel(level)


class RunLineage:
    """Keeps what every artifact was made from (``lift.project.lineage``) and stops a node,
    before it runs, whose inputs were not made together: artifacts of different runs (a failed or
    interrupted one left newer versions of some) or parameters other than this run's (a
    resume with ``--params``). The message names each disagreement and the nodes to rerun."""

    def __init__(self, folder: str = "lineage") -> None:
        self.folder = folder  # in the data store (data_root, conf/base/globals.yml)
        self.store: LineageStore | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self.store = LineageStore(_data_store(context).child(self.folder))

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: Any) -> None:
        self.run, self.catalog = run_params["run_id"], catalog
        self.pipeline_names = run_params.get("pipeline_names") or ["__default__"]
        self.env = run_params.get("env")
        self.parameters = catalog.load("parameters") if "parameters" in catalog else {}
        self.made_from: dict[str, dict[str, str]] = {}  # node -> ancestry of its outputs
        self.in_memory: dict[str, Record] = {}  # artifacts of this run that live in memory
        self.parameters_kept = False  # kept with the run's first record

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any]) -> None:
        if self.store is None:
            return
        loaded = [self._loaded(name, catalog, inputs[name]) for name in node.inputs]
        parameters = None if lineage.FROM_EARLIER_RUNS in node.tags else self.parameters
        found = lineage.disagreements(loaded, parameters, self.store)
        if found:
            together = lineage.made_together(loaded, self.store) if parameters is None else {}
            raise RunMixError(self._refusal(node, found, together))
        self.made_from[node.name] = lineage.ancestry(loaded)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        if self.store is None:
            return
        made_from = self.made_from.get(node.name, {})
        found = storage.artifact(self.catalog, dataset_name)
        version = found.saved_version(self.catalog, dataset_name) if found else None
        digest = found.digest(version) if found and version else ""
        # in memory, or not versioned: its lineage holds for this run only
        if version is None or not digest:
            self.in_memory[dataset_name] = Record(None, "", made_from)
            return
        if not self.parameters_kept:
            self.store.write_parameters(version, self.parameters)
            self.parameters_kept = True
        self.store.write(dataset_name, Record(version, digest, made_from))

    def _loaded(self, name: str, catalog: Any, value: Any) -> Input:
        if name.startswith(lineage.PARAMS) or name == "parameters":
            return Input(name, None, Record(self.run, lineage.digest_of_value(value)))
        if name in self.in_memory:
            return Input(name, None, self.in_memory[name])
        found = storage.artifact(catalog, name)
        if found is None:
            return Input(name, None, Record(None, ""))
        if found.versioned:
            version = catalog.get(name).resolve_load_version()
            assert self.store is not None
            record = self.store.read(name, version)
            if record is None:
                digest = found.digest(version)
                if digest and self.store.recorded(version):  # its save never ended
                    raise RunMixError(self._incomplete(name, version))
                record = Record(None, digest)  # written before records were kept
            return Input(name, version, record)
        return Input(name, None, Record(None, found.digest(None)))

    def _pipelines_option(self) -> str:
        """This run's pipelines and environment as `kedro run` takes them again."""
        env = f" --env={self.env}" if self.env not in (None, "local") else ""
        return ",".join(self.pipeline_names) + env

    def _incomplete(self, name: str, version: str) -> str:
        """The message for a version whose save never completed (no record was kept)."""
        from kedro.framework.project import pipelines

        whole = Pipeline([pipelines[p] for p in self.pipeline_names])
        makers = sorted(n.name for n in whole.nodes if name in n.outputs)
        pipeline = self._pipelines_option()
        return (
            f"Version {version} of `{name}` was not saved to the end (the run that wrote it "
            "failed or was killed while saving it), so it is not read. Make it again:\n"
            + (
                f"  kedro run --pipelines={pipeline} --from-nodes={','.join(makers)}\n"
                if makers
                else ""
            )
            + f"or read an earlier version: --load-versions={name}:<version>."
        )

    def _refusal(
        self, node: Any, found: list[tuple[str, str]], together: dict[str, str] | None = None
    ) -> str:
        """The message: each disagreement, and the nodes upstream that make the artifacts or
        read the parameters concerned, to rerun with the parameters meant; for a node that
        reads earlier runs' artifacts, the versions made together (``together``)."""
        from kedro.framework.project import pipelines

        whole = Pipeline([pipelines[name] for name in self.pipeline_names])
        known = {n.name for n in whole.nodes}
        upstream = whole.to_nodes(node.name).nodes if node.name in known else []
        names = {name for name, _ in found}
        makers = {
            n.name
            for n in upstream
            if n.name != node.name
            and names & (set(n.outputs) | {i for i in n.inputs if i.startswith(lineage.PARAMS)})
        }
        # the first of them: the others rerun after them anyway
        first = sorted(
            m
            for m in makers
            if not any(m in {n.name for n in whole.from_nodes(k).nodes} for k in makers - {m})
        )
        pipeline = self._pipelines_option()
        rerun = (
            f"  kedro run --pipelines={pipeline} --from-nodes={','.join(first)}\n" if first else ""
        )
        if together:
            versions = ",".join(f"{name}:{version}" for name, version in sorted(together.items()))
            rerun += f"  kedro run --pipelines={pipeline} --load-versions={versions}\n"
        return (
            f"Node `{node.name}` would combine artifacts that were not made together:\n"
            + "".join(f"  - {why}\n" for _, why in found)
            + "A failed or interrupted run leaves newer versions of some artifacts behind, and a "
            "resume does not apply new --params to artifacts already made. Rerun the nodes that "
            "make them, with the parameters you mean (docs/how-to/resume.md):\n"
            + rerun
            + "or load versions that were made together: --load-versions=<artifact>:<version>."
        )


def _base_model_problems(params: dict[str, Any] | None) -> list[str]:
    """Why the run's base model (``lift.model``) cannot be read, if it cannot: checked before
    the first node so that no baseline is fitted for a run that cannot fine-tune."""
    from lift.config.lift import ModelSettings
    from lift.method.language_model import check_base_model

    try:
        check_base_model(ModelSettings.from_params(params))
    except DatasetInputError as error:
        return [str(error)]
    return []


def _device_problems(value: Any, path: str) -> list[str]:
    """Why a device the parameters at ``path`` name (a ``device``, an entry of ``devices``,
    at any depth) is not on this machine: found before the first node, not in the fine-tuning
    node after the baselines."""
    from lift.method.language_model import unavailable_device

    if not isinstance(value, dict):
        return []
    problems = []
    for key, inner in value.items():
        where = f"{path}.{key}"
        if key == "device" and isinstance(inner, str):
            named = [(where, inner)]
        elif key == "devices" and isinstance(inner, list):
            named = [(f"{where}[{i}]", device) for i, device in enumerate(inner)]
        else:
            problems += _device_problems(inner, where)
            continue
        for at, device in named:
            problem = None if device == "auto" else unavailable_device(str(device))
            if problem:
                problems.append(f"Parameter `{at}` is '{device}': {problem}")
    return problems


def _made_by(name: str, run_params: dict[str, Any]) -> str:
    """What to run to make artifact ``name``: the nodes of this run's pipelines left out, or
    another pipeline."""
    from kedro.framework.project import pipelines

    names = run_params.get("pipeline_names") or ["__default__"]
    if any(name in pipelines[p].all_outputs() for p in names if p in pipelines):
        return (
            "and no node of this run makes it: include the nodes that make it (a wider "
            "--from-nodes, or none)"
        )
    makers = sorted(p for p, made in pipelines.items() if name in made.all_outputs())
    makers = [p for p in makers if p != "__default__"] or makers
    if not makers:
        task, _, rest = name.partition(".")
        dataset = rest.partition(".")[0]
        return (
            f"and no pipeline makes it: declare dataset '{dataset}' of {task} in this "
            "environment (docs/tutorials/your-table.md) and run its pipeline first"
        )
    env = run_params.get("env")
    command = f"kedro run --pipelines={makers[0]}"
    return f"made by pipeline `{makers[0]}`: run it first (`{command}`" + (
        f" --env={env})" if env not in (None, "local") else ")"
    )


def _data_store(context: Any) -> storage.Store:
    """The project's data store, from its globals and credentials."""
    try:
        globals_ = context.config_loader["globals"]
    except (KeyError, ValueError):
        globals_ = {}
    try:
        credentials = context.config_loader["credentials"]
    except (KeyError, ValueError):
        credentials = {}
    return storage.project_store(context.project_path, globals_, credentials)


def _filepath(catalog: Any, name: str) -> str:
    found = storage.artifact(catalog, name)
    return found.url(found.path) if found else "no path"
