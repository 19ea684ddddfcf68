"""Many adapters at once: N fine-tuning jobs trained together on one base model against the
same jobs one after another."""

from __future__ import annotations

from typing import Any

from lift.data.splits import of_split
from lift.method.fine_tuning import (
    LOSS,
    Job,
    encode,
    fitting_slots,
    free_memory,
    train_adapters,
)
from lift.method.language_model import BaseModel, precision_used
from lift.method.learner import load_base, precision

from .machine import DATASETS, Timer, log
from .report import ENGINE_JOBS
from .training import training_flops


def engine_jobs(catalog: Any, count: int, examples: int | None) -> tuple[Any, list[Job]]:
    """``count`` fine-tuning jobs on the default run's training prompts, the datasets in turn,
    each its own seed (its own LoRA initialisation and data order), one epoch of ``examples``
    prompts (None: all), eager, the run's settings otherwise; and those settings. Eager: in a
    process that compiled the blocks (the training section), `compile: auto` would compile
    here too, and every new number of adapters in a step is a new graph: the compilation, not
    the training, would be timed."""
    jobs, settings = [], None
    for i in range(count):
        name = DATASETS[i % len(DATASETS)]
        prompts = catalog.load(f"classification.{name}.prompts")
        settings = catalog.load(f"classification.{name}.settings").lift
        train = of_split(prompts, 0, "train").head(examples or len(prompts))
        validation = of_split(prompts, 0, "validation").head(8)
        training = settings.overridden(
            {"training": {"epochs": 1, "seed": i, "compile": False}}
        ).training
        jobs.append(
            Job(
                (train["prompt"].tolist(), train["completion"].tolist()),
                (validation["prompt"].tolist(), validation["completion"].tolist()),
                lambda _: {},
                training,
                select_on=LOSS,
                description=f"bench: {name} job {i}",
            )
        )
    return settings, jobs


def engine_benchmark(catalog: Any, peaks: dict[str, Any], examples: int | None) -> dict[str, Any]:
    """N = 1, 8 and 27 jobs trained together (``train_adapters``, one step for all) against
    the same jobs one after another (each alone, as ``fine_tuning.group: dataset`` trains
    them): tokens/s, model-FLOPs utilization and the ratio."""
    base = BaseModel.from_dict(catalog.load("base_model"))
    settings, warm_up = engine_jobs(catalog, 2, 3 * 8)
    model, tokenizer = load_base(base, settings)
    device = next(model.parameters()).device
    used = precision_used(device, settings.dtype)
    peak = peaks["bf16_peak_flops" if used["products"] == "bfloat16" else "fp32_peak_flops"]
    results: dict[str, Any] = {"precision": used, "examples_per_job": examples, "jobs": {}}
    with precision(settings):
        train_adapters(model, tokenizer, warm_up, settings.lora)
        for count in ENGINE_JOBS:
            _, jobs = engine_jobs(catalog, count, examples)
            encoded = [
                encode(tokenizer, *part) for job in jobs for part in (job.train, job.validation)
            ]
            flops = sum(training_flops(model, e) for e in encoded[::2])
            # the slots train_adapters chooses from the memory free now
            longest = max(
                len(e.prompt_ids) + len(e.completion_ids) for part in encoded for e in part
            )
            batch = max(job.training.batch_size for job in jobs)
            slots = fitting_slots(model, settings.lora, longest, batch, count, free_memory(device))
            log(f"many adapters: {count} jobs together, {slots} at once")
            with Timer(device) as together:
                adapters = train_adapters(model, tokenizer, jobs, settings.lora)
            tokens = sum(a.history[0]["train_tokens"] for a in adapters)
            log(f"many adapters: the same {count} jobs one after another")
            with Timer(device) as alone:
                for job in jobs:
                    train_adapters(model, tokenizer, [job], settings.lora)
            results["jobs"][str(count)] = {
                "tokens": tokens,
                "slots": slots,
                "together_seconds": together.seconds,
                "alone_seconds": alone.seconds,
                "together_tokens_per_second": tokens / together.seconds,
                "alone_tokens_per_second": tokens / alone.seconds,
                "engine_speedup": alone.seconds / together.seconds,
                "engine_mfu": flops / together.seconds / peak,
                "alone_mfu": flops / alone.seconds / peak,
            }
    return results
