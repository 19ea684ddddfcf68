"""The paper's studies: the variant transformations (fewer rows, corrupted labels, rarer
classes, a teacher's labels, a grid), their settings, and each study pipeline end to end on a
tiny model."""

import numpy as np
import pandas as pd
import pytest
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from conftest import SMALL_GRIDS, catalog_for
from lift.config.errors import DatasetInputError
from lift.data import synthetic, variants
from lift.data.preprocessing import prepare_table
from lift.data.splits import rows_of, split_rows
from lift.evaluation.baselines import classifier
from lift.pipelines.studies import create_pipeline
from lift.studies.designs import (
    ClassImbalance,
    LabelNoise,
    SampleComplexity,
    Variant,
    changed,
    study_settings,
)


def iris_like(n_per_class=(50, 50, 50), seed=0):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, k) for k, n in enumerate(n_per_class)])
    raw = pd.DataFrame(
        {"x1": rng.normal(labels, 0.3), "x2": rng.normal(-labels, 0.3), "label": labels}
    )
    table, schema = prepare_table("t", raw, "label", "classification")
    return table, schema, split_rows("t", labels, repeats=3)


def test_a_fraction_keeps_exactly_its_share_of_training_rows_and_every_class():
    table, schema, splits = iris_like()
    labels = table["label"].to_numpy()
    for fraction in (0.01, 0.05, 0.5, 1.0):
        cut = variants.subsample_training("t", splits, labels, fraction, seed=1)
        for repeat in range(3):
            before, after = (rows_of(s, repeat, "train") for s in (splits, cut))
            assert len(after) == max(3, round(fraction * len(before)))
            assert set(after) <= set(before)
            assert set(labels[after]) == {0, 1, 2}
            for split in ("validation", "test"):
                assert np.array_equal(rows_of(cut, repeat, split), rows_of(splits, repeat, split))
    # each repeat draws its own rows
    cut = variants.subsample_training("t", splits, labels, 0.2)
    assert set(rows_of(cut, 0, "train")) != set(rows_of(cut, 1, "train"))


@pytest.mark.parametrize("kind", ["random", "systematic"])
def test_corruption_changes_exactly_the_share_asked_for_and_never_a_test_label(kind):
    table, schema, splits = iris_like()
    variant = Variant(
        name="n",
        level=0.2,
        change={"kind": "corrupt", "rate": 0.2, "noise": kind, "seed": 3},
    )
    noisy, same_splits = changed("t", variant, table, schema, splits)
    assert same_splits is splits
    before, after = table["label"].to_numpy(), noisy["label"].to_numpy()
    held_in = variants.held_in_rows(splits)
    test = rows_of(splits, 0, "test")
    flipped = np.flatnonzero(before != after)
    assert len(flipped) == round(0.2 * len(held_in))  # never "corrupted" to the same class
    assert set(flipped) <= set(held_in) and not set(flipped) & set(test)
    if kind == "systematic":
        assert np.array_equal(after[flipped], (before[flipped] + 1) % 3)
    else:  # a uniform draw among the other classes reaches both of them
        assert set((after[flipped] - before[flipped]) % 3) == {1, 2}


def test_a_ratio_cuts_every_smaller_class_to_exactly_that_share_of_the_largest():
    table, schema, splits = iris_like((60, 50, 40))
    labels = table["label"].to_numpy()
    cut = variants.rebalance_training("t", splits, labels, 0.1, seed=0)
    for repeat in range(3):
        before = np.bincount(labels[rows_of(splits, repeat, "train")])
        after = np.bincount(labels[rows_of(cut, repeat, "train")])
        assert after[0] == before[0]  # the largest class keeps its rows
        assert list(after[1:]) == [round(0.1 * before[0])] * 2
        assert np.array_equal(rows_of(cut, repeat, "test"), rows_of(splits, repeat, "test"))
    # a class already rarer than the ratio keeps what it has
    loose = variants.rebalance_training("t", splits, labels, 1.0)
    assert loose.equals(splits)


