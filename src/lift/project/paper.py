"""The paper at its scale in one command (``make paper``): every pipeline an environment's
``paper_run.pipelines`` lists, one after another, then ``paper_report``.

    python -m lift.project.paper plan --env paper   # what will run, what cannot, how long
    python -m lift.project.paper data --env paper   # the OpenML tables into the cache (network)
    python -m lift.project.paper run --env paper    # the pipelines, then the report

Before any work the plan lists each pipeline's fine-tunings with their tokens (the prompts the
run will write, counted with the model's tokenizer), the tables that cannot run (OpenML tables
neither cached nor online) and an estimate of the time: the tokens over the training
throughput measured on this device with the run's model and settings. On a CPU ``run``
refuses with that estimate unless ``--allow-cpu``. A pipeline that finished is recorded
(``progress.json`` beside the report, with a digest of the parameters it read) and skipped by
a later ``run`` with the same parameters: an interrupted ``make paper`` resumes at the
pipeline it stopped in."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from lift.config.errors import DatasetInputError
from lift.data.acquisition import OPENML_CACHE, OpenMLSource, acquire, openml_available
from lift.data.entry import DatasetEntry, active
from lift.data.preprocessing import TASKS

# a forward pass (the validation loss) costs about a third of a training step per token
FORWARD_SHARE = 1 / 3
REPORT = "paper_report"


@dataclass
class Rates:
    """What this device does per second with the run's model: training tokens, and prompts
    answered by greedy generation and by scoring the classes."""

    train_tokens: float
    generated: float
    scored: float

    def answering(self, generation: Any, validation: bool = False) -> float:
        """Seconds to answer one prompt with these ``generation`` settings (a validation
        prompt: greedily, once)."""
        if generation.mode == "score":
            return 1 / self.scored
        if validation:
            return 1 / self.generated
        seconds = generation.samples / self.generated
        if generation.also_score:
            seconds += 1 / self.scored
        if generation.also_greedy and generation.samples > 1:
            seconds += 1 / self.generated
        return seconds


@dataclass
class Training:
    """The fine-tuning of one namespace of a pipeline (``step``): its dataset's settings and
    schema, and the prompts it trains on, validates on and answers."""

    step: str
    namespace: str
    settings: DatasetEntry
    schema: dict[str, Any]
    prompts: pd.DataFrame
    tokens: dict[str, int] = field(default_factory=dict)  # per split, over repeats

    def count(self, tokenizer: Any) -> None:
        """Tokens of the prompts and completions of each split, as the trainer encodes them."""
        from lift.method.fine_tuning import encode

        for split, rows in self.prompts.groupby("split"):
            examples = encode(tokenizer, rows["prompt"].tolist(), rows["completion"].tolist())
            lengths = (len(e.prompt_ids) + len(e.completion_ids) for e in examples)
            self.tokens[str(split)] = sum(lengths)

    def rows(self, split: str) -> int:
        return int((self.prompts["split"] == split).sum())

    @property
    def epochs(self) -> int:
        return self.settings.lift.training.epochs

    @property
    def train_tokens(self) -> int:
        """Tokens trained on, every epoch."""
        return self.tokens.get("train", 0) * self.epochs

    def seconds(self, rates: Rates) -> float:
        """About this long, every epoch trained and validated (early stopping ends some
        sooner) and the test prompts answered."""
        generation = self.settings.lift.generation
        validation = self.tokens.get("validation", 0) * self.epochs * FORWARD_SHARE
        return (
            (self.train_tokens + validation) / rates.train_tokens
            + self.rows("validation") * self.epochs * rates.answering(generation, True)
            + self.rows("test") * rates.answering(generation)
        )


@dataclass
class Offline:
    """A table of ``step`` that cannot be acquired here."""

    step: str
    table: str
    reason: str


@dataclass
class Plan:
    """What ``run`` does: the ``steps`` in order, their ``trainings``, the tables ``offline``,
    the steps ``done`` already (with the same parameters), the device and its measured
    training throughput."""

    env: str
    steps: list[str]
    trainings: list[Training]
    offline: list[Offline]
    done: dict[str, str]
    device: str
    rates: Rates | None = None
    empty: set[str] = field(default_factory=set)  # steps with no table here to run

    def seconds(self, step: str | None = None) -> float:
        """The estimate of ``step`` (None: of every step not done); 0 unmeasured."""
        chosen = [t for t in self.trainings if step in (None, t.step)]
        if step is None:
            chosen = [t for t in chosen if t.step not in self.done]
        return sum(t.seconds(self.rates) for t in chosen) if self.rates else 0.0

    def blocking(self) -> list[Offline]:
        """Offline tables of the main pipelines, which would fail (a study leaves its own out)."""
        return [o for o in self.offline if o.step in TASKS and o.step not in self.done]

    def table(self) -> str:
        lines = [
            f"{'pipeline':<22}{'fine-tunings':>13}{'train tokens':>15}{'about':>11}  status",
        ]
        for step in self.steps:
            mine = [t for t in self.trainings if t.step == step]
            tokens = sum(t.train_tokens for t in mine)
            status = f"done {self.done[step]}" if step in self.done else "to run"
            if step in self.empty:
                status = "cannot run: none of its tables here"
            time = duration(self.seconds(step))
            lines.append(f"{step:<22}{len(mine):>13}{tokens:>15,}{time:>11}  {status}")
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "device": self.device,
            "rates": vars(self.rates) if self.rates else None,
            "estimated_seconds": round(self.seconds()),
            "steps": {
                step: {
                    "fine_tunings": sum(t.step == step for t in self.trainings),
                    "train_tokens": sum(t.train_tokens for t in self.trainings if t.step == step),
                    "estimated_seconds": round(self.seconds(step)),
                    "done": self.done.get(step),
                    "runs": step not in self.done and step not in self.empty,
                }
                for step in self.steps
            },
            "offline": [vars(o) for o in self.offline],
        }


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def steps_of(parameters: Mapping[str, Any], registered: Sequence[str]) -> list[str]:
    """The pipelines of ``paper_run.pipelines``, checked against the ``registered`` ones."""
    steps = list((parameters.get("paper_run") or {}).get("pipelines") or [])
    runnable = [p for p in registered if p not in ("__default__", "predict", REPORT)]
    unknown = [s for s in steps if s not in runnable]
    if not steps or unknown:
        raise DatasetInputError(
            f"Parameter `paper_run.pipelines` is {steps}: "
            + (f"{unknown} are not pipelines of this project; " if unknown else "")
            + f"list some of {runnable} (conf/base/parameters_paper_run.yml)."
        )
    return steps


def declared_tables(step: str, parameters: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(task, name, entry parameters)`` of every table ``step`` names."""
    from lift.studies.designs import study_settings
    from lift.studies.numeric_encoding import STUDY, EncodingStudySettings

    declared = {task: (parameters.get(task) or {}).get("datasets") or {} for task in TASKS}
    if step in TASKS:
        return [(step, name, params) for name, params in active(declared[step]).items()]
    if step == STUDY:
        tables = EncodingStudySettings.parsed(parameters.get(STUDY), STUDY).tables(declared)
        return [(task, name, declared[task][name]) for task, name in tables]
    settings = study_settings(step, parameters.get(step))
    return [(task, name, params) for task, name, params, _ in settings.studied(step, declared)]


