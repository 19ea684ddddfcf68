import numpy as np
import pytest

from lift.config.errors import DatasetInputError
from lift.data import synthetic


@pytest.mark.parametrize(
    ("name", "n_classes"),
    [("blobs", 4), ("moons", 2), ("circles", 2), ("two_circles", 2), ("nine_gaussians", 9)],
)
def test_generators_give_the_papers_shapes_and_classes(name, n_classes):
    table = synthetic.generate("classification", name, n_samples=2000, seed=123)
    assert list(table.columns) == ["x1", "x2", "label"]
    assert sorted(table["label"].unique()) == list(range(n_classes))
    expected_rows = 222 * 9 if name == "nine_gaussians" else 2000
    assert len(table) == expected_rows


def test_generators_are_seeded():
    first = synthetic.generate("classification", "moons", n_samples=300, seed=1)
    assert first.equals(synthetic.generate("classification", "moons", n_samples=300, seed=1))
    assert not first.equals(synthetic.generate("classification", "moons", n_samples=300, seed=2))


def test_nine_gaussians_sit_on_the_grid_with_small_variance():
    table = synthetic.nine_gaussians(n_samples=2000, seed=123)
    means = table.groupby("label")[["x1", "x2"]].mean().to_numpy()
    grid = {(a, b) for a in (-10, 0, 10) for b in (-10, 0, 10)}
    assert {tuple(np.round(m).astype(int)) for m in means} == grid
    variances = table.groupby("label")[["x1", "x2"]].var().to_numpy()
    assert np.allclose(variances, 0.1, atol=0.03)


def test_two_circles_shift_the_second_set_and_flip_its_labels():
    table = synthetic.two_circles(n_samples=2000, seed=123, noise=0.0)
    left, right = table.iloc[:1000], table.iloc[1000:]
    assert left["x1"].mean() == pytest.approx(0, abs=0.05)
    assert right["x1"].mean() == pytest.approx(3, abs=0.05)
    # noise-free circles: the outer circle has radius 1 and is class 0 on the left, 1 on the right
    left_radius = np.hypot(left["x1"], left["x2"])
    right_radius = np.hypot(right["x1"] - 3, right["x2"])
    assert set(left.loc[np.isclose(left_radius, 1.0), "label"]) == {0}
    assert set(right.loc[np.isclose(right_radius, 1.0), "label"]) == {1}


def test_unknown_generator_names_the_choices():
    with pytest.raises(
        DatasetInputError, match="Unknown synthetic classification dataset 'spiral'.*blobs"
    ):
        synthetic.generate("classification", "spiral", n_samples=100, seed=0)


# per-feature terms of the LIFT paper at hand-computed points (x -> value)
FORMULA_POINTS = {
    "linear": [(-10, -9.0), (0, 0.0), (5, 4.5)],
    "quadratic": [(-10, 9.0), (0, -9.0), (5, -4.5)],
    "exponential": [
        (-10, -9.0),
        (10, 9.0),
        (0, 18 * ((1 - np.exp(-2)) / (np.exp(2) - np.exp(-2)) - 0.5)),
    ],
    "cosine": [(0, 9.0), (1, 0.0), (2, -9.0)],
    "l1norm": [(-10, 9.0), (0, -9.0), (5, 0.0)],
    "piecewise": [(-10, -9.0), (-4, 4.5), (0, 0.0), (2.9, 0.0), (4, -4.5), (10, 9.0)],
}


@pytest.mark.parametrize("name", sorted(FORMULA_POINTS))
def test_functions_match_the_reference_formulas(name):
    points = np.array([x for x, _ in FORMULA_POINTS[name]], dtype=float).reshape(-1, 1)
    expected = np.array([y for _, y in FORMULA_POINTS[name]])
    np.testing.assert_allclose(synthetic.function_value(name, points), expected, atol=1e-9)


def test_a_function_of_several_features_averages_the_terms():
    features = np.array([[2.0, 4.0, -10.0]])
    assert synthetic.function_value("linear", features)[0] == pytest.approx(0.9 * (-4) / 3)
    assert synthetic.function_value("l1norm", features)[0] == pytest.approx(
        np.mean([(abs(v) / 10 - 0.5) * 18 for v in (2, 4, -10)])
    )


