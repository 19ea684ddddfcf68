"""Images as sentences (the LIFT paper's MNIST experiments, arXiv:2206.06565).

A table of images holds one image per row, its pixels as the features, read row by row (as
scikit-learn's ``digits`` and OpenML's MNIST are). The ``image`` template writes an image as
``Given image with pixels 0 0 12 ... What is this digit?###``: the centre ``crop`` of the
image (the paper kept MNIST's central 18 x 18), each ``downsample`` x ``downsample`` block as
its mean, the intensities as whole numbers (``levels`` of them, or as they are), and, for the
paper's permuted variant, one fixed permutation of the pixels for every image.

The robustness study perturbs test images on a 0-1 scale (a pixel over ``intensity``):
Gaussian noise, or the fast gradient sign method (FGSM) of a small convolutional network
trained on the same images, whose perturbations transfer to the other models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from lift.config.errors import DatasetInputError
from lift.config.lift import ImageSettings

PROMPT_OPENING = "Given image with pixels"


def image_shape(dataset: str, pixels: int, height: int | None = None) -> tuple[int, int]:
    """(height, width) of the images whose rows hold ``pixels`` values: ``height`` rows, or a
    square. Raises ``DatasetInputError`` naming ``dataset`` if the pixels do not fit."""
    if height is None:
        side = math.isqrt(pixels)
        if side * side != pixels:
            raise DatasetInputError(
                f"Dataset '{dataset}': its {pixels} features are not the pixels of a square "
                "image; set `lift.serialization.image.height` to the image's rows of pixels "
                "(or drop the columns that are not pixels with `drop_columns`)."
            )
        return side, side
    if pixels % height:
        raise DatasetInputError(
            f"Dataset '{dataset}': its {pixels} features do not make images of "
            f"`lift.serialization.image.height` = {height} rows; give a divisor of {pixels}."
        )
    return height, pixels // height


def as_images(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rows of pixels (n, height * width) as images (n, height, width)."""
    return np.asarray(values, dtype=float).reshape(len(values), *shape)


def crop_box(dataset: str, shape: tuple[int, int], size: int | None) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the centre crop of side ``size`` (None: the whole
    image); the spare pixels of an odd margin go to the bottom and right."""
    height, width = shape
    if size is None:
        return 0, 0, height, width
    if size > min(shape):
        raise DatasetInputError(
            f"Dataset '{dataset}': `lift.serialization.image.crop` is {size}, larger than its "
            f"{height} x {width} images; give at most {min(shape)} (or null for the whole image)."
        )
    return (height - size) // 2, (width - size) // 2, size, size


def centre_crop(images: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``images`` (n, h, w) inside ``box`` (``crop_box``)."""
    top, left, height, width = box
    return images[:, top : top + height, left : left + width]


