"""A careless user's bad inputs, run as that user runs them: each case is a fresh copy of this
project whose only dataset is the user's own CSV table (iris, renamed, with a text column),
changed by one mistake (the table, its catalog entry, a parameter or a command-line option),
and `kedro run` in it with the embedded model (one epoch).

    .venv/bin/python benchmarks/bad_inputs.py --out bad_inputs.json

Each case is judged by what the output says, not by what the code intends:

- ``refused``: a non-zero exit, no traceback, and the refusal (from the line naming the
  error to the end) fits in a screen (40 lines) and names what ``says`` expects (the column,
  parameter or path). Kedro's log of the nodes that ran before it stays above it;
- ``handled``: the run ends, and its output names the problem (a warning);
- ``silent``: the run ends and says nothing of it (wrong unless the input was fine after all);
- ``unclear``: anything else (a traceback, a wall of output, a message that names nothing).

Prints a Markdown table (case, outcome, lines, the message) and writes every output as JSON.
The table in docs/reference/checks.md is its output."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from sklearn.datasets import load_iris

PROJECT = Path(__file__).resolve().parents[1]
SCREEN = 40  # lines
ERROR_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception): ")
TABLE = "data/01_raw/flowers.csv"


def flowers() -> pd.DataFrame:
    """The user's table: iris with a gardener's column names and a text column."""
    iris = load_iris(as_frame=True)
    table = iris.frame.rename(
        columns={
            "sepal length (cm)": "sepal_length",
            "sepal width (cm)": "sepal_width",
            "petal length (cm)": "petal_length",
            "petal width (cm)": "petal_width",
        }
    )
    table["species"] = iris.target_names[iris.target]
    table["garden"] = ["north", "south", "east"] * 50
    return table.drop(columns="target")


ENTRY = {
    "type": "pandas.CSVDataset",
    "filepath": TABLE,
    "metadata": {"lift": {"target": "species"}},
}


@dataclass
class Case:
    name: str
    what: str  # the mistake, as the user made it
    says: str  # what the output must name
    table: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    text: str | None = None  # the file written as it is, instead of the table
    entry: dict = field(default_factory=dict)  # over the catalog entry
    params: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    task: str = "classification"


def _with(**values: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table = table.copy()
        for column, value in values.items():
            table[column] = table[column].astype(object)
            table.loc[::7, column] = value
        return table

    return change


CASES = [
    Case("target misspelt", "`target: specis` in the catalog entry", "specis",
         entry={"metadata": {"lift": {"target": "specis"}}}),
    Case("file path typo", "`filepath: data/01_raw/flower.csv`", "flower.csv",
         entry={"filepath": "data/01_raw/flower.csv"}),
    Case("no catalog entry", "a `source: {kind: file}` dataset without its catalog entry",
         "raw_table", entry={"omit": True}),
    Case("empty table", "a CSV with its header only", "no rows", table=lambda t: t.head(0)),
    Case("one class", "every row of one species", "single class",
         table=lambda t: t[t["species"] == "setosa"]),
    Case("missing labels", "every 7th species blank", "species", table=_with(species=None)),
    Case("missing values", "every 7th petal width blank", "petal_width",
         table=_with(petal_width=None)),
    Case("infinite values", "every 7th sepal width `inf`", "sepal_width",
         table=_with(sepal_width=float("inf"))),
    Case("two columns of one name", "a CSV whose header names `garden` twice", "garden",
         text="sepal_length,garden,garden,species\n" + "5.1,north,n,setosa\n" * 40
         + "6.1,south,s,versicolor\n" * 40),
    Case("separators in values", "garden values `x### 1@@@`", "garden",
         table=_with(garden="x### 1@@@")),
    Case("template punctuation in a name",
         "a column named `petal=width, cm`, written with the `feature_names` template",
         "petal=width, cm", table=lambda t: t.rename(columns={"petal_width": "petal=width, cm"}),
         params=("lift.serialization.template=feature_names",)),
    Case("a line break in a value", "garden values with a line break", "garden",
         table=_with(garden="north\nbed 2")),
    Case("an identifier column", "a column of 150 distinct plant ids", "plant",
         table=lambda t: t.assign(plant=[f"plant-{i:03d}" for i in range(len(t))])),
    Case("a number as the class", "classification of `sepal_length` (35 values)", "sepal_length",
         entry={"metadata": {"lift": {"target": "sepal_length"}}}),
    Case("text target in regression", "regression of `species`", "species",
         task="regression"),
    Case("rank 0", "`lift.lora.rank=0`", "lora.rank", params=("lift.lora.rank=0",)),
    Case("negative epochs", "`lift.training.epochs=-1`", "training.epochs",
         params=("lift.training.epochs=-1",)),
    Case("a misspelt key", "`lift.training.epoch=3`", "epoch", params=("lift.training.epoch=3",)),
    Case("a word for a number", "`lift.training.learning_rate=fast`", "learning_rate",
         params=("lift.training.learning_rate=fast",)),
    Case("an unknown template", "`lift.serialization.template=poem`", "template",
         params=("lift.serialization.template=poem",)),
    Case("a misspelt model id", "`lift.model.name=HuggingFaceTB/SmolLM2-135M-Instrukt`",
         "SmolLM2-135M-Instrukt",
         args=("--params=lift.model.name=HuggingFaceTB/SmolLM2-135M-Instrukt",)),
    Case("a model folder that is not there", "`lift.model.name=./models/mine`", "models/mine",
         args=("--params=lift.model.name=./models/mine",)),
    Case("a GPU asked for on a CPU", "`lift.device=cuda` on a machine without one", "cuda",
         params=("lift.device=cuda",)),
    Case("a test share above 1", "`split.test_size=1.5`", "test_size",
         params=("split.test_size=1.5",)),
    Case("no repeats", "`split.repeats=0`", "repeats", params=("split.repeats=0",)),
    Case("a misspelt pipeline", "`--pipelines=clasification`", "clasification",
         args=("--pipelines=clasification",)),
    Case("a version that does not exist", "`--load-versions` of a version never saved",
         "2020-01-01T00.00.00.000Z",
         args=("--load-versions=classification.flowers.splits:2020-01-01T00.00.00.000Z",)),
]  # fmt: skip


def project_for(case: Case, root: Path) -> list[str]:
    """A copy of this project under ``root`` with the case's table, catalog and parameters;
    the ``kedro run`` arguments that run it."""
    for item in ("conf", "src"):
        shutil.copytree(PROJECT / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    for local in (root / "conf/local").iterdir():
        if local.name != ".gitkeep":
            shutil.rmtree(local) if local.is_dir() else local.unlink()
    for item in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT / item, root / item)
    models = root / "data/06_models"
    models.mkdir(parents=True)
    converted = PROJECT / "data/06_models/SmolLM2-135M-Instruct"
    if converted.is_dir():  # the embedded model's one-time conversion, shared
        (models / converted.name).symlink_to(converted)
    (root / TABLE).parent.mkdir(parents=True, exist_ok=True)
    if case.text is not None:
        (root / TABLE).write_text(case.text)
    else:
        (case.table or (lambda t: t))(flowers()).to_csv(root / TABLE, index=False)
    task = case.task
    entry = {**ENTRY, **{k: v for k, v in case.entry.items() if k != "omit"}}
    local = root / "conf/local"
    if not case.entry.get("omit"):
        (local / "catalog.yml").write_text(yaml.safe_dump({f"{task}.flowers.raw_table": entry}))
    # the tutorial's way: the catalog entry alone declares the dataset; the demo ones are off
    datasets = {name: None for name in _datasets(root, task)}
    if case.entry.get("omit"):  # declared in the parameters only
        datasets["flowers"] = {"source": {"kind": "file"}, "target": "species"}
    parameters = {task: {"datasets": datasets, "lift": {"training": {"epochs": 1}}}}
    (local / f"parameters_{task}.yml").write_text(yaml.safe_dump(parameters))
    options = [f"--params={task}.{p}" for p in case.params] + list(case.args)
    if not any(o.startswith("--pipelines") for o in options):
        options.insert(0, f"--pipelines={task}")
    return ["run", *options]


def _datasets(root: Path, task: str) -> list[str]:
    parameters = yaml.safe_load((root / f"conf/base/parameters_{task}.yml").read_text())
    return list(parameters[task]["datasets"])


def refusal(output: str) -> list[str]:
    """The refusal's own lines: from the last line that names an error class to the end."""
    lines = output.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if ERROR_LINE.match(line)]
    return lines[starts[-1] :] if starts else lines


