import numpy as np
import pytest

from lift import synthetic
from lift.errors import DatasetInputError


@pytest.mark.parametrize(
    ("name", "n_classes"),
    [("blobs", 4), ("moons", 2), ("circles", 2), ("two_circles", 2), ("nine_gaussians", 9)],
)
def test_generators_give_the_papers_shapes_and_classes(name, n_classes):
    table = synthetic.generate(name, n_samples=2000, seed=123)
    assert list(table.columns) == ["x1", "x2", "label"]
    assert sorted(table["label"].unique()) == list(range(n_classes))
    expected_rows = 222 * 9 if name == "nine_gaussians" else 2000
    assert len(table) == expected_rows


def test_generators_are_seeded():
    first = synthetic.generate("moons", n_samples=300, seed=1)
    assert first.equals(synthetic.generate("moons", n_samples=300, seed=1))
    assert not first.equals(synthetic.generate("moons", n_samples=300, seed=2))


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
    with pytest.raises(DatasetInputError, match="Unknown synthetic dataset 'spiral'.*blobs"):
        synthetic.generate("spiral", n_samples=100, seed=0)
