"""Images as sentences: the crop, down-sampling, levels and permutation of the image template,
a class-balanced sample of a large table, and the image_robustness study's perturbations."""

import numpy as np
import pandas as pd
import pytest
from kedro.runner import SequentialRunner

from conftest import SMALL_GRIDS, catalog_for
from lift.config.errors import DatasetInputError
from lift.config.lift import ImageSettings, SerializationSettings
from lift.data import images
from lift.data.acquisition import acquire, load_sklearn
from lift.data.entry import DatasetEntry
from lift.data.preprocessing import prepare_table
from lift.data.splits import rows_of, split_rows
from lift.data.variants import held_in_rows
from lift.method.serialization import serialize
from lift.pipelines.studies import create_pipeline
from lift.studies.designs import changed, study_settings
from openml_standin import serve_openml

SPLIT = {"test_size": 0.2, "validation_size": 0.2, "test_seed": 0}


@pytest.fixture(scope="module")
def digits():
    table, schema = prepare_table(
        "digits", load_sklearn("digits"), "target", "classification", sample=200
    )
    splits = split_rows("digits", table["target"], **SPLIT, repeats=2, stratify=True)
    return table, schema, splits


def numbered(n, height, width):
    """Images whose pixels are their own positions (every value distinct)."""
    return np.arange(n * height * width, dtype=float).reshape(n, height, width)


def test_the_centre_crop_keeps_exactly_the_middle_pixels_and_puts_them_back():
    pictures = numbered(2, 28, 28)
    box = images.crop_box("mnist", (28, 28), 18)
    assert box == (5, 5, 18, 18)
    crops = images.centre_crop(pictures, box)
    assert crops.shape == (2, 18, 18)
    assert crops[0, 0, 0] == pictures[0, 5, 5] and crops[1, -1, -1] == pictures[1, 22, 22]
    back = images.uncrop(crops, box, (28, 28))
    assert np.array_equal(back[:, 5:23, 5:23], pictures[:, 5:23, 5:23])
    assert back.sum() == crops.sum()  # nothing outside the crop
    # an odd margin: the spare pixel goes to the bottom and right
    assert images.crop_box("digits", (8, 8), 5) == (1, 1, 5, 5)
    with pytest.raises(DatasetInputError, match=r"digits.*`lift.serialization.image.crop` is 9"):
        images.crop_box("digits", (8, 8), 9)


def test_the_permutation_is_fixed_by_its_seed_and_undone_exactly():
    pixels = numbered(3, 6, 6).reshape(3, -1)
    order = images.pixel_order(36, seed=7)
    assert np.array_equal(order, images.pixel_order(36, seed=7))
    assert not np.array_equal(order, images.pixel_order(36, seed=8))
    assert sorted(order) == list(range(36)) and not np.array_equal(order, np.arange(36))
    moved = images.permuted(pixels, order)
    assert np.array_equal(moved[:, 0], pixels[:, order[0]])
    assert np.array_equal(images.unpermuted(moved, order), pixels)


def test_downsampling_averages_blocks_and_levels_span_the_intensity():
    pictures = np.array([[[0, 2, 4, 4], [2, 0, 4, 4], [16, 16, 0, 0], [16, 16, 0, 0]]], float)
    assert images.downsampled("d", pictures, 2).tolist() == [[[1, 4], [16, 0]]]
    with pytest.raises(DatasetInputError, match="does not divide its 4 x 4"):
        images.downsampled("d", pictures, 3)
    assert images.quantized(np.array([0, 8, 16, 20.0]), 3, 16).tolist() == [0, 1, 2, 2]
    assert images.quantized(np.array([0.4, 7.6]), None, None).tolist() == [0, 8]