def openml_tables(
    step: str, parameters: Mapping[str, Any]
) -> Iterator[tuple[str, DatasetEntry, str]]:
    """Each OpenML table of ``step``: ``(task.name, its entry, the task's OpenML cache)``."""
    for task, name, params in declared_tables(step, parameters):
        entry = DatasetEntry.from_params(task, name, params)
        if isinstance(entry.source, OpenMLSource):
            cache = (parameters.get(task) or {}).get("openml_cache", OPENML_CACHE)
            yield f"{task}.{name}", entry, cache


def offline_tables(steps: Sequence[str], parameters: Mapping[str, Any]) -> list[Offline]:
    offline = []
    for step in steps:
        for table, entry, cache in openml_tables(step, parameters):
            source = entry.source
            if not openml_available(source.id, cache, source.server):
                offline.append(
                    Offline(
                        step,
                        table,
                        f"OpenML dataset {source.id} is not in the cache under '{cache}' and "
                        "the server cannot be reached: `make paper-data` where the network is, "
                        "then copy that folder here",
                    )
                )
    return offline


def training_namespaces(pipeline: Any) -> list[str]:
    """The namespace of every table or variant the pipeline fine-tunes an adapter for: the
    ``<namespace>.adapters`` its training nodes make (one each, or every table's at once
    where they are trained together)."""
    namespaces = []
    for node in pipeline.nodes:
        if "training" in node.tags:
            adapters = [o for o in node.outputs if o.endswith(".adapters")]
            namespaces += [o.removesuffix(".adapters") for o in adapters]
    return sorted(set(namespaces))