def test_the_grid_covers_the_range_of_the_data():
    table = synthetic.generate("classification", "moons", n_samples=200, seed=0)
    grid = variants.feature_grid("moons", table, ["x1", "x2"], 30)
    assert len(grid) == 900 and list(grid.columns) == ["x1", "x2"]
    for feature in ("x1", "x2"):
        assert grid[feature].min() < table[feature].min()
        assert grid[feature].max() > table[feature].max()
        assert grid[feature].nunique() == 30
    with pytest.raises(DatasetInputError, match="exactly two numeric features"):
        variants.feature_grid("t", table.assign(x3=1.0), ["x1", "x2", "x3"], 10)


def test_a_teachers_labels_replace_the_true_ones():
    table, schema, splits = iris_like()
    variant = Variant(
        name="teacher_stump",
        level="stump",
        change={"kind": "teacher", "model": "decision_tree", "params": {"max_depth": 1}},
    )
    taught, _ = changed("t", variant, table, schema, splits)
    stump = classifier("decision_tree", schema, 0, {"max_depth": 1})
    held_in = variants.held_in_rows(splits)
    stump.fit(table[["x1", "x2"]].iloc[held_in], table["label"].iloc[held_in])
    assert np.array_equal(taught["label"], stump.predict(table[["x1", "x2"]]))
    assert taught["label"].nunique() == 2  # a stump tells two classes apart


def test_the_tanh_network_labels_are_balanced_and_a_seed_repeats_them():
    first = synthetic.generate("classification", "tanh_network", n_samples=200, seed=1)
    again = synthetic.generate("classification", "tanh_network", n_samples=200, seed=1)
    assert first.equals(again) and first["label"].mean() == 0.5
    assert first[["x1", "x2"]].abs().max().max() <= 6


def test_each_study_names_its_variants_in_figure_order():
    assert [v.name for v in SampleComplexity(fractions=[0.5, 0.05]).variants()] == [
        "train_5",
        "train_50",
    ]
    noise = LabelNoise(rates=[0.2, 0.05], kinds=["systematic"]).variants()
    assert [v.name for v in noise] == ["clean", "systematic_5", "systematic_20"]
    assert [v.label for v in ClassImbalance(ratios=[0.1, 0.25]).variants()] == [
        "as is",
        "1:4",
        "1:10",
    ]


@pytest.mark.parametrize(
    ("study", "params", "said"),
    [
        ("sample_complexity", {"fractions": [0]}, "`sample_complexity.fractions[0]`"),
        ("label_noise", {"kinds": ["flip"]}, "`label_noise.kinds[0]` is 'flip'"),
        ("class_imbalance", {"ratios": [], "as_is": False}, "studies nothing"),
        ("inductive_bias", {"teachers": {"t": {"model": "svr"}}}, "`inductive_bias.teachers.t"),
        ("decision_boundaries", {"grid": 40}, "the known ones are"),
    ],
)
def test_bad_study_parameters_are_named(study, params, said):
    with pytest.raises(DatasetInputError) as caught:
        study_settings(study, params)
    assert said in str(caught.value)


TINY_LIFT = {
    "training": {"learning_rate": 0.03, "epochs": 1, "batch_size": 8, "seed": 0},
    "lora": {"rank": 4, "alpha": 8},
    "generation": {"mode": "score"},
}
MOONS = {"source": {"kind": "synthetic", "name": "moons", "n_samples": 60, "seed": 0}}


@pytest.fixture
def tasks(tmp_path):
    return {
        "classification": {
            "lift": TINY_LIFT,
            "openml_cache": str(tmp_path / "openml"),
            "split": {"test_size": 0.2, "validation_size": 0.2, "test_seed": 0, "repeats": 1},
            "baselines": {"cv_folds": 3, "n_jobs": 1, "models": SMALL_GRIDS},
            "datasets": {"iris": {"source": {"kind": "sklearn", "name": "iris"}}},
        },
        "regression": {"datasets": {}},
    }


def regression_section(tasks):
    """The regression task's section beside the classification one: tiny LIFT generating
    numbers, two small baselines."""
    return {
        "lift": {**TINY_LIFT, "generation": {"mode": "generate"}},
        "split": tasks["classification"]["split"],
        "baselines": {"seed": 0, "models": {"mean": {}, "knn": {"n_neighbors": [2]}}},
        "openml_cache": tasks["classification"]["openml_cache"],
        "datasets": {},
    }


def regression_parameters(tasks):
    """The regression section's parameters as the catalog names them."""
    keys = ("lift", "split", "baselines", "openml_cache")
    return {f"params:regression.{key}": tasks["regression"][key] for key in keys}


