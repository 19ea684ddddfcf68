"""Full fine-tuning of the embedded model against LoRA, on the recipe study's tables and splits.

Every weight of the 135M model trained (float32 weights, AdamW's moments in float32, products
in bfloat16 under autocast where the CPU has native bfloat16), with everything else as
`benchmarks/recipe.py` fits LIFT: the table's prompts as `LIFTClassifier` writes them (the
suite's and the table's `lift` settings), the paper's protocol (test rows 20 %, seed 0; repeat r
holds out 20 % of the rest with seed r), the learning-rate schedule, batches, clipping and
epoch budget of `lift.training`, the epoch kept by validation, answers as the settings say.

    .venv/bin/python benchmarks/recipe.py --full --tables crabs glass --repeats 0 1 \\
        --recipe full_lr1e-4='{"training": {"learning_rate": 1e-4}}' --out recipe.jsonl

Each fit is a line of `benchmarks/recipe.py`'s results, beside the LoRA recipes. The library
trains LoRA adapters only: this measures whether training every weight would be worth it."""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from lift import LIFTClassifier
from lift.config.lift import ModelSettings
from lift.data.preprocessing import prepare_table
from lift.method import learner
from lift.method.batching import length_grouped
from lift.method.encoding import fit_encodings
from lift.method.fine_tuning import (
    LOSS,
    collate,
    completion_loss,
    encode,
    planned_epochs,
    preference,
    schedule,
)
from lift.method.language_model import cpu_has_bf16, prepare_base_model
from lift.method.serialization import serialize
from lift.method.tasks import task_for

TARGET = "target"


def prompts_of(estimator: LIFTClassifier, X_fit, y_fit, X_test, y_test) -> tuple:
    """The estimator's settings, task and prompts of the fit rows (train / validation as its
    ``fit`` splits them) and of the test rows, written with the encodings fitted on train."""
    settings = estimator.settings()
    X = pd.concat([X_fit, X_test], ignore_index=True)
    table = estimator._table(X, np.concatenate([y_fit, y_test]))
    prepared, schema = prepare_table(
        "full", table, TARGET, "classification", max_categories=len(table)
    )
    fit_part = estimator._splits(prepared[TARGET].to_numpy()[: len(X_fit)])
    test_rows = np.arange(len(X_fit), len(X))
    splits = pd.concat(
        [fit_part, pd.DataFrame({"row": test_rows, "repeat": 0, "split": "test"})],
        ignore_index=True,
    )
    encodings = fit_encodings(
        prepared, schema, splits, settings.serialization, settings.encodings()
    )
    prompts = serialize(prepared, schema, splits, settings.serialization, encodings, "full")
    return settings, task_for(schema, settings.serialization), prompts


def fine_tune(settings, task, prompts: pd.DataFrame, base) -> dict:
    """Every weight trained; the epoch of the best validation score kept; its test score."""
    training = settings.training
    if settings.generation.mode != "score" or training.sampling != "shuffled" or training.patience:
        raise ValueError(
            "full fine-tuning is measured with classes scored, shuffled epochs and no patience "
            "(lift.generation.mode, lift.training.sampling, lift.training.patience)"
        )
    torch.manual_seed(training.seed)
    model, tokenizer = learner.load_base(base, settings.overridden({"dtype": "float32"}))
    model.requires_grad_(True)
    model.train()
    part = {name: prompts[prompts["split"] == name] for name in ("train", "validation", "test")}
    examples = encode(tokenizer, part["train"]["prompt"], part["train"]["completion"])
    validate = learner.validator(tokenizer, part["validation"], part["train"], task, settings)
    per_epoch = math.ceil(len(examples) / training.batch_size)
    epochs = planned_epochs(training, per_epoch)
    total = epochs * per_epoch
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule(training, step, total)
    )
    products = torch.autocast("cpu", torch.bfloat16, enabled=cpu_has_bf16())
    generator = torch.Generator().manual_seed(training.seed)
    lengths = [len(e.prompt_ids) + len(e.completion_ids) for e in examples]
    pad = tokenizer.pad_token_id
    history, best = [], None
    started = time.perf_counter()
    progress = tqdm(total=total, desc="full fine-tuning", leave=False)
    for epoch in range(1, epochs + 1):
        loss_sum, tokens = 0.0, 0
        for indices in length_grouped(lengths, training.batch_size, generator):
            with products:
                loss, count = completion_loss(model, collate([examples[i] for i in indices], pad))
            (loss / count).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), training.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum, tokens = loss_sum + float(loss.detach()), tokens + count
            progress.update()
        model.eval()
        with torch.no_grad(), products:
            scores = validate(model)
        validation_loss = scores.pop(LOSS)
        model.train()
        history.append(
            {
                "epoch": epoch,
                "train_loss": loss_sum / max(tokens, 1),
                "validation_loss": validation_loss,
                **{f"validation_{k}": v for k, v in scores.items()},
                "seconds": time.perf_counter() - started,
            }
        )
        key = preference(scores[task.select_on], validation_loss, True)
        if best is None or key > best[0]:
            best = (key, copy.deepcopy(model.state_dict()), epoch)
        progress.set_postfix(validation=f"{scores[task.select_on]:.3f}")
    progress.close()
    fitted = time.perf_counter()
    model.load_state_dict(best[1])
    model.eval()
    with torch.no_grad(), products:
        test = learner.validator(tokenizer, part["test"], part["train"], task, settings)(model)
    return {
        "history": history,
        "best_epoch": best[2],
        "status": "full fine-tuning",
        "test_accuracy": test["accuracy"],
        "test_rows": len(part["test"]),
        "fit_seconds": round(fitted - started, 1),
        "predict_seconds": round(time.perf_counter() - fitted, 1),
    }


def fit(lift: dict, repeat: int, X_fit, X_test, y_fit, y_test) -> dict:
    """Every weight of the embedded model fine-tuned with ``lift`` settings, seeded with
    ``repeat`` (its validation rows drawn so too), and its test accuracy."""
    estimator = LIFTClassifier(lift=lift, random_state=repeat)
    settings, task, prompts = prompts_of(estimator, X_fit, y_fit, X_test, y_test)
    return fine_tune(settings, task, prompts, prepare_base_model(ModelSettings(name="embedded")))