def judge(case: Case, code: int, output: str) -> str:
    if code != 0:
        said = refusal(output)
        clear = (
            "Traceback" not in output
            and len(said) <= SCREEN
            and case.says.lower() in "\n".join(said).lower()
        )
        return "refused" if clear else "unclear"
    return "handled" if case.says.lower() in output.lower() else "silent"


def message(case: Case, code: int, output: str) -> str:
    """The refusal's message on one line, without the traceback hint; of a run that ended,
    its first log line naming what ``says`` expects (a warning's start, as Kedro's console
    wraps it)."""
    if code == 0:
        named = [line for line in output.splitlines() if case.says.lower() in line.lower()]
        return " ".join(named[0].split()[1:]) if named else ""
    said = [line.strip() for line in refusal(output) if "LIFT_TRACEBACK" not in line]
    return " ".join(line for line in said if line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bad_inputs.json"))
    parser.add_argument("--only", nargs="*", help="cases whose name contains one of these")
    args = parser.parse_args()
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "120", "HF_HUB_OFFLINE": "1"}
    results = []
    print("| case | the mistake | outcome | lines (refusal) | what it said |")
    print("|---|---|---|---|---|")
    for case in CASES:
        if args.only and not any(part in case.name for part in args.only):
            continue
        with tempfile.TemporaryDirectory(prefix="lift_bad_input_") as folder:
            command = project_for(case, Path(folder))
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "kedro", *command],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
            seconds = time.perf_counter() - start
        output = done.stdout + done.stderr
        outcome = judge(case, done.returncode, output)
        said = message(case, done.returncode, output)
        results.append(
            {
                "case": case.name,
                "mistake": case.what,
                "command": "kedro " + " ".join(command),
                "outcome": outcome,
                "exit_code": done.returncode,
                "lines": len(output.strip().splitlines()),
                "seconds": round(seconds, 1),
                "message": said,
                "refusal_lines": len(refusal(output)) if done.returncode else 0,
                "output": output,
            }
        )
        shown = said.replace("|", "\\|")
        lines = f"{results[-1]['lines']} ({results[-1]['refusal_lines']})"
        print(f"| {case.name} | {case.what} | {outcome} | {lines} | {shown} |", flush=True)
        args.out.write_text(json.dumps(results, indent=1))  # each case kept as it ends
    args.out.write_text(json.dumps(results, indent=1))
    counts = pd.Series([r["outcome"] for r in results]).value_counts().to_dict()
    print(f"\n{len(results)} cases: {counts}")


if __name__ == "__main__":
    main()
