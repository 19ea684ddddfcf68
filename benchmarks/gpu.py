"""The library on a GPU, measured without Kedro (a lent GPU machine carries the library and a
model, not the project's environment): the device's matrix-multiply peaks, the trainer's
tokens per second and model-FLOPs utilization at several batch sizes, and the fitted
estimator's answers per second, on one table as the estimator writes it (scikit-learn's
wine). Each figure is written to ``--out`` as soon as it is measured.

    python -m benchmarks.gpu --model data/06_models/SmolLM2-135M-Instruct --out gpu.json

The model's weights do not change the rates: a model of the embedded model's architecture
with random weights measures the same. On a CPU it measures the same things, slowly
(``--batch-sizes 8 --epochs 2``)."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from sklearn.datasets import load_wine
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from lift import LIFTClassifier
from lift.data.splits import of_split
from lift.method.fine_tuning import encode
from lift.method.language_model import prepare_base_model

from .performance.machine import machine
from .performance.training import training_flops

PACKAGES = ("transformers", "peft", "pandas", "scikit-learn", "numpy")


def versions() -> dict[str, Any]:
    """The versions the library runs with (a lent machine's own, not the project's pins)."""
    found: dict[str, Any] = {name: importlib.metadata.version(name) for name in PACKAGES}
    found["cuda"] = torch.version.cuda
    return found


def epoch_flops(model_folder: str, prompts: pd.DataFrame) -> float:
    """Model FLOPs of one epoch over the training prompts of repeat 0
    (``training_flops``; the architecture alone, on the meta device)."""
    config = AutoConfig.from_pretrained(model_folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    train = of_split(prompts, 0, "train")
    return training_flops(
        model, encode(tokenizer, train["prompt"].tolist(), train["completion"].tolist())
    )


def trainer_rate(
    model_folder: str, X: pd.DataFrame, y: Any, batch_size: int, epochs: int, compiled: bool
) -> dict[str, Any]:
    """The estimator fitted for ``epochs`` at ``batch_size``: the training rate of the epochs
    after the first (which pays the warm-up: kernels chosen, memory first taken), the seconds
    of validating an epoch, and the fitted model's answers on every row."""
    lift = {"training": {"epochs": epochs, "batch_size": batch_size, "compile": compiled}}
    estimator = LIFTClassifier(model_folder, lift=lift, random_state=0)
    started = time.perf_counter()
    estimator.fit(X, y)
    fitted = time.perf_counter()
    estimator.predict(X)
    answered = time.perf_counter() - fitted
    history = estimator.history_
    later = history[1:] or history
    tokens = sum(e["train_tokens"] for e in later)
    seconds = sum(e["train_seconds"] for e in later)
    flops = epoch_flops(model_folder, estimator.prompts_) * len(later)
    return {
        "batch_size": batch_size,
        "compiled": compiled,
        "epochs": len(history),
        "first_epoch_train_seconds": history[0]["train_seconds"],
        "train_seconds_per_epoch": seconds / len(later),
        "train_tokens_per_second": tokens / seconds,
        "model_flops_per_second": flops / seconds,
        "validation_seconds_per_epoch": sum(e["seconds"] - e["train_seconds"] for e in history)
        / len(history),
        "fit_seconds": fitted - started,
        "answered_rows_per_second": len(X) / answered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model folder; default: the embedded model")
    parser.add_argument("--out", type=Path, default=Path("gpu.json"))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--compiled", type=int, nargs="*", default=[], help="batch sizes also run compiled"
    )
    args = parser.parse_args()
    model_folder = args.model or prepare_base_model().path
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    def save() -> None:
        args.out.write_text(json.dumps(results, indent=1))
        print(json.dumps(results["runs"][-1] if results.get("runs") else results), flush=True)

    results["machine"] = machine() | versions()
    save()
    wine = load_wine(as_frame=True)
    X, y = wine.data, wine.target.map(dict(enumerate(wine.target_names))).to_numpy()
    results["runs"] = []
    plan = [(b, False) for b in args.batch_sizes] + [(b, True) for b in args.compiled]
    for batch_size, compiled in plan:
        run = trainer_rate(model_folder, X, y, batch_size, args.epochs, compiled)
        peaks = results["machine"]
        run["train_mfu_bf16"] = run["model_flops_per_second"] / peaks["bf16_peak_flops"]
        results["runs"].append(run)
        save()


if __name__ == "__main__":
    main()