def test_a_row_of_pixels_is_the_papers_sentence():
    values = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]], float)
    whole = images.written_pixels("d", values, ImageSettings())
    assert images.image_prompts(whole, "What is this digit?", "###") == [
        "Given image with pixels 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 What is this digit?###"
    ]
    cropped = images.written_pixels("d", values, ImageSettings(crop=2))
    assert cropped.tolist() == [[5, 6, 9, 10]]
    shuffled = images.written_pixels("d", values, ImageSettings(crop=2, permute=True))
    assert np.array_equal(images.unpermuted(shuffled, images.pixel_order(4, 0)), cropped)
    with pytest.raises(DatasetInputError, match="not the pixels of a square image"):
        images.written_pixels("d", values[:, :15], ImageSettings())
    assert images.image_shape("d", 15, height=3) == (3, 5)


def test_the_image_template_permutes_training_and_test_images_alike(digits):
    table, schema, splits = digits
    settings = SerializationSettings(template="image", image={"crop": 6, "permute": True})
    prompts = serialize(table, schema, splits, settings, dataset="digits")
    order = images.pixel_order(36, 0)
    for split in ("train", "test"):
        row = rows_of(splits, 0, split)[0]
        written = prompts[(prompts["row"] == row)]["prompt"].iloc[0]
        numbers = np.array(
            [int(v) for v in written.removeprefix("Given image with pixels ").split()[:36]]
        )
        crop = table[schema["features"]].to_numpy()[row].reshape(8, 8)[1:7, 1:7]
        assert np.array_equal(images.unpermuted(numbers[None], order)[0], crop.ravel())
    assert prompts["prompt"].str.endswith(" What is this digit?###").all()


def test_the_image_template_refuses_text_features_and_levels_without_intensity():
    table = pd.DataFrame(
        {"a": [0.0, 1], "b": ["x", "y"], "c": [1.0, 0], "d": [0, 1.0], "y": [0, 1]}
    )
    table, schema = prepare_table("pics", table, "y", "classification")
    splits = pd.DataFrame({"repeat": [0, 0], "split": ["train", "test"], "row": [0, 1]})
    with pytest.raises(DatasetInputError, match=r"'pics'.*\['b'\] are not numbers"):
        serialize(table, schema, splits, SerializationSettings(template="image"), dataset="pics")
    levels = {"serialization": {"template": "image", "image": {"levels": 4}}}
    with pytest.raises(DatasetInputError, match=r"'pics'.*set `serialization.image.intensity`"):
        DatasetEntry.from_params("classification", "pics", {"source": {"kind": "file"}}, levels)


def test_a_sample_of_a_large_table_is_class_balanced_and_seeded():
    raw = load_sklearn("digits")
    table, schema = prepare_table("digits", raw, "target", "classification", sample=205)
    counts = table["target"].value_counts()
    assert len(table) == 205 and counts.max() - counts.min() <= 1
    assert schema["n_sampled_from"] == 1797 and schema["n_rows"] == 205
    again, _ = prepare_table("digits", raw, "target", "classification", sample=205)
    other, _ = prepare_table("digits", raw, "target", "classification", sample=205, sample_seed=1)
    assert again.equals(table) and not other.equals(table)


@pytest.mark.parametrize("perturbation", ["gaussian", "fgsm"])
def test_perturbations_change_the_test_images_only_on_the_attackers_scale(digits, perturbation):
    table, schema, splits = digits
    held_in, features = held_in_rows(splits), schema["features"]
    pixels = table[features].to_numpy(float)
    labels = table["target"].to_numpy()
    attacker = images.fit_attacker(
        "digits", pixels[held_in], labels[held_in], 10, ImageSettings(), epochs=5
    )
    assert attacker.intensity == 16 and attacker.trained_on == len(held_in)
    variant = next(
        v
        for v in study_settings("image_robustness", {}).variants()
        if v.change.get("perturbation") == perturbation and v.level == 0.3
    )
    moved, same_splits = changed("digits", variant, table, schema, splits, attacker)
    assert same_splits is splits
    after = moved[features].to_numpy(float)
    test = np.setdiff1d(np.arange(len(table)), held_in)
    assert np.array_equal(after[held_in], pixels[held_in])  # training and validation as they are
    assert (after[test] != pixels[test]).mean() > 0.5
    assert after.min() >= 0 and after.max() <= 16
    if perturbation == "fgsm":  # every pixel moved by epsilon unless clipped at 0 or 16
        step = np.abs(after[test] - pixels[test])
        assert np.allclose(step[(after[test] > 0) & (after[test] < 16)], 0.3 * 16)
    assert moved["target"].equals(table["target"])