def test_a_study_refuses_a_table_it_cannot_vary(tasks):
    with pytest.raises(DatasetInputError, match="takes \\['classification'\\] ones only"):
        create_pipeline("label_noise", {"datasets": {"regression": ["diabetes"]}}, tasks)
    with pytest.raises(DatasetInputError, match="names 'wine', which is neither in"):
        create_pipeline("label_noise", {"datasets": {"classification": ["wine"]}}, tasks)


STUDIES = {
    "sample_complexity": {"fractions": [0.1, 1.0], "datasets": {"classification": ["iris"]}},
    "label_noise": {
        "rates": [0.2],
        "kinds": ["systematic"],
        "datasets": {"classification": ["moons"]},
        "tables": {"classification": {"moons": MOONS, "unused": None}},
    },
    "class_imbalance": {"ratios": [0.25], "datasets": {"classification": ["iris"]}},
    "decision_boundaries": {
        "points": 6,
        "datasets": {"classification": ["moons"]},
        "tables": {"classification": {"moons": MOONS}},
    },
    "inductive_bias": {
        "teachers": {"stump": {"model": "decision_tree", "params": {"max_depth": 1}}},
        "datasets": {"classification": ["moons"]},
        "tables": {"classification": {"moons": MOONS}},
    },
    "pretraining": {
        "gibberish": {"rows": 20, "words": 4, "epochs": 1},
        "datasets": {"classification": ["moons"]},
        "tables": {"classification": {"moons": MOONS}},
    },
    "feature_names": {
        "phrasings": ["sentences"],
        "datasets": {"classification": ["iris"]},
        "tables": {
            "classification": {
                "iris": {
                    "source": {"kind": "sklearn", "name": "iris"},
                    "lift": {
                        "serialization": {
                            "template": "own",
                            "sentence": "Petals {petal length (cm)} by {petal width (cm)}.",
                        }
                    },
                }
            }
        },
    },
}


@pytest.mark.parametrize("study", list(STUDIES))
def test_each_study_runs_end_to_end_and_reports_every_variant(
    study, tasks, tiny_model_dir, publish
):
    publish(("label_noise", "moons", "clean", "lift", "accuracy", 0.97))
    params = STUDIES[study]
    pipeline = create_pipeline(study, params, tasks)
    assert pipeline.outputs() == {f"{study}.results", f"{study}.figure"}
    catalog = catalog_for("classification", tasks["classification"], tiny_model_dir, {})
    for task, tables in params.get("tables", {}).items():
        for name, entry in tables.items():
            catalog[f"params:{study}.tables.{task}.{name}"] = entry
    outputs = SequentialRunner().run(pipeline, catalog)
    results = outputs[f"{study}.results"].load()
    assert isinstance(outputs[f"{study}.figure"].load(), Figure)
    expected = [v.name for v in study_settings(study, params).variants()]
    expected += ["own"] if study == "feature_names" else []  # iris has its own sentence
    assert list(dict.fromkeys(results["variant"])) == expected
    models = {"lift", "lift_corrected", *SMALL_GRIDS}
    for _, rows in results.groupby("variant"):
        assert set(rows["model"]) == models and (rows["repeat"] == 0).all()
    assert results["accuracy"].between(0, 1).all()
    if study == "sample_complexity":
        n_train = results.groupby("variant")["n_train"].first()
        assert n_train["train_10"] == round(0.1 * n_train["train_100"])
    if study == "class_imbalance":
        assert {"precision_macro", "recall_2", "f1_0"} <= set(results.columns)
    if study == "label_noise":
        paper = results.set_index(["variant", "model"])["paper_accuracy"]
        assert paper[("clean", "lift")] == 0.97 and paper.drop(("clean", "lift")).isna().all()