class Kept(MemoryDataset):
    """A ``MemoryDataset`` the runner does not empty once its readers ran."""

    def _release(self) -> None:
        pass


def trainings_of(step: str, pipeline: Any, catalog: Any) -> list[Training]:
    """Each fine-tuning of ``pipeline`` with the prompts it will train on: the pipeline's own
    nodes up to the prompts, run in memory (nothing is written, nothing logged)."""
    trainings = []
    for namespace in training_namespaces(pipeline):
        # serialize(table, schema, splits, encoding, settings) -> prompts
        (serialize,) = (n for n in pipeline.nodes if n.name == f"{namespace}.serialize")
        kept = dict(
            zip(
                ["schema", "settings", "prompts"],
                [*serialize.inputs[1::3], *serialize.outputs],
                strict=True,
            )
        )
        part = pipeline.to_outputs(*kept.values())
        memory = DataCatalog({name: Kept() for name in kept.values()})
        with quiet("kedro", "lift.data"):
            for name in part.inputs():
                memory[name] = catalog.load(name)
            SequentialRunner().run(part, memory)
            made = {a: memory.load(name) for a, name in kept.items()}
        trainings.append(Training(step, namespace, **made))
    return trainings


@contextmanager
def quiet(*names: str) -> Iterator[None]:
    """The messages of loggers ``names`` below warnings left out."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def measure_rates(model: Any, tokenizer: Any, first: Training, batches: int = 4) -> Rates:
    """What ``model`` does per second on its device, with ``first``'s settings and prompts:
    training tokens (``batches`` steps after a warm-up step, one adapter), and validation
    prompts answered greedily and by their scored classes."""
    from lift.data.splits import of_split
    from lift.method.fine_tuning import LOSS, Job, train_adapters
    from lift.method.learner import answer, precision
    from lift.method.tasks import task_for

    lift = first.settings.lift
    train = of_split(first.prompts, 0, "train")
    validation = of_split(first.prompts, 0, "validation").head(16)
    training = lift.overridden({"training": {"epochs": 1}}).training

    def job(rows: int) -> Job:
        chosen = train.head(rows)
        return Job(
            (chosen["prompt"].tolist(), chosen["completion"].tolist()),
            (validation["prompt"].tolist(), validation["completion"].tolist()),
            lambda _: {},
            training,
            select_on=LOSS,
            description=f"{first.namespace}: throughput",
        )

    def answered(mode: str) -> float:
        settings = lift.overridden({"generation": {"mode": mode, "samples": 1}})
        task = task_for(first.schema, lift.serialization)
        started = time.perf_counter()
        answer(
            model,
            tokenizer,
            validation["prompt"],
            train["completion"],
            task,
            train["target"].to_numpy(),
            settings,
        )
        return len(validation) / (time.perf_counter() - started)

    with precision(lift):
        train_adapters(model, tokenizer, [job(training.batch_size)], lift.lora, slots=1)
        (adapter,) = train_adapters(
            model, tokenizer, [job(batches * training.batch_size)], lift.lora, slots=1
        )
        epoch = adapter.history[0]
        return Rates(
            epoch["train_tokens"] / epoch["train_seconds"], answered("generate"), answered("score")
        )


def digest(step: str, parameters: Mapping[str, Any]) -> str:
    """A digest of the parameters ``step`` reads: its section, the tasks' (a study runs with
    their settings) and the model's."""
    sections = {key: parameters.get(key) for key in (step, *TASKS, "lift")}
    return hashlib.sha256(json.dumps(sections, sort_keys=True, default=str).encode()).hexdigest()


