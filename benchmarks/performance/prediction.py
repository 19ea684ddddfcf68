"""Prediction: class scoring, greedy generation and LIFT's original generation on the default
run's test prompts; for regression, one greedy answer against the median of sampled ones."""

from __future__ import annotations

from typing import Any

import torch
from transformers import GenerationConfig

from lift.config.lift import LiftSettings
from lift.data.splits import of_split
from lift.evaluation.metrics import classification_scores, regression_scores
from lift.method.language_model import BaseModel, select_device
from lift.method.learner import answer_prompts, load_base
from lift.method.tasks import task_for

from .machine import DATASETS, Timer, kedro_run, log, project_catalog
from .report import ORIGINAL_BATCH, ORIGINAL_NEW_TOKENS, REGRESSION_DATASET, REGRESSION_SAMPLES


def original_generation(model: Any, tokenizer: Any, prompts: list[str], seed: int) -> list[str]:
    """LIFT's original generation: prompts in order, batches of 10, left padding, sampling at
    temperature 1, 10 new tokens whatever they are (no stop criterion), adapter unmerged,
    float32."""
    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    config = GenerationConfig(
        max_new_tokens=ORIGINAL_NEW_TOKENS,
        min_new_tokens=ORIGINAL_NEW_TOKENS,
        do_sample=True,
        top_k=None,
        top_p=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    device = next(model.parameters()).device
    texts = []
    with torch.inference_mode():
        for start in range(0, len(prompts), ORIGINAL_BATCH):
            encoded = tokenizer(
                prompts[start : start + ORIGINAL_BATCH], return_tensors="pt", padding=True
            ).to(device)
            output = model.generate(**encoded, generation_config=config)
            texts += tokenizer.batch_decode(
                output[:, encoded.input_ids.shape[1] :], skip_special_tokens=True
            )
    return texts


def prediction_benchmark(catalog: Any) -> dict[str, Any]:
    """Class scoring, greedy generation and LIFT-original generation on the default run's
    test prompts, each with the same (repeat 0) adapter."""

    base = BaseModel.from_dict(catalog.load("base_model"))
    device = select_device()
    modes: dict[str, dict[str, Any]] = {"score": {}, "generate": {}, "original": {}}
    for name in DATASETS:
        prompts = catalog.load(f"classification.{name}.prompts")
        settings = catalog.load(f"classification.{name}.settings").lift
        adapter = catalog.load(f"classification.{name}.adapters")[0]
        schema = catalog.load(f"classification.{name}.schema")
        task = task_for(schema, settings.serialization)
        test, train = of_split(prompts, 0, "test"), of_split(prompts, 0, "train")
        truth = test["target"].to_numpy()
        answer_prompts(base, adapter, test["prompt"].head(4), train, task, settings)  # warm-up
        for mode in ("score", "generate"):
            log(f"prediction, {name}: {mode}")
            with Timer(device) as timer:
                answers = answer_prompts(
                    base,
                    adapter,
                    test["prompt"],
                    train,
                    task,
                    settings.overridden({"generation": {"mode": mode}}),
                )
            scores = classification_scores(truth, answers.predictions, answers.probabilities)
            modes[mode][name] = {"seconds": timer.seconds, "rows": len(test), **scores}
        log(f"prediction, {name}: LIFT-original generation")
        model, tokenizer = load_base(base, LiftSettings(dtype="float32"))  # as LIFT's was
        model = adapter.attach(model)
        with Timer(device) as timer:
            texts = original_generation(model, tokenizer, test["prompt"].tolist(), seed=0)
        answers = task.read([[t] for t in texts], train["target"].to_numpy())
        scores = classification_scores(truth, answers.predictions, answers.probabilities)
        modes["original"][name] = {"seconds": timer.seconds, "rows": len(test), **scores}
    summary: dict[str, Any] = {"modes": modes}
    for mode, by_dataset in modes.items():
        rows = sum(d["rows"] for d in by_dataset.values())
        seconds = sum(d["seconds"] for d in by_dataset.values())
        summary[f"{mode}_rows_per_second"] = rows / seconds
    for mode in ("score", "generate"):
        summary[f"{mode}_speedup"] = (
            summary[f"{mode}_rows_per_second"] / summary["original_rows_per_second"]
        )
    return summary


def regression_benchmark() -> dict[str, Any]:
    """Greedy against the median of k samples, with the adapter of a quadratic_p1 run."""

    log(
        f"regression: kedro run --pipelines=regression --namespaces=regression.{REGRESSION_DATASET}"
    )
    kedro_run("--pipelines=regression", f"--namespaces=regression.{REGRESSION_DATASET}")
    catalog = project_catalog()
    prefix = f"regression.{REGRESSION_DATASET}"
    base = BaseModel.from_dict(catalog.load("base_model"))
    settings = catalog.load(f"{prefix}.settings").lift
    prompts = catalog.load(f"{prefix}.prompts")
    adapter = catalog.load(f"{prefix}.adapters")[0]
    task = task_for(catalog.load(f"{prefix}.schema"), settings.serialization)
    test, train = of_split(prompts, 0, "test"), of_split(prompts, 0, "train")
    results = {}
    for label, samples in (("greedy", 1), (f"median_of_{REGRESSION_SAMPLES}", REGRESSION_SAMPLES)):
        log(f"regression: {label}")
        with Timer(select_device()) as timer:
            answers = answer_prompts(
                base,
                adapter,
                test["prompt"],
                train,
                task,
                settings.overridden({"generation": {"samples": samples}}),
            )
        scores = regression_scores(test["target"].to_numpy(), answers.predictions, answers.valid)
        results[label] = {"seconds": timer.seconds, "rows": len(test), **scores}
    return results