def test_an_openml_table_neither_cached_nor_online_is_left_out_and_the_rest_runs(
    tasks, tmp_path, caplog
):
    offline = {"source": {"kind": "openml", "id": 1444, "server": "http://127.0.0.1:9/api"}}
    params = {
        "datasets": {"classification": ["iris", "pizza_cutter"]},
        "tables": {"classification": {"pizza_cutter": offline}},
    }
    pipeline = create_pipeline("class_imbalance", params, tasks)
    names = {n.name for n in pipeline.nodes}
    assert "class_imbalance.classification.iris.as_is.fine_tune" in names
    assert not any("pizza_cutter" in name for name in names)
    assert "leaves out dataset 'pizza_cutter'" in caplog.text
    # none left: the study says so when it is run, naming the table and the remedy
    alone = {**params, "datasets": {"classification": ["pizza_cutter"]}}
    (refusal,) = create_pipeline("class_imbalance", alone, tasks).nodes
    with pytest.raises(DatasetInputError, match="pizza_cutter cannot be acquired here.*paper-data"):
        refusal.run({})


def test_a_studys_lift_settings_reach_every_variant_over_the_tasks(tasks):
    params = {**STUDIES["sample_complexity"], "lift": {"training": {"epochs": 3}}}
    pipeline = create_pipeline("sample_complexity", params, tasks)
    configure = next(
        n
        for n in pipeline.nodes
        if n.name == "sample_complexity.classification.iris.train_10.configure"
    )
    iris = tasks["classification"]["datasets"]["iris"]
    settings = configured(pipeline, configure.name, iris, tasks)
    assert settings.lift.training.epochs == 3 and settings.lift.lora.rank == 4
    with pytest.raises(DatasetInputError, match="epochs"):
        create_pipeline("sample_complexity", {**params, "lift": {"training": {"epochs": 0}}}, tasks)


def configured(pipeline, name, entry, tasks):
    """The settings the configure node ``name`` of a study pipeline makes for ``entry``."""
    configure = next(n for n in pipeline.nodes if n.name == name)
    inputs = dict(zip(configure.inputs, [entry, tasks["classification"]["lift"]], strict=True))
    (settings,) = configure.run(inputs).values()
    return settings


def test_each_feature_names_variant_writes_the_rows_its_own_way(tasks):
    params = {**STUDIES["feature_names"], "phrasings": ["feature_names", "sentences"]}
    pipeline = create_pipeline("feature_names", params, tasks)
    iris = params["tables"]["classification"]["iris"]
    written = {
        "no_names": ("paper", "given"),
        "shuffled_1": ("feature_names", "shuffled"),
        "shuffled_2": ("sentences", "shuffled"),
        "names_1": ("feature_names", "given"),
        "names_2": ("sentences", "given"),
        "own": ("own", "given"),
    }
    for variant, (template, names) in written.items():
        name = f"feature_names.classification.iris.{variant}.configure"
        serialization = configured(pipeline, name, iris, tasks).lift.serialization
        assert (serialization.template, serialization.names) == (template, names)
        assert (serialization.sentence is not None) == (variant == "own")
    # a table without a sentence has no `own` variant; one with a bad entry stops the build
    plain = {"datasets": {"classification": ["iris"]}}
    names = {n.name for n in create_pipeline("feature_names", plain, tasks).nodes}
    assert "feature_names.classification.iris.names_2.fine_tune" in names
    assert not any(".own." in name for name in names)
    broken = {
        "source": {"kind": "sklearn", "name": "iris"},
        "lift": {"serialization": {"template": "own"}},
    }
    with pytest.raises(DatasetInputError, match="`serialization.sentence` is None"):
        create_pipeline(
            "feature_names", {**plain, "tables": {"classification": {"iris": broken}}}, tasks
        )


def test_a_table_an_environment_switches_off_is_left_out_of_a_study(tasks, caplog):
    tasks["classification"]["datasets"]["moons"] = None  # as conf/realdata does
    params = {"datasets": {"classification": ["iris", "moons"]}}
    names = {n.name for n in create_pipeline("class_imbalance", params, tasks).nodes}
    assert "class_imbalance.classification.iris.as_is.fine_tune" in names
    assert not any(".moons." in name for name in names)
    only = {"datasets": {"classification": ["moons"]}}
    empty = create_pipeline("class_imbalance", only, tasks)
    # no warning on every command: a study with nothing to run says why when it is run
    assert [n.name for n in empty.nodes] == ["class_imbalance.nothing_to_study"]
    with pytest.raises(DatasetInputError, match="the tables it names \\(classification: moons\\)"):
        empty.nodes[0].run({})