class Progress:
    """The pipelines ``run`` finished, by name: when, and the digest of their parameters
    (a JSON file; a pipeline whose parameters changed since runs again)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.finished: dict[str, dict[str, str]] = (
            json.loads(path.read_text()) if path.is_file() else {}
        )

    def done(self, steps: Sequence[str], parameters: Mapping[str, Any]) -> dict[str, str]:
        return {
            step: self.finished[step]["at"]
            for step in steps
            if self.finished.get(step, {}).get("digest") == digest(step, parameters)
        }

    def record(self, step: str, parameters: Mapping[str, Any]) -> None:
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.finished[step] = {"at": at, "digest": digest(step, parameters)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.finished, indent=2) + "\n")


@dataclass
class Project:
    """An environment of the project: its parameters, pipelines and catalog, as ``kedro run
    --env`` builds them."""

    path: Path
    env: str
    parameters: dict[str, Any]
    pipelines: dict[str, Any]
    catalog: Any
    data_root: str

    @classmethod
    def load(cls, path: Path, env: str) -> Project:
        from kedro.framework.project import pipelines
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        from lift.project.context import ProjectContext

        bootstrap_project(path)
        session = KedroSession.create(project_path=path, env=env)
        context = session.load_context()
        parameters = ProjectContext.parameters or {}
        root = str(context.config_loader["globals"].get("data_root", "data"))
        # the project's pipelines (pipeline_registry), built for this session's parameters
        return cls(path, env, parameters, dict(pipelines), context.catalog, root)

    @property
    def progress(self) -> Progress:
        """Beside the report; under ``data/`` where ``data_root`` is remote."""
        root = self.data_root if "://" not in self.data_root else "data"
        return Progress(self.path / root / "08_reporting" / "paper" / f"progress-{self.env}.json")


def plan(project: Project) -> Plan:
    """What ``run`` would do, with the tokens of every fine-tuning and, where some are still
    to run, what the device does per second (a few training steps, a few answers)."""
    from lift.config.lift import ModelSettings
    from lift.method.language_model import prepare_base_model, select_device
    from lift.method.learner import load_base

    parameters = project.parameters
    steps = steps_of(parameters, list(project.pipelines))
    done = project.progress.done(steps, parameters)
    offline = offline_tables(steps, parameters)
    trainings = []
    for step in steps:
        print(f"planning {step}: writing its prompts in memory", flush=True)
        trainings += trainings_of(step, project.pipelines[step], project.catalog)
    empty = {
        step
        for step in steps
        if [n.name for n in project.pipelines[step].nodes] == [f"{step}.nothing_to_study"]
    }
    result = Plan(project.env, steps, trainings, offline, done, str(select_device()), empty=empty)
    if not trainings:
        return result
    lift = trainings[0].settings.lift  # the run's model on the run's device
    model_params = (parameters.get("lift") or {}).get("model")
    base = prepare_base_model(ModelSettings.from_params(model_params))
    model, tokenizer = load_base(base, lift)
    result.device = str(next(model.parameters()).device)
    for training in trainings:
        training.count(tokenizer)
    if any(t.step not in done for t in trainings):
        print(f"measuring what {result.device} does per second", flush=True)
        result.rates = measure_rates(model, tokenizer, trainings[0])
    return result


def describe(plan: Plan) -> str:
    lines = [f"make paper, environment {plan.env}, on {plan.device}:", plan.table()]
    if plan.rates:
        rates = plan.rates
        lines.append(
            f"About {duration(plan.seconds())} of fine-tuning and answering still to run, from "
            f"the tokens and prompts above at the rates measured here just now (training "
            f"{rates.train_tokens:,.0f} tokens/s, one adapter at a time; answers "
            f"{rates.generated:.1f} prompts/s generated, {rates.scored:.1f} scored); loading "
            "and the baselines come on top, early stopping ends some adapters sooner."
        )
    if plan.offline:
        lines.append("Cannot run here:")
        lines += [f"  {o.step}: {o.table}: {o.reason}" for o in plan.offline]
    return "\n".join(lines)


def run(
    project: Project, allow_cpu: bool = False, restart: bool = False, summary: Path | None = None
) -> int:
    """Every pipeline of the plan not done yet, in order, each as ``kedro run --pipelines=..
    --env=..``; then ``paper_report``. Returns the exit status."""
    if restart:
        project.progress.path.unlink(missing_ok=True)
    chosen = plan(project)
    print(describe(chosen), flush=True)
    if summary:
        summary.write_text(json.dumps(chosen.summary(), indent=2) + "\n")
    if chosen.blocking():
        print(
            "Refused: the main pipelines above need tables this machine cannot acquire; fill "
            f"the OpenML cache, or switch them off (null) in conf/{project.env}.",
            file=sys.stderr,
        )
        return 2
    if chosen.device == "cpu" and not allow_cpu and chosen.seconds() > 0:
        print(
            f"Refused: this machine has no GPU (torch sees none) and the paper would take "
            f"about {duration(chosen.seconds())} here. Run it on a CUDA machine (`make paper` "
            "there installs the CUDA build of PyTorch), or ask for it here: `make paper "
            "ALLOW_CPU=1` (python -m lift.project.paper run --allow-cpu).",
            file=sys.stderr,
        )
        return 3
    for step in chosen.steps:
        if step in chosen.done:
            print(f"{step}: done {chosen.done[step]} with these parameters; skipped", flush=True)
            continue
        if step in chosen.empty:
            print(f"{step}: none of its tables can be acquired here (above); skipped", flush=True)
            continue
        started = time.perf_counter()
        status = kedro_run(project, step)
        if status:
            print(
                f"{step} failed (exit {status}); the pipelines before it are kept: `make paper` "
                "again resumes with it.",
                file=sys.stderr,
            )
            return status
        project.progress.record(step, project.parameters)
        print(f"{step}: done in {duration(time.perf_counter() - started)}", flush=True)
    return kedro_run(project, REPORT)


def kedro_run(project: Project, pipeline: str) -> int:
    command = [sys.executable, "-m", "kedro", "run", f"--pipelines={pipeline}"]
    return subprocess.run([*command, f"--env={project.env}"], cwd=project.path).returncode


def fetch(project: Project) -> int:
    """Every OpenML table of the plan into the OpenML cache (needs the network once)."""
    steps = steps_of(project.parameters, list(project.pipelines))
    failed = 0
    seen = set()
    for step in steps:
        for table, entry, cache in openml_tables(step, project.parameters):
            if (entry.source.id, cache) in seen:
                continue
            seen.add((entry.source.id, cache))
            try:
                acquire(entry.name, entry.source, entry.task, entry.target, cache)
                print(f"{table}: OpenML dataset {entry.source.id} is in {cache}")
            except Exception as error:  # every table is tried; each failure is named
                failed += 1
                print(f"{table}: OpenML dataset {entry.source.id}: {error}", file=sys.stderr)
    if not seen:
        print("The plan reads no OpenML table.")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lift.project.paper",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["plan", "data", "run"])
    parser.add_argument("--env", default="paper", help="the Kedro environment (conf/<env>)")
    parser.add_argument("--allow-cpu", action="store_true", help="run on a CPU all the same")
    parser.add_argument("--restart", action="store_true", help="forget the finished pipelines")
    parser.add_argument("--json", type=Path, help="write the plan's summary here too")
    args = parser.parse_args(argv)
    try:
        project = Project.load(Path.cwd(), args.env)
        if args.command == "data":
            return fetch(project)
        if args.command == "run":
            return run(project, args.allow_cpu, args.restart, args.json)
        chosen = plan(project)
        print(describe(chosen))
        if args.json:
            args.json.write_text(json.dumps(chosen.summary(), indent=2) + "\n")
        return 0
    except DatasetInputError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
