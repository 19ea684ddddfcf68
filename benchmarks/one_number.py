"""What the numbers a prompt writes tell on their own: for each classification table of an
environment's suite (conf/realdata by default), the 5-fold cross-validated accuracy of a
logistic regression, of the best one-number rule (a depth-1 tree) and of a depth-3 tree, on
the numbers as each encoding writes them (fitted on each fold's training rows, rounded as
written; text features left out). No language model: seconds.

    .venv/bin/python benchmarks/one_number.py --encodings standardized principal

A table whose class no single written number tells, and a shallow tree cannot find, while a
linear model can (crabs, standardized), is one where the 135M model also stays far from the
linear model; the encoding under which a shallow tree reads it (crabs, principal) is the one
to try (docs/real-data.md#principal-components)."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from recipe import suite, table_of  # beside this file
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from lift.config.lift import SerializationSettings
from lift.method.encoding import fit_encoding

MODELS = {
    "logistic": lambda: LogisticRegression(max_iter=5000),
    "one number": lambda: DecisionTreeClassifier(max_depth=1, random_state=0),
    "depth-3 tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
}


def written_numbers(features: pd.DataFrame, train: np.ndarray, encoding: str) -> np.ndarray:
    """Every row's numeric features as ``encoding`` writes them, fitted on ``train`` rows."""
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    schema = {"task": "classification", "features": numeric, "numeric_features": numeric}
    fitted = fit_encoding(features, schema, train, SerializationSettings(encoding=encoding))
    rows = features[numeric].itertuples(index=False, name=None)
    return np.array([[float(text) for text in fitted.write_row(numeric, row)] for row in rows])


def accuracies(features: pd.DataFrame, classes: np.ndarray, encoding: str) -> dict[str, float]:
    """Each model's mean accuracy over the five folds, on the written numbers."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(features, classes)
    right = {name: [] for name in MODELS}
    for train, test in folds:
        numbers = written_numbers(features, train, encoding)
        for name, model in MODELS.items():
            fitted = model().fit(numbers[train], classes[train])
            right[name].append(fitted.score(numbers[test], classes[test]))
    return {name: float(np.mean(scores)) for name, scores in right.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="realdata")
    parser.add_argument("--tables", nargs="+", help="default: every table of the suite")
    parser.add_argument("--encodings", nargs="+", default=["standardized", "principal"])
    args = parser.parse_args()
    tables, _ = suite(args.env, "classification")
    print("| table | encoding | " + " | ".join(MODELS) + " |")
    print("|---|---|" + "---|" * len(MODELS))
    for name in args.tables or tables:
        features, classes = table_of(name, tables[name], "classification")
        for encoding in args.encodings:
            scores = accuracies(features, classes.astype(str), encoding)
            print(
                f"| {name} | {encoding} | " + " | ".join(f"{s:.3f}" for s in scores.values()) + " |"
            )


if __name__ == "__main__":
    main()
