"""LIFT on scikit-learn's 8 x 8 digits (1,797 images, all 64 pixels, the paper's image template)
with the embedded model on this machine: the protocol's test split (stratified 20 %, seed 0),
the rest trained by ``LIFTClassifier`` (20 % of it held out to choose the epoch).

    .venv/bin/python benchmarks/digits.py --learning-rate 1e-3 --epochs 8 --out digits.json

Prints each epoch's validation accuracy and writes the settings, the history, the test
accuracy and the wall time as JSON. The paper's LIFT/GPT-J reads UCI optdigits (the same
images) at 98.22 %."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from lift import LIFTClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--crop", type=int, default=None, help="None: all 8 x 8 pixels")
    parser.add_argument(
        "--levels", type=int, default=None, help="pixels in levels 0..levels-1; None: 0-16"
    )
    parser.add_argument("--rows", type=int, default=None, help="a stratified sample of the 1,797")
    parser.add_argument("--out", type=Path, default=Path("digits.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    X, y = load_digits(return_X_y=True)
    if args.rows:
        X, _, y, _ = train_test_split(X, y, train_size=args.rows, stratify=y, random_state=0)
    X_fit, X_test, y_fit, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    lift = {
        "serialization": {
            "template": "image",
            "image": {"crop": args.crop, "levels": args.levels, "intensity": 16},
        },
        "training": {"patience": args.patience},
    }
    model = LIFTClassifier(
        lift=lift,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        lora_rank=args.rank,
    )
    start = time.perf_counter()
    model.fit(X_fit, y_fit)
    fitted = time.perf_counter()
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    done = time.perf_counter()
    for epoch in model.history_:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in epoch.items()})
    result = {
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "rows": {"train_and_validation": len(y_fit), "test": len(y_test)},
        "history": model.history_,
        "best_epoch": model.adapter_.best_epoch,
        "status": model.adapter_.status,
        "test_accuracy": accuracy,
        "fit_seconds": fitted - start,
        "predict_seconds": done - fitted,
    }
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(
        f"test accuracy {accuracy:.4f}; fit {fitted - start:.0f} s, predict {done - fitted:.0f} s"
    )


if __name__ == "__main__":
    main()