def test_function_table_has_the_papers_sizes_and_noiseless_test_rows():
    table = synthetic.function_table("cosine", p=2, seed=3)
    assert list(table.columns) == ["x1", "x2", "y", "split"]
    assert table["split"].value_counts().to_dict() == {"train": 200, "test": 100, "validation": 50}
    features = table[["x1", "x2"]].to_numpy()
    assert features.min() >= -10 and features.max() <= 10
    truth = synthetic.function_value("cosine", features)
    test = (table["split"] == "test").to_numpy()
    np.testing.assert_array_equal(table["y"].to_numpy()[test], truth[test])
    residual = table["y"].to_numpy()[~test] - truth[~test]
    assert np.all(residual != 0)
    # N(0, (0.1 std f)^2) on the train and validation rows
    assert residual.std() == pytest.approx(0.1 * truth[~test].std(), rel=0.15)
    assert table.equals(synthetic.function_table("cosine", p=2, seed=3))
    assert not table.equals(synthetic.function_table("cosine", p=2, seed=4))


def test_integer_and_positive_variants():
    integer = synthetic.function_table("linear", p=1, integer=True, seed=0)
    assert np.array_equal(integer["x1"], np.round(integer["x1"]))
    assert integer["x1"].between(-10, 10).all() and integer["x1"].nunique() > 15
    positive = synthetic.function_table("linear", p=3, positive=True, seed=0)
    assert positive[["x1", "x2", "x3"]].to_numpy().min() >= 0
    noiseless = synthetic.function_table("linear", noise=0.0)
    np.testing.assert_array_equal(noiseless["y"], 0.9 * noiseless["x1"])


def test_extrapolation_grid_is_noiseless_over_twice_the_domain():
    grid = synthetic.function_grid("quadratic")
    assert list(grid.columns) == ["x1", "y"] and len(grid) == 81
    assert grid["x1"].min() == -20 and grid["x1"].max() == 20
    np.testing.assert_allclose(grid["y"], (grid["x1"] ** 2 - 50) * 9 / 50)


def test_unknown_function_and_bad_sizes_are_named():
    with pytest.raises(DatasetInputError, match="Unknown synthetic regression function 'sine'"):
        synthetic.function_table("sine")
    with pytest.raises(DatasetInputError, match="need p >= 1"):
        synthetic.function_table("linear", p=0)
    with pytest.raises(DatasetInputError, match="belong to the regression pipeline"):
        synthetic.generate("classification", "linear", n_samples=100)


def test_a_plane_is_the_weighted_sum_of_its_features():
    table = synthetic.generate("regression", "plane", coefficients=[0.2, 0.4], seed=1)
    assert list(table.columns) == ["x1", "x2", "y", "split"]
    test = table[table["split"] == "test"]
    np.testing.assert_allclose(test["y"], 0.2 * test["x1"] + 0.4 * test["x2"])
    held_in = table[table["split"] != "test"]
    residual = held_in["y"] - (0.2 * held_in["x1"] + 0.4 * held_in["x2"])
    assert residual.std() == pytest.approx(0.1 * held_in["y"].std(), rel=0.2)
    shifted = synthetic.plane([1.0], intercept=3.0, noise=0.0, n_test=5)
    np.testing.assert_allclose(shifted["y"], shifted["x1"] + 3.0)
    assert set(synthetic.options_of("regression", "plane")) >= {"coefficients", "intercept"}
    for bad in ([], [[0.2]], [float("nan")]):
        with pytest.raises(DatasetInputError, match="coefficients"):
            synthetic.plane(bad)


def test_pretext_planes_span_the_targets_feature_ranges_mean_and_spread():
    ranges = {"speed": (0.0, 5.0), "load": (-100.0, -50.0)}
    pretext = synthetic.pretext_functions(ranges, "y", (5.0, 2.0), rows=30, tasks=2, seed=0)
    assert list(pretext.columns) == ["speed", "load", "y", "split", "pretext"]
    assert pretext.groupby(["pretext", "split"]).size().tolist() == [24, 6, 24, 6]
    for name, (low, high) in ranges.items():
        assert pretext[name].between(low, high).all()
    weights = []
    for _, task in pretext.groupby("pretext"):
        features = task[["speed", "load"]].to_numpy()
        design = np.column_stack([features, np.ones(len(task))])
        solved, *_ = np.linalg.lstsq(design, task["y"].to_numpy(), rcond=None)
        np.testing.assert_allclose(design @ solved, task["y"])  # a plane, noiseless
        assert task["y"].mean() == pytest.approx(5.0) and task["y"].std(ddof=0) == pytest.approx(
            2.0
        )
        weights.append(solved[:2] / np.linalg.norm(solved[:2]))
    assert not np.allclose(*weights)  # two different tasks