def test_noise_is_added_to_the_held_in_targets_only_with_the_sd_asked_for():
    targets = np.linspace(-5, 5, 4000)
    splits = split_rows("t", targets, repeats=1, stratify=False)
    noisy = variants.noisy_targets(targets, variants.held_in_rows(splits), 2.0, seed=3)
    test = rows_of(splits, 0, "test")
    held_in = variants.held_in_rows(splits)
    np.testing.assert_array_equal(noisy[test], targets[test])
    assert np.std(noisy[held_in] - targets[held_in]) == pytest.approx(2.0, rel=0.05)
    again = variants.noisy_targets(targets, held_in, 2.0, seed=3)
    np.testing.assert_array_equal(noisy, again)


def test_uncertainty_samples_every_answer_and_compares_spread_and_calibration(
    tasks, tiny_model_dir
):
    linear = {"kind": "synthetic", "name": "linear", "p": 1, "noise": 0.0}
    small = {"n_train": 30, "n_validation": 10, "n_test": 15}
    tasks["regression"] = regression_section(tasks)
    params = {
        "samples": 3,
        "noise": [0.0, 2.0],
        "datasets": {"regression": ["linear_p1"], "classification": ["iris"]},
        "tables": {"regression": {"linear_p1": {"source": {**linear, **small}}}},
    }
    pipeline = create_pipeline("uncertainty", params, tasks)
    catalog = catalog_for("classification", tasks["classification"], tiny_model_dir, {})
    for key, value in regression_parameters(tasks).items():
        catalog[key] = value
    catalog["params:uncertainty.tables.regression.linear_p1"] = params["tables"]["regression"][
        "linear_p1"
    ]
    outputs = SequentialRunner().run(pipeline, catalog)
    results = outputs["uncertainty.results"].load()
    figure = outputs["uncertainty.figure"].load()
    assert isinstance(figure, Figure) and len(figure.axes) == 4
    variants_of = results.groupby("task")["variant"].unique()
    assert list(variants_of["regression"]) == ["noise_0", "noise_2"]
    assert list(variants_of["classification"]) == ["sampled"]
    answered = results.set_index(["variant", "model"])
    lift_models = {"lift", "lift_mean", "lift_greedy"}
    assert lift_models | {"mean", "knn"} == set(answered.loc["noise_0"].index)
    assert answered.loc[("noise_0", "lift"), "answers"] == "generate, 3 samples at temperature 1"
    assert answered.loc[("noise_0", "lift_greedy"), "answers"] == "generate"
    # the spread is a score of the sampled answers only
    assert np.isnan(answered.loc[("noise_2", "lift_greedy"), "spread"])
    assert np.isnan(answered.loc[("noise_2", "knn"), "spread"])
    voted = answered.loc["sampled"]
    assert {"lift", "lift_greedy", "lift_scored", "lift_corrected"} <= set(voted.index)
    assert voted.loc[["lift", "lift_scored"], "ece"].between(0, 1).all()
    with pytest.raises(DatasetInputError, match="samples"):
        create_pipeline("uncertainty", {**params, "samples": 1}, tasks)


def test_uncertainty_samples_a_regression_task_that_scores_its_numbers(tasks):
    # the task's own answers scored (a user's `regression.lift.generation.mode: score`): the
    # study's variants still sample (this refused to build every pipeline before)
    tasks["regression"] = regression_section(tasks)
    tasks["regression"]["lift"]["generation"] = {"mode": "score"}
    params = {
        "samples": 3,
        "noise": [0.0],
        "datasets": {"regression": ["linear_p1"], "classification": []},
        "tables": {
            "regression": {"linear_p1": {"source": {"kind": "synthetic", "name": "linear"}}}
        },
    }
    assert len(create_pipeline("uncertainty", params, tasks).nodes) > 0


def test_balanced_rows_hold_every_class_as_evenly_as_their_counts_allow():
    targets = np.array([0] * 30 + [1] * 10 + [2] * 3)
    order = variants.balanced_order(targets, seed=1)
    assert sorted(order) == list(range(len(targets)))
    assert np.bincount(targets[order[:9]]).tolist() == [3, 3, 3]
    assert np.bincount(targets[order[:15]]).tolist() == [6, 6, 3]  # the rarest ran out
    splits = split_rows("t", targets, repeats=2)
    cut = variants.training_subset("t", splits, targets, 6, seed=0)
    for repeat in (0, 1):
        kept = rows_of(cut, repeat, "train")
        assert np.bincount(targets[kept], minlength=3).tolist() == [2, 2, 2]
        for split in ("validation", "test"):
            assert set(rows_of(cut, repeat, split)) == set(rows_of(splits, repeat, split))
    with pytest.raises(DatasetInputError, match="keep at least one"):
        variants.training_subset("t", splits, targets, 0)


