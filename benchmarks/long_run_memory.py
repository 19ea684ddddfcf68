"""Memory over a long run: the held-in real tables (conf/realdata) fine-tuned one after another
in one process with the embedded model, as a run of many datasets (or a notebook fitting one
table after another) does; the resident memory after each adapter, to see that nothing of an
adapter (its weights, optimizer state, cached prompts or answers) is kept once it is done.

    .venv/bin/python benchmarks/long_run_memory.py --epochs 1 --rows 150 --out memory.json

Writes each table's resident memory after its fit and prediction, the last over the first, and
each table's second round over its first (what a leak would make grow)."""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import yaml

from lift import LIFTClassifier
from lift.data.acquisition import acquire

SUITE = Path(__file__).resolve().parents[1] / "conf/realdata/parameters_classification.yml"


def resident_mb() -> float:
    """This process's resident memory (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the suite")
    parser.add_argument("--rows", type=int, default=None, help="at most this many rows a table")
    parser.add_argument("--out", type=Path, default=Path("long_run_memory.json"))
    args = parser.parse_args()
    datasets = yaml.safe_load(SUITE.read_text())["classification"]["datasets"]
    tables = {}
    for name, entry in datasets.items():
        if not entry:
            continue
        table, info = acquire(name, entry["source"], "classification", entry.get("target"))
        table = table.drop(columns=entry.get("drop_columns", []))
        table = table.dropna(axis=1)  # the suite's preprocessing drops columns with gaps
        target = info["target"]
        if args.rows and len(table) > args.rows:
            table = table.sample(args.rows, random_state=0)
        tables[name] = (table.drop(columns=[target]), table[target].astype(str), entry.get("lift"))
    measured = []
    start = time.perf_counter()
    for round_ in range(args.rounds):
        for name, (features, target, lift) in tables.items():
            model = LIFTClassifier(lift=lift, epochs=args.epochs).fit(features, target)
            model.predict(features.head(50))
            del model
            gc.collect()
            measured.append({"round": round_, "dataset": name, "resident_mb": resident_mb()})
            print(measured[-1], flush=True)
    first, last = measured[0]["resident_mb"], measured[-1]["resident_mb"]
    result = {
        "epochs": args.epochs,
        "adapters": len(measured),
        "after_each": measured,
        "first_mb": first,
        "last_mb": last,
        "last_over_first": last / first,
        "largest_mb": max(m["resident_mb"] for m in measured),
        "second_round_over_first": {
            m["dataset"]: m["resident_mb"] / measured[i % len(tables)]["resident_mb"]
            for i, m in enumerate(measured)
            if m["round"] == 1
        },
        "seconds": time.perf_counter() - start,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(
        f"resident memory: {first:.0f} MB after the first adapter, {last:.0f} MB after the "
        f"last ({len(measured)} adapters): {last / first:.3f}"
    )


if __name__ == "__main__":
    main()