def test_the_robustness_study_trains_once_and_answers_every_perturbed_test_set(
    tmp_path, tiny_model_dir
):
    digits = {
        "source": {"kind": "sklearn", "name": "digits"},
        "sample": 60,
        "lift": {"serialization": {"template": "image", "image": {"crop": 4}}},
    }
    params = {
        "noise": [0.3],
        "epsilon": [0.3],
        "attack": {"epochs": 3},
        "datasets": {"classification": ["digits"]},
        "tables": {"classification": {"digits": digits}},
    }
    tasks = {
        "classification": {
            "lift": {
                "training": {"learning_rate": 0.03, "epochs": 1, "batch_size": 8},
                "lora": {"rank": 4, "alpha": 8},
                "generation": {"mode": "score", "correct_prior": False},
            },
            "openml_cache": str(tmp_path / "openml"),
            "split": {**SPLIT, "repeats": 1},
            "baselines": {"cv_folds": 2, "n_jobs": 1, "models": SMALL_GRIDS},
            "datasets": {},
        }
    }
    pipeline = create_pipeline("image_robustness", params, tasks)
    trained = [n.name for n in pipeline.nodes if n.name.endswith(("fine_tune", "fit_baselines"))]
    assert trained == [
        "image_robustness.classification.digits.fit_baselines",
        "image_robustness.classification.digits.clean.fine_tune",
    ]
    catalog = catalog_for("classification", tasks["classification"], tiny_model_dir, {})
    catalog["params:image_robustness.tables.classification.digits"] = digits
    outputs = SequentialRunner().run(pipeline, catalog)
    results = outputs["image_robustness.results"].load()
    assert list(dict.fromkeys(results["variant"])) == ["clean", "gaussian_0_3", "fgsm_0_3"]
    assert set(results["facet"]) == {"", "Gaussian noise", "FGSM from LeNet"}
    assert {"lift", "lenet (attack source)", *SMALL_GRIDS} == set(results["model"])
    for _, rows in results.groupby("variant"):
        assert rows["n_test"].nunique() == 1 and rows["n_train"].nunique() == 1
    assert outputs["image_robustness.figure"].load().axes


def test_an_mnist_shaped_openml_table_is_sampled_and_written_as_its_central_crop(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(40, 784)).astype(float)
    frame = pd.DataFrame(pixels, columns=[f"pixel{i + 1}" for i in range(784)])
    frame["class"] = [str(k % 4) for k in range(40)]  # OpenML's MNIST: a nominal target
    with serve_openml(554, frame, target="class") as (server, _):
        raw, info = acquire(
            "mnist", {"kind": "openml", "id": 554, "server": server}, "classification", None,
            tmp_path,
        )  # fmt: skip
    table, schema = prepare_table("mnist", raw, info["target"], "classification", sample=20)
    assert len(table) == 20 and table["class"].value_counts().tolist() == [5] * 4
    splits = pd.DataFrame({"repeat": 0, "split": "train", "row": range(20)})
    image = {"crop": 18, "levels": 4, "intensity": 255}
    settings = SerializationSettings(template="image", image=image)
    prompt = serialize(table, schema, splits, settings, dataset="mnist")["prompt"].iloc[0]
    written = prompt.removeprefix("Given image with pixels ").split(" What")[0].split()
    crop = table[schema["features"]].to_numpy()[0].reshape(28, 28)[5:23, 5:23]
    assert written == [str(v) for v in np.rint(crop.ravel() / 255 * 3).astype(int)]
