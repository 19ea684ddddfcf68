"""How the epoch is chosen, scored afterwards: ways of choosing (or combining) the epochs of
a fine-tuning, each scored on the test rows, from fits that answered the test rows at every
epoch (``benchmarks/recipe.py --epochs-answered``; classification).

    .venv/bin/python benchmarks/epoch_choice.py docs/results/epoch-choice.jsonl

Each way sees what a run sees (the validation rows' scores, accuracy and loss per epoch)
except ``hindsight``, the best test accuracy of any epoch: what a perfect choice would have
scored, the room the choosing leaves.

- ``validation accuracy``: the library's choice (the best validation accuracy, ties to the
  lower validation loss), the ``best_epoch`` of the run;
- ``validation loss``: the lowest validation loss;
- ``last``: the last epoch;
- ``prior corrected``: the library's epoch, its scores with the class prior taken out as the
  pipeline's ``lift_corrected`` does (``lift.method.prior_correction``, fitted on the validation
  rows);
- ``mean of best k``: the class probabilities averaged over the k epochs of best validation
  accuracy (ties to the lower loss), the likeliest class (an ensemble of snapshots);
- ``mean of last half``: the class probabilities averaged over the second half of the epochs.

A second table averages the repeats of each table instead: the class probabilities of every
repeat's adapter (its kept epoch, or its last), an ensemble of adapters trained on different
draws of the training rows, against one adapter.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lift.method.fine_tuning import preference
from lift.method.prior_correction import fit_prior_correction, softmax

Fit = dict  # one line of the recipe study with "epochs_answered"


def ranked(fit: Fit) -> list[int]:
    """The epochs (0-based) from best to worst as the library ranks them
    (``fine_tuning.preference``: validation accuracy, then the lower validation loss), then the
    earlier epoch (the trainer keeps the first of equals)."""
    history = fit["history"]
    return sorted(
        range(len(history)),
        key=lambda e: (
            preference(history[e]["validation_accuracy"], history[e]["validation_loss"], True),
            -e,
        ),
        reverse=True,
    )


def probabilities(fit: Fit, epoch: int) -> np.ndarray:
    """The class probabilities of ``epoch``'s adapter on the test rows."""
    return softmax(np.asarray(fit["epochs_answered"]["epochs"][epoch]["test"]))


def test_accuracy(fit: Fit, epochs: list[int]) -> float:
    """Accuracy on the test rows of the class probabilities averaged over ``epochs``."""
    mean = np.mean([probabilities(fit, e) for e in epochs], axis=0)
    return float(np.mean(mean.argmax(axis=1) == np.asarray(fit["epochs_answered"]["test_targets"])))


def corrected(fit: Fit, epoch: int) -> float:
    """Test accuracy of ``epoch`` with the prior correction fitted on its validation scores."""
    answered = fit["epochs_answered"]
    scores = answered["epochs"][epoch]
    correction = fit_prior_correction(
        np.asarray(scores["validation"]), np.asarray(answered["validation_targets"])
    )
    labels = correction.apply(np.asarray(scores["test"])).argmax(axis=1)
    return float(np.mean(labels == np.asarray(answered["test_targets"])))


WAYS: dict[str, Callable[[Fit], float]] = {
    "validation accuracy": lambda fit: test_accuracy(fit, ranked(fit)[:1]),
    "validation loss": lambda fit: test_accuracy(
        fit, [min(range(len(fit["history"])), key=lambda e: fit["history"][e]["validation_loss"])]
    ),
    "last": lambda fit: test_accuracy(fit, [len(fit["history"]) - 1]),
    "prior corrected": lambda fit: corrected(fit, ranked(fit)[0]),
    "mean of best 3": lambda fit: test_accuracy(fit, ranked(fit)[:3]),
    "mean of best 5": lambda fit: test_accuracy(fit, ranked(fit)[:5]),
    "mean of last half": lambda fit: test_accuracy(
        fit, list(range(len(fit["history"]) // 2, len(fit["history"])))
    ),
    "hindsight": lambda fit: max(e["test_accuracy"] for e in fit["history"]),
}


def table(fits: list[Fit]) -> str:
    """Test accuracy (%) of each way on each fit and their mean, as a Markdown table."""
    rows = ["| table | repeat | " + " | ".join(WAYS) + " |", "|---|---|" + "---|" * len(WAYS)]
    scores = []
    for fit in fits:
        if fit["best_epoch"] != ranked(fit)[0] + 1:
            raise ValueError(
                f"{fit['table']} repeat {fit['repeat']}: the run kept epoch {fit['best_epoch']}, "
                f"the ranking here says {ranked(fit)[0] + 1}: they must agree (fit with "
                "'training.keep: best', the default, in the recipe)"
            )
        scores.append([100 * way(fit) for way in WAYS.values()])
        cells = " | ".join(f"{s:.2f}" for s in scores[-1])
        rows.append(f"| {fit['table']} | {fit['repeat']} | {cells} |")
    mean = " | ".join(f"**{s:.2f}**" for s in np.mean(scores, axis=0))
    rows.append(f"| mean of {len(fits)} | | {mean} |")
    return "\n".join(rows)


def repeats_averaged(fits: list[Fit]) -> str:
    """Per table, the adapter of each repeat (its kept epoch, then its last) against the class
    probabilities of all the table's repeats averaged: an ensemble of adapters, each trained
    on its own draw of training and validation rows, answering the same test rows. Test
    accuracy %, as a Markdown table."""
    rows = [
        "| table | repeats | kept epoch: mean of the repeats | averaged | "
        "last epoch: mean of the repeats | averaged |",
        "|---|---|---|---|---|---|",
    ]
    tables: dict[str, list[Fit]] = {}
    for fit in fits:
        tables.setdefault(fit["table"], []).append(fit)
    means = []
    for name, found in tables.items():
        targets = np.asarray(found[0]["epochs_answered"]["test_targets"])
        cells = []
        for epoch_of in (lambda f: ranked(f)[0], lambda f: len(f["history"]) - 1):
            each = [probabilities(f, epoch_of(f)) for f in found]
            single = np.mean([np.mean(p.argmax(axis=1) == targets) for p in each])
            averaged = np.mean(np.mean(each, axis=0).argmax(axis=1) == targets)
            cells += [100 * single, 100 * averaged]
        means.append(cells)
        rows.append(f"| {name} | {len(found)} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    mean = " | ".join(f"**{c:.2f}**" for c in np.mean(means, axis=0))
    rows.append(f"| mean of {len(tables)} | | {mean} |")
    return "\n".join(rows)


def fits_in(path: Path, recipe: str | None = None) -> list[Fit]:
    """The classification fits of ``path`` (of ``recipe``, if given) that answered the test
    rows each epoch."""
    fits = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    fits = [
        f
        for f in fits
        if "epochs_answered" in f and "test_accuracy" in f and recipe in (None, f.get("recipe"))
    ]
    if not fits:
        raise ValueError(
            f"{path}: no classification fit with its epochs answered (recipe.py --epochs-answered)"
        )
    return fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="lines of recipe.py --epochs-answered")
    parser.add_argument("--recipe", help="only the fits of this recipe")
    args = parser.parse_args()
    fits = fits_in(args.results, args.recipe)
    print(table(fits))
    print()
    print(repeats_averaged(fits))


if __name__ == "__main__":
    main()
