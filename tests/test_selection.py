"""Settings chosen on the validation rows (``lift.selection``): every candidate is fine-tuned,
the best on validation is kept and recorded, and prediction uses what was chosen."""

from dataclasses import replace

import pandas as pd
import pytest

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings
from lift.method import learner
from lift.method.language_model import BaseModel
from lift.method.tasks import Classification
from lift.project.datasets import AdapterDataset
from test_fine_tuning import FAST, letter_prompts


def test_candidates_are_every_combination_of_the_listed_values():
    settings = LiftSettings.from_params(
        {
            "training": {"learning_rate": 0.002, "epochs": 4},
            "selection": {"encoding": ["raw", "quantile", "raw"], "epochs": [2, 6]},
        }
    )
    chosen = [c.chosen() for c in settings.candidates()]
    assert chosen == [
        {"encoding": e, "learning_rate": 0.002, "epochs": n}
        for e in ("raw", "quantile")
        for n in (2, 6)
    ]
    assert all(not c.selection.encoding and not c.selection.epochs for c in settings.candidates())
    assert settings.encodings() == ["raw", "quantile"]
    # no selection: the settings themselves, and no extra fine-tuning
    assert LiftSettings().candidates() == [LiftSettings()]


def test_the_candidate_with_the_best_validation_score_is_kept(tiny_model_dir, tmp_path):
    base = BaseModel("tiny", tiny_model_dir)
    prompts = letter_prompts(6)
    settings = LiftSettings.from_params(
        {
            **FAST,
            "serialization": {"encoding": "raw"},  # the letters' prompts
            "training": {**FAST["training"], "epochs": 3},
            # a learning rate too small to learn anything in three epochs, and one that learns
            "selection": {"learning_rate": [1e-7, 0.03]},
        }
    )
    adapter = learner.fine_tune("letters", base, prompts, Classification(3), settings)[0]
    assert [c["learning_rate"] for c in adapter.candidates] == [1e-7, 0.03]
    scores = [c["validation_accuracy"] for c in adapter.candidates]
    assert scores[1] > scores[0]
    assert adapter.chosen == {"encoding": "raw", "learning_rate": 0.03, "epochs": 3}
    # each candidate's outcome says whether it learnt more than the class prior, and how long
    # it ran (one at the prior gives up after half its epochs: another candidate is there)
    assert adapter.status == "learnt" == adapter.candidates[1]["status"]
    for outcome in adapter.candidates:
        assert outcome["epochs_run"] == (2 if outcome["status"] == "at_prior" else 3)
    assert adapter.history[adapter.best_epoch - 1]["validation_accuracy"] == max(scores)
    # what was chosen is stored with the adapter
    dataset = AdapterDataset(filepath=str(tmp_path / "adapters"))
    dataset.save({0: adapter})
    loaded = dataset.load()[0]
    assert loaded.chosen == adapter.chosen and loaded.candidates == adapter.candidates


def test_prediction_reads_the_prompts_of_the_chosen_encoding(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    task = Classification(3)
    quantile = letter_prompts(6).assign(encoding="quantile")
    settings = LiftSettings.from_params(
        {
            **FAST,
            "training": {**FAST["training"], "epochs": 2},
            "serialization": {"encoding": "quantile"},
        }
    )
    with pytest.raises(DatasetInputError, match="none written with the `standardized` encoding"):
        learner.fine_tune("letters", base, quantile, task, LiftSettings())
    adapter = learner.fine_tune("letters", base, quantile, task, settings)[0]
    assert adapter.chosen["encoding"] == "quantile"
    # the other encoding's prompts say something else entirely
    raw = quantile.assign(encoding="raw", prompt="z z z###")
    both = pd.concat([raw, quantile], ignore_index=True)
    alone = learner.predict("letters", base, {0: adapter}, quantile, task, settings)
    for chosen in ("quantile", "raw"):
        picked = replace(adapter, chosen={"encoding": chosen})
        predicted = learner.predict("letters", base, {0: picked}, both, task, settings)
        assert len(predicted) == len(alone)  # one answer per test row, not one per encoding
        same = predicted["output"].tolist() == alone["output"].tolist()
        assert same == (chosen == "quantile")


@pytest.mark.parametrize("selection", [{}, {"encoding": ["raw", "quantile"]}])
def test_the_pipeline_fits_and_writes_every_candidate_encoding(selection):
    from lift.method.encoding import fit_encodings
    from lift.method.serialization import serialize
    from test_encoding import diabetes_like

    table, schema, splits = diabetes_like()
    settings = LiftSettings.from_params({"selection": selection})
    encodings = fit_encodings(table, schema, splits, settings.serialization, settings.encodings())
    prompts = serialize(table, schema, splits, settings.serialization, encodings)
    names = selection.get("encoding", [LiftSettings().serialization.encoding])
    assert encodings.names() == names
    assert prompts.groupby("encoding").size().to_dict() == {name: len(splits) for name in names}
    if len(names) > 1:
        with pytest.raises(KeyError, match="name the one to use"):
            encodings.of(0)
        assert encodings.of(0, "quantile").encoding == "quantile"