def uncrop(crops: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """``crops`` put back at their place in images of ``shape``, zero elsewhere: the inverse of
    ``centre_crop`` on the pixels it keeps."""
    top, left, height, width = box
    images = np.zeros((len(crops), *shape), dtype=np.asarray(crops).dtype)
    images[:, top : top + height, left : left + width] = crops
    return images


def downsampled(dataset: str, images: np.ndarray, factor: int) -> np.ndarray:
    """``images`` (n, h, w) with each ``factor`` x ``factor`` block replaced by its mean."""
    if factor == 1:
        return images
    n, height, width = images.shape
    if height % factor or width % factor:
        raise DatasetInputError(
            f"Dataset '{dataset}': `lift.serialization.image.downsample` is {factor}, which "
            f"does not divide its {height} x {width} (cropped) images; choose a divisor of both."
        )
    blocks = images.reshape(n, height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(2, 4))


def quantized(images: np.ndarray, levels: int | None, intensity: float | None) -> np.ndarray:
    """Pixel values as whole numbers: ``levels`` steps from 0 to ``intensity`` (0 ..
    levels - 1, clipped), or rounded as they are (``levels`` None)."""
    if levels is None:
        return np.rint(images).astype(int)
    if intensity is None:
        raise ValueError("quantizing to levels needs the intensity of the brightest pixel")
    steps = np.rint(np.asarray(images) / intensity * (levels - 1))
    return np.clip(steps, 0, levels - 1).astype(int)


def pixel_order(count: int, seed: int) -> np.ndarray:
    """The fixed permutation of ``count`` written pixels drawn with ``seed``."""
    return np.random.default_rng(seed).permutation(count)


def permuted(pixels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows of pixels (n, p) in ``order`` (pixel ``order[i]`` written i-th)."""
    return np.asarray(pixels)[:, order]


def unpermuted(pixels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The inverse of ``permuted``: rows of pixels back in reading order."""
    restored = np.empty_like(pixels)
    restored[:, order] = pixels
    return restored


def brightest(values: np.ndarray, settings: ImageSettings) -> float:
    """The value of the brightest pixel: ``settings.intensity``, else the largest of
    ``values`` (the perturbations' 0-1 scale)."""
    if settings.intensity is not None:
        return float(settings.intensity)
    largest = float(np.max(values)) if np.size(values) else 0.0
    return largest if largest > 0 else 1.0


def written_pixels(dataset: str, values: np.ndarray, settings: ImageSettings) -> np.ndarray:
    """The whole numbers the ``image`` template writes for each row of pixels ``values``
    (n, p): cropped, down-sampled, quantized and permuted as ``settings`` say, as (n, q)."""
    shape = image_shape(dataset, np.shape(values)[1], settings.height)
    images = centre_crop(as_images(values, shape), crop_box(dataset, shape, settings.crop))
    images = downsampled(dataset, images, settings.downsample)
    pixels = quantized(images, settings.levels, settings.intensity).reshape(len(images), -1)
    if settings.permute:
        pixels = permuted(pixels, pixel_order(pixels.shape[1], settings.permutation_seed))
    return pixels


def image_prompts(pixels: np.ndarray, question: str, prompt_suffix: str) -> list[str]:
    """The prompts of rows of written pixels (``written_pixels``)."""
    return [
        f"{PROMPT_OPENING} {' '.join(map(str, row))} {question}{prompt_suffix}" for row in pixels
    ]


def check_pixels(dataset: str, table: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The pixel values of every row; a feature that is not numeric raises
    ``DatasetInputError`` naming it."""
    text = [f for f in features if not pd.api.types.is_numeric_dtype(table[f])]
    if text:
        raise DatasetInputError(
            f"Dataset '{dataset}': the `image` template writes pixels, and the columns {text} "
            "are not numbers; drop them with `drop_columns` or choose another template."
        )
    return table[list(features)].to_numpy(dtype=float)


# The robustness study's perturbations, on a 0-1 scale


def with_gaussian_noise(images: np.ndarray, sd: float, seed: int) -> np.ndarray:
    """``images`` (0-1) with Gaussian noise of standard deviation ``sd`` added, drawn with
    ``seed``, clipped to 0-1."""
    noise = np.random.default_rng(seed).normal(0.0, sd, size=np.shape(images))
    return np.clip(np.asarray(images, dtype=float) + noise, 0.0, 1.0)


class LeNet(nn.Module):
    """A LeNet-5-style network (two convolutions with pooling, two dense layers) for
    ``shape`` images of ``classes`` classes: the paper's source of transferred attacks."""

    def __init__(self, shape: tuple[int, int], classes: int) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(6, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(),
        )
        with torch.no_grad():
            width = self.features(torch.zeros(1, 1, *shape)).shape[1]
        self.classifier = nn.Sequential(nn.Linear(width, 84), nn.ReLU(), nn.Linear(84, classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images.reshape(-1, 1, *self.shape)))


def fit_lenet(
    images: np.ndarray,
    labels: np.ndarray,
    classes: int,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> LeNet:
    """A ``LeNet`` fitted on ``images`` (n, h, w; 0-1) and their ``labels`` (0 .. classes - 1)
    with Adam, seeded; returned in evaluation mode."""
    torch.manual_seed(seed)
    model = LeNet(images.shape[1:], classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def fgsm(model: nn.Module, images: np.ndarray, labels: np.ndarray, epsilon: float) -> np.ndarray:
    """``images`` (0-1) moved by ``epsilon`` along the sign of the gradient of ``model``'s
    loss on their true ``labels`` (the fast gradient sign method), clipped to 0-1."""
    x = torch.as_tensor(images, dtype=torch.float32).requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), torch.as_tensor(labels, dtype=torch.long))
    (gradient,) = torch.autograd.grad(loss, x)
    moved = x.detach() + epsilon * gradient.sign()
    return moved.clamp(0.0, 1.0).numpy().astype(float)


@dataclass
class Attacker:
    """The network whose gradients perturb the test images (``model``, on ``shape`` images
    scaled by ``intensity``, the value of the brightest pixel), and the rows it learnt from.
    It answers as a scikit-learn classifier does (``predict``, ``predict_proba``,
    ``classes_``), so that it is scored as the baselines are."""

    model: LeNet
    shape: tuple[int, int]
    intensity: float
    trained_on: int

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.model.classifier[-1].out_features)

    def scaled(self, pixels: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Rows of pixels in the table's units as images on the 0-1 scale."""
        return as_images(pixels, self.shape) / self.intensity

    def predict_proba(self, pixels: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Its class probabilities for rows of pixels (the table's units)."""
        with torch.no_grad():
            logits = self.model(torch.as_tensor(self.scaled(pixels), dtype=torch.float32))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, pixels: np.ndarray | pd.DataFrame) -> np.ndarray:
        """The classes the network gives rows of pixels (the table's units)."""
        return self.predict_proba(pixels).argmax(axis=1)


def fit_attacker(
    dataset: str,
    pixels: np.ndarray,
    labels: np.ndarray,
    classes: int,
    settings: ImageSettings,
    epochs: int = 20,
    seed: int = 0,
) -> Attacker:
    """A ``LeNet`` fitted on rows of ``pixels`` (the table's units; their scale
    ``settings.intensity`` or their largest value) and ``labels``: the source of the
    transferred attacks."""
    shape = image_shape(dataset, np.shape(pixels)[1], settings.height)
    intensity = brightest(pixels, settings)
    model = fit_lenet(as_images(pixels, shape) / intensity, labels, classes, epochs, seed=seed)
    return Attacker(model, shape, intensity, len(labels))


Perturbation = Literal["gaussian", "fgsm"]


def perturbed(
    attacker: Attacker,
    pixels: np.ndarray,
    labels: np.ndarray,
    perturbation: Perturbation,
    level: float,
    seed: int = 0,
) -> np.ndarray:
    """Rows of ``pixels`` (the table's units) perturbed on the 0-1 scale of ``attacker``:
    Gaussian noise of standard deviation ``level`` (drawn with ``seed``), or FGSM with
    ``epsilon`` = ``level`` against the attacker's loss on the true ``labels``; returned in
    the table's units."""
    images = attacker.scaled(pixels)
    if perturbation == "gaussian":
        moved = with_gaussian_noise(images, level, seed)
    else:
        moved = fgsm(attacker.model, images, labels, level)
    return moved.reshape(len(moved), -1) * attacker.intensity