def test_few_numeric_training_rows_are_drawn_at_random_a_smaller_count_within_a_larger():
    targets = np.arange(60.0)
    splits = split_rows("t", targets, repeats=2, stratify=False)
    five, twenty = (
        variants.training_subset("t", splits, targets, n, balanced=False, seed=0) for n in (5, 20)
    )
    drawn = []
    for repeat in (0, 1):
        few, more = rows_of(five, repeat, "train"), rows_of(twenty, repeat, "train")
        assert len(few) == 5 and len(more) == 20 and set(few) <= set(more)
        assert sorted(few) != sorted(rows_of(splits, repeat, "train"))[:5]  # not the lowest
        assert set(rows_of(five, repeat, "test")) == set(rows_of(splits, repeat, "test"))
        drawn.append(set(few))
    assert drawn[0] != drawn[1]


def test_demonstrations_are_training_rows_as_many_as_fit_the_context(tiny_model_dir, caplog):
    from transformers import AutoTokenizer

    from lift.method.in_context import demonstrations

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    train = pd.DataFrame(
        {
            "prompt": [f"row {i} is?###" for i in range(8)],  # 13 characters, 13 tokens
            "completion": [f" {i % 2}@@@" for i in range(8)],  # 5 tokens, and a newline
            "target": [i % 2 for i in range(8)],
        }
    )
    queries = ["test row 100 is?###"]  # 19 tokens: never among the demonstrations
    text, count = demonstrations("t", train, queries, tokenizer, context=1000, answer_tokens=4)
    assert count == 8 and text.count("\n") == 8 and "test row" not in text
    assert all(p + c + "\n" in text for p, c in train[["prompt", "completion"]].to_numpy())
    labels = [int(line.split("?###")[1][1]) for line in text.splitlines()]
    assert labels in ([0, 1] * 4, [1, 0] * 4)  # class-balanced from the first row on
    text, count = demonstrations("t", train, queries, tokenizer, 19 + 4 + 3 * 19, 4)
    assert count == 3 and len(tokenizer(text).input_ids) <= 3 * 19
    assert "3 of 8 demonstrations fit" in caplog.text
    with pytest.raises(DatasetInputError, match="not one demonstration fits"):
        demonstrations("t", train, queries, tokenizer, 30, 4)


def test_in_context_answers_with_the_rows_lift_is_fine_tuned_on(tasks, tiny_model_dir, publish):
    params = {
        "demonstrations": 6,
        "subset_epochs": 1,
        "datasets": {"classification": ["moons"]},
        "tables": {"classification": {"moons": MOONS}},
    }
    publish(("in_context", "moons", "in_context", "in_context_generated", "accuracy", 0.5))
    pipeline = create_pipeline("in_context", params, tasks)
    names = {n.name for n in pipeline.nodes}
    assert "in_context.classification.moons.in_context.predict_in_context" in names
    assert "in_context.classification.moons.in_context.fine_tune" not in names
    catalog = catalog_for("classification", tasks["classification"], tiny_model_dir, {})
    catalog["params:in_context.tables.classification.moons"] = MOONS
    outputs = SequentialRunner().run(pipeline, catalog)
    results = outputs["in_context.results"].load().set_index(["variant", "model"])
    assert isinstance(outputs["in_context.figure"].load(), Figure)
    shown = results.loc["in_context"]
    assert {"in_context", "in_context_generated", *SMALL_GRIDS} == set(shown.index)
    assert (shown.loc[["in_context", "in_context_generated"], "demonstrations"] == 6).all()
    assert shown.loc["in_context", "answers"] == "score"
    assert shown.loc["in_context_generated", "answers"] == "generate"
    # LIFT/subset is fine-tuned on the rows shown in context; the baselines fitted on them too
    assert (results.loc["subset", "n_train"] == 6).all()
    assert (shown["n_train"] == 6).all()
    assert results.loc[("full", "lift"), "n_train"] > 6
    assert results.loc[("in_context", "in_context_generated"), "paper_accuracy"] == 0.5


def test_pretext_tasks_have_the_targets_features_and_classes():
    table, schema, splits = iris_like()
    from lift.method.two_stage import pretext_table

    pretext = pretext_table("iris", table, schema, splits, rows=40, tasks=2, seed=0)
    assert list(pretext.columns[:2]) == list(schema["features"]) == ["x1", "x2"]
    assert set(pretext[schema["target"]]) == {0, 1, 2}
    assert pretext.groupby("pretext").size().tolist() == [40, 40]
    assert pretext.groupby(["pretext", "split"]).size().tolist() == [32, 8, 32, 8]
    first, second = (part[schema["features"]] for _, part in pretext.groupby("pretext"))
    assert not np.allclose(first.to_numpy(), second.to_numpy())  # two different tasks
    with pytest.raises(DatasetInputError, match="more features"):
        pretext_table("one", table, {**schema, "features": ["a"]}, splits, 40, 1, 0)
    raw = pd.DataFrame({"x1": np.arange(20.0), "x2": -np.arange(20.0), "y": np.arange(20.0)})
    numeric, numbers = prepare_table("n", raw, "y", "regression")
    held_in = split_rows("n", numeric["y"].to_numpy(), test_size=0.25, stratify=False)
    planes = pretext_table("n", numeric, numbers, held_in, rows=40, tasks=2, seed=0)
    assert list(planes.columns[:3]) == ["x1", "x2", "y"]
    kept = numeric.iloc[variants.held_in_rows(held_in)]  # the test rows' range is not read
    for name in ("x1", "x2"):
        assert kept[name].min() <= planes[name].min() and planes[name].max() <= kept[name].max()


def test_two_stage_fine_tunes_the_same_rows_from_the_first_stage(tasks, tiny_model_dir, publish):
    plane = {"kind": "synthetic", "name": "plane", "coefficients": [0.2, 0.4]}
    plane.update(n_train=20, n_validation=6, n_test=6)
    tasks["regression"] = regression_section(tasks)
    params = {
        "rows": [6],
        "per_table": {"plane": [3]},
        "pretext": {"rows": 20, "rounds": 1, "epochs": 1},
        "datasets": {"classification": ["moons"], "regression": ["plane"]},
        "tables": {"classification": {"moons": MOONS}, "regression": {"plane": {"source": plane}}},
    }
    publish(("two_stage", "plane", "two_stage_3", "lift", "rmse", 1.78))
    pipeline = create_pipeline("two_stage", params, tasks)
    second = next(n for n in pipeline.nodes if n.name.endswith("two_stage_6.fine_tune"))
    assert "two_stage.classification.moons.pretext.pretext_adapter" in second.inputs
    plain = next(n for n in pipeline.nodes if n.name.endswith("fine_tune_6.fine_tune"))
    assert not any("pretext" in name for name in plain.inputs)
    catalog = catalog_for("classification", tasks["classification"], tiny_model_dir, {})
    catalog["params:two_stage.tables.classification.moons"] = MOONS
    for key, value in regression_parameters(tasks).items():
        catalog[key] = value
    catalog["params:two_stage.tables.regression.plane"] = {"source": plane}
    outputs = SequentialRunner().run(pipeline, catalog)
    everything = outputs["two_stage.results"].load()
    assert isinstance(outputs["two_stage.figure"].load(), Figure)
    results = everything[everything["task"] == "classification"].set_index(["variant", "model"])
    assert (results["n_train"] == 6).all()
    assert {"fine_tune_6", "two_stage_6"} == set(results.index.get_level_values(0))
    assert set(results.loc["two_stage_6"].index) == {"lift", "lift_corrected", *SMALL_GRIDS}
    # the regression plane: its own sizes, a first stage on pretext planes, compared on RMSE
    numeric = everything[everything["task"] == "regression"].set_index(["variant", "model"])
    assert {"fine_tune_3", "two_stage_3"} == set(numeric.index.get_level_values(0))
    assert (numeric["n_train"] == 3).all() and numeric["rmse"].notna().all()
    assert numeric.loc[("two_stage_3", "lift"), "paper_rmse"] == 1.78
    assert "paper_rae" not in numeric  # compared on RMSE only
