"""Collation, loss masking, training and reproducibility on a tiny model built in the test."""

import os
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings
from lift.method import language_model, learner
from lift.method.checkpoints import Checkpoints
from lift.method.fine_tuning import (
    IGNORE,
    Example,
    Job,
    check_fits,
    collate,
    completion_loss,
    encode,
    interrupt_between_steps,
    train_adapter,
    train_adapters,
    training_memory,
)
from lift.method.language_model import BaseModel, load_model
from lift.method.tasks import Classification, Regression


@pytest.fixture
def tiny(tiny_model_dir):
    return load_model(BaseModel("tiny", tiny_model_dir), torch.device("cpu"), torch.float32)


def test_collate_left_pads_and_targets_only_the_completion():
    examples = [Example([5, 6, 7], [8, 1]), Example([5], [9, 9, 1])]
    batch = collate(examples, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 1], [0, 5, 9, 9, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4], [0, 0, 1, 2, 3]]
    assert batch["targets"].tolist() == [
        [IGNORE, IGNORE, IGNORE, 8, 1],
        [IGNORE, IGNORE, 9, 9, 1],
    ]
    assert batch["completion_length"] == 3


def test_encode_appends_eos_to_completions(tiny):
    _, tokenizer = tiny
    (example,) = encode(tokenizer, ["ab###"], [" 1@@@"])
    assert tokenizer.decode(example.prompt_ids) == "ab###"
    assert example.completion_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(example.completion_ids[:-1]) == " 1@@@"


def test_completion_loss_equals_the_full_logits_loss_on_completion_tokens(tiny):
    model, tokenizer = tiny
    examples = encode(tokenizer, ["x=1.00###", "x=22.50, y=3.00###"], [" 0@@@", " 12@@@"])
    batch = collate(examples, tokenizer.pad_token_id)
    loss, count = completion_loss(model, batch)
    # the same loss from every position's logits, computed the plain way
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
    ).logits
    targets = batch["targets"][:, 1:]
    expected = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    assert count == sum(len(e.completion_ids) for e in examples) == 6 + 7
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-4)


def letter_prompts(n_per_class: int = 12) -> pd.DataFrame:
    """A trivially learnable task: the letter in the prompt decides the class."""
    rows = []
    for label, letter in enumerate("abc"):
        for i in range(n_per_class):
            share = i / n_per_class
            split = "train" if share < 0.6 else "validation" if share < 0.8 else "test"
            rows.append((0, split, len(rows), f"{letter} {i % 4}###", f" {label}@@@", label))
    return pd.DataFrame(rows, columns=["repeat", "split", "row", "prompt", "completion", "target"])


FAST = {
    "training": {"learning_rate": 0.03, "epochs": 6, "batch_size": 4, "seed": 0},
    "lora": {"rank": 8, "alpha": 16},
}


def test_training_learns_a_trivially_learnable_mapping(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    prompts = letter_prompts()
    settings = LiftSettings.from_params(FAST)
    adapters = learner.fine_tune("letters", base, prompts, Classification(3), settings)
    history = adapters[0].history
    assert len(history) == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 3
    # where and in what precision: the base in bf16 on a GPU and where the CPU multiplies it
    # natively
    device = language_model.select_device().type
    held = "bfloat16" if device == "cuda" or language_model.cpu_has_bf16() else "float32"
    assert adapters[0].trained_on == {"device": device, "weights": held, "products": held}
    best = history[adapters[0].best_epoch - 1]
    assert best["validation_accuracy"] == max(h["validation_accuracy"] for h in history)
    predictions = learner.predict("letters", base, adapters, prompts, Classification(3), settings)
    assert (predictions["y_pred"] == predictions["y_true"]).mean() == 1.0
    assert predictions["valid"].all()
    assert set(predictions.columns) >= {"model", "repeat", "row", "y_true", "y_pred", "output"}
    assert set(predictions["answers"]) == {settings.generation.answered_by()}


def test_a_prompt_longer_than_the_context_stops_before_training_with_the_numbers(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    prompts = letter_prompts()
    prompts.loc[0, "prompt"] = "x=1.00, " * 80  # 640 characters: tokens of the tiny model
    with pytest.raises(DatasetInputError) as caught:
        learner.fine_tune(
            "letters", base, prompts, Classification(3), LiftSettings.from_params(FAST)
        )
    said = str(caught.value)
    assert "Fine-tuning letters repeat 0: the longest prompt with its answer is 6" in said
    assert "more than the model's context of 512" in said
    assert "`drop_columns`" in said


def test_a_batch_that_would_not_fit_in_memory_stops_before_training(tiny):
    model, _ = tiny
    needed = training_memory(model.config, 300, 8, "eager")
    # the attention weights of the eager kernel grow with the square of the prompt
    assert training_memory(model.config, 600, 8, "eager") > 3 * needed
    check_fits(model, [300, 20], 8, "probe repeat 0", available=needed)
    with pytest.raises(DatasetInputError, match=r"lower `lift.training.batch_size`"):
        check_fits(model, [300, 20], 8, "probe repeat 0", available=needed - 1)


def test_random_weights_keep_the_architecture_and_a_seed_repeats_them(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    settings = LiftSettings.from_params(FAST)
    pretrained, _ = learner.load_base(base, settings)
    # (the tiny model was itself drawn with seed 0)
    random = settings.overridden({"weights": "random", "training": {"seed": 7}})
    drawn, _ = learner.load_base(base, random)
    again, _ = learner.load_base(base, random)
    other, _ = learner.load_base(base, random.overridden({"training": {"seed": 1}}))
    weights = {name: p for name, p in pretrained.named_parameters()}
    assert type(drawn) is type(pretrained) and drawn.config.to_dict() == pretrained.config.to_dict()
    for name, parameter in drawn.named_parameters():
        assert parameter.shape == weights[name].shape and parameter.dtype == weights[name].dtype
    projection = "model.layers.0.self_attn.q_proj.weight"
    drawn_weights = dict(drawn.named_parameters())
    assert not torch.equal(drawn_weights[projection], weights[projection])
    assert torch.equal(drawn_weights[projection], dict(again.named_parameters())[projection])
    assert not torch.equal(drawn_weights[projection], dict(other.named_parameters())[projection])


def test_ctrl_c_is_never_lost_and_a_second_press_interrupts_at_once():
    before = signal.getsignal(signal.SIGINT)
    with interrupt_between_steps() as interrupted:
        assert not interrupted()
        os.kill(os.getpid(), signal.SIGINT)  # delivered before the next bytecode
        assert interrupted()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_during_training_stops_after_the_step_with_no_adapter(tiny):
    model, tokenizer = tiny
    prompts = letter_prompts()
    train = prompts[prompts["split"] == "train"]
    settings = LiftSettings.from_params(FAST)
    validated = []

    def press_ctrl_c(peft_model):  # after the first epoch
        validated.append(True)
        os.kill(os.getpid(), signal.SIGINT)
        return {"accuracy": 0.0}

    pairs = (list(train["prompt"]), list(train["completion"]))
    with pytest.raises(KeyboardInterrupt, match=r"letters: interrupted in epoch 2 of 6"):
        train_adapter(
            model,
            tokenizer,
            pairs,
            pairs,
            press_ctrl_c,
            settings.lora,
            settings.training,
            description="letters",
        )
    assert validated == [True]  # stopped in the next epoch, before validating it


@pytest.mark.parametrize("average", [None, 1.0])  # with it, the weights' average resumes too
def test_an_interrupted_fine_tuning_resumes_after_its_last_epoch_as_if_never_stopped(
    tiny, tmp_path, average
):
    model, tokenizer = tiny
    prompts = letter_prompts()
    train = prompts[prompts["split"] == "train"]
    pairs = (list(train["prompt"]), list(train["completion"]))
    settings = LiftSettings.from_params(
        {
            "training": {**FAST["training"], "average": average},
            "lora": {**FAST["lora"], "dropout": 0.1},
        }
    )
    validated = []

    def jobs(stop_after: int | None = None) -> list[Job]:
        def validate(peft_model, seed):  # scores that make the best epoch move
            validated.append(seed)
            if len(validated) == stop_after:
                os.kill(os.getpid(), signal.SIGINT)
            return {"accuracy": [0.5, 0.7, 0.6, 0.8, 0.8, 0.75][len(validated) // 2 % 6]}

        return [
            Job(
                pairs,
                pairs,
                lambda m, seed=seed: validate(m, seed),
                settings.training.model_copy(update={"seed": seed}),
                description=f"letters {seed}",
                identity="letters",
            )
            for seed in (0, 1)
        ]

    # two adapters in two slots, never stopped
    whole = train_adapters(model, tokenizer, jobs(), settings.lora, slots=2)
    # the same, kept after each epoch, stopped by Ctrl-C in the fourth epoch
    validated.clear()
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    with pytest.raises(KeyboardInterrupt, match=r"the same fine-tuning run again resumes there"):
        train_adapters(model, tokenizer, jobs(6), settings.lora, 2, checkpoints)
    assert len(list(checkpoints.folder.glob("*.pt"))) == 2
    # another training (other rows) does not take their states
    other = [replace(job, identity="other") for job in jobs()]
    validated.clear()
    train_adapters(model, tokenizer, other[:1], settings.lora, 1, checkpoints)
    assert len(validated) == 6
    # started again: the fourth epoch on, the same numbers as the run never stopped
    validated[:] = [None] * 6
    resumed = train_adapters(model, tokenizer, jobs(), settings.lora, 2, checkpoints)
    assert len(validated) == 6 + 2 * 3
    for ours, theirs in zip(resumed, whole, strict=True):
        assert ours.best_epoch == theirs.best_epoch
        assert [h["train_loss"] for h in ours.history] == [h["train_loss"] for h in theirs.history]
        for key, weight in theirs.weights.items():
            torch.testing.assert_close(ours.weights[key], weight, rtol=0, atol=0)
    assert not checkpoints.folder.exists()  # forgotten once the adapters are done, its folder too


@pytest.mark.parametrize(
    ("bf16", "dtype", "weights", "products"),
    [
        (False, "auto", "float32", "float32"),
        (True, "auto", "bfloat16", "bfloat16"),  # the frozen base held in bf16
        (True, "float32", "float32", "float32"),
        (False, "bfloat16", "bfloat16", "bfloat16"),  # bf16 without native products
        (True, "mixed", "float32", "bfloat16"),  # float32 weights cast at every product
    ],
)
def test_training_learns_in_float32_and_in_cpu_bfloat16(
    tiny_model_dir, monkeypatch, bf16, dtype, weights, products
):
    # every precision must learn (a cached bf16 copy of the LoRA weights under autocast would
    # freeze them for the whole run; bf16 adapters would lose their small updates)
    monkeypatch.setattr(language_model, "cpu_has_bf16", lambda: bf16)
    base = BaseModel("tiny", tiny_model_dir)
    training = {**FAST["training"], "epochs": 3}
    settings = LiftSettings.from_params(
        {**FAST, "training": training, "device": "cpu", "dtype": dtype}
    )
    (adapter,) = learner.fine_tune(
        "letters", base, letter_prompts(), Classification(3), settings
    ).values()
    assert adapter.history[-1]["train_loss"] < adapter.history[0]["train_loss"] / 2
    assert adapter.trained_on == {"device": "cpu", "weights": weights, "products": products}
    assert all(w.dtype == torch.float32 for w in adapter.weights.values())
    # answers: float32 weights with the adapter merged into them, bf16 ones with the adapter
    # beside them, as in training (merged, its updates smaller than bf16's rounding are lost)
    with learner.merged(base, adapter, settings) as (model, _):
        assert next(model.parameters()).dtype == getattr(torch, weights)
        assert hasattr(model, "peft_config") == (weights == "bfloat16")


def test_same_seed_same_adapter_and_predictions(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    prompts = letter_prompts(6)
    settings = LiftSettings.from_params({**FAST, "training": {**FAST["training"], "epochs": 2}})
    first = learner.fine_tune("letters", base, prompts, Classification(3), settings)
    second = learner.fine_tune("letters", base, prompts, Classification(3), settings)
    for key, value in first[0].weights.items():
        torch.testing.assert_close(value, second[0].weights[key], rtol=0, atol=0)
    outputs = [
        learner.predict("letters", base, adapters, prompts, Classification(3), settings)[
            "output"
        ].tolist()
        for adapters in (first, second)
    ]
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("average_repeats", [True, False])
def test_scored_repeats_are_also_answered_by_their_adapters_averaged(
    tiny_model_dir, average_repeats
):
    base = BaseModel("tiny", tiny_model_dir)
    first = letter_prompts(6)
    # the second repeat: the same test rows, its training and validation rows drawn otherwise
    second = first.assign(repeat=1)
    held_out = second["split"] != "test"
    second.loc[held_out, "split"] = (
        second.loc[held_out, "split"].sample(frac=1, random_state=1).to_numpy()
    )
    prompts = pd.concat([first, second], ignore_index=True)
    settings = LiftSettings.from_params(
        {
            **FAST,
            "training": {**FAST["training"], "epochs": 1},
            "generation": {"mode": "score", "average_repeats": average_repeats},
        }
    )
    adapters = learner.fine_tune("letters", base, prompts, Classification(3), settings)
    predictions = learner.predict("letters", base, adapters, prompts, Classification(3), settings)
    averaged = predictions[predictions["model"] == "lift_averaged"]
    if not average_repeats:
        assert averaged.empty
        return
    test_rows = first.loc[first["split"] == "test", "row"].to_numpy()
    assert (averaged["row"].to_numpy() == test_rows).all() and set(averaged["repeat"]) == {0}
    columns = ["proba_0", "proba_1", "proba_2"]
    each = [
        predictions[(predictions["model"] == "lift") & (predictions["repeat"] == r)] for r in (0, 1)
    ]
    assert not np.allclose(each[0][columns].to_numpy(), each[1][columns].to_numpy())
    mean = (each[0][columns].to_numpy() + each[1][columns].to_numpy()) / 2
    np.testing.assert_allclose(averaged[columns].to_numpy(), mean)
    assert (averaged["y_pred"].to_numpy() == mean.argmax(axis=1)).all()
    assert set(averaged["answers"]) == {"score, 2 repeats averaged"}
    assert set(averaged["lift_status"]) <= {"learnt", "at_prior", ""}


def test_numbers_of_several_repeats_are_averaged_over_the_valid_answers():
    # three repeats answer rows 7 and 9; repeat 1 fails on row 7, every repeat on row 9 (whose
    # answers are then the repeats' training means)
    answered = pd.DataFrame(
        {
            "model": "lift",
            "repeat": [0, 0, 1, 1, 2, 2],
            "row": [7, 9, 7, 9, 7, 9],
            "y_true": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0],
            "y_pred": [0.5, 3.0, 3.0, 4.0, 1.5, 5.0],
            "valid": [True, False, False, False, True, False],
            "answers": "generate",
            "lift_status": ["learnt", "learnt", "at_prior", "at_prior", "learnt", "learnt"],
        }
    )
    averaged = learner.averaged_repeats(answered)
    assert averaged["row"].tolist() == [7, 9] and averaged["y_true"].tolist() == [1.0, 2.0]
    assert averaged["y_pred"].tolist() == [1.0, 4.0]
    assert averaged["valid"].tolist() == [True, False]
    assert not any(c.startswith("proba_") for c in averaged.columns)
    assert set(averaged["answers"]) == {"generate, 3 repeats averaged"}
    assert set(averaged["model"]) == {"lift_averaged"} and set(averaged["repeat"]) == {0}
    assert set(averaged["lift_status"]) == {"learnt"}
    # repeats run without repeat 0 (`split.first_repeat`): under the first of theirs
    later = learner.averaged_repeats(answered.assign(repeat=answered["repeat"] + 1))
    assert set(later["repeat"]) == {1} and later["y_pred"].tolist() == [1.0, 4.0]


def number_prompts(n_per_letter: int = 12) -> pd.DataFrame:
    """``letter_prompts`` answered by a number per letter: a 0.5, b 1.5, c 2.5."""
    prompts = letter_prompts(n_per_letter)
    numbers = prompts["target"] + 0.5
    return prompts.assign(completion=[f" {n:.1f}@@@" for n in numbers], target=numbers)


def test_scored_numbers_answer_the_median_of_a_grid_as_the_training_targets_are_written(
    tiny_model_dir,
):
    base = BaseModel("tiny", tiny_model_dir)
    prompts = number_prompts()
    settings = LiftSettings.from_params({**FAST, "generation": {"mode": "score"}})
    adapters = learner.fine_tune("numbers", base, prompts, Regression(), settings)
    assert adapters[0].history[-1]["validation_rae"] < 0.5  # greedy answers choose the epoch
    predictions = learner.predict("numbers", base, adapters, prompts, Regression(), settings)
    test = prompts[prompts["split"] == "test"]
    # within the half step of the right number (the median interpolated inside its grid step)
    np.testing.assert_allclose(predictions["y_pred"], test["target"], rtol=0, atol=0.05 + 1e-9)
    assert predictions["valid"].all() and set(predictions["answers"]) == {"score"}


def test_validation_as_test_chooses_the_epoch_on_the_answers_the_test_rows_get(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    model, tokenizer = load_model(base, torch.device("cpu"), torch.float32)
    prompts = number_prompts()
    train, validation = (prompts[prompts["split"] == split] for split in ("train", "validation"))
    scored = LiftSettings.from_params({"generation": {"mode": "score"}})
    answers = learner.answer(
        model,
        tokenizer,
        validation["prompt"],
        train["completion"],
        Regression(),
        train["target"].to_numpy(),
        scored,
    )
    truth = validation["target"].to_numpy()
    expected = Regression().validation_metrics(truth, answers.predictions, answers.valid)
    as_test = scored.overridden({"generation": {"validation": "as_test"}})
    validate = learner.validator(tokenizer, validation, train, Regression(), as_test)
    assert validate(model) == pytest.approx(expected) and expected["invalid_rate"] == 0
    # by default greedy answers: an untrained model's text, few numbers among them
    greedy = learner.validator(tokenizer, validation, train, Regression(), scored)(model)
    assert greedy["invalid_rate"] > 0.5


def test_the_numbers_scored_span_the_training_targets_and_a_tenth_past_each_end():
    completions = [" 1.0@@@", " -0.0@@@", " -1.0@@@", " 0.5@@@"]
    numbers, written = Regression().scored_numbers(completions)
    assert numbers.min() == pytest.approx(-1.2) and numbers.max() == pytest.approx(1.2)
    assert len(written) == 26 and {" 0.0@@@", " -0.0@@@", " 0.3@@@"} <= set(written)
    assert dict(zip(written, numbers, strict=True))[" -0.0@@@"] == 0.0
    # the median of the scores' distribution, in the target's units
    scores = np.log(np.full((2, len(numbers)), 1e-9))
    scores[0, written.index(" 1.0@@@")] = scores[0, written.index(" -1.0@@@")] = np.log(0.3)
    scores[0, written.index(" 0.5@@@")] = np.log(0.4)
    scores[1, written.index(" -1.2@@@")] = 0.0
    for median in ("interpolated", "grid"):
        answers = Regression().read_scores(scores, numbers, median)
        np.testing.assert_allclose(answers.predictions, [0.5, -1.2])
    # 0.4 on 0.0 (the numbers from -0.05 to 0.05) and 0.6 on 0.1 (0.05 to 0.15): the median
    # is a sixth of the way into 0.1's half step, where the grid's median is 0.1 itself
    scores = np.log(np.full((1, len(numbers)), 1e-12))
    scores[0, written.index(" 0.0@@@")] = np.log(0.4)
    scores[0, written.index(" 0.1@@@")] = np.log(0.6)
    interpolated = Regression().read_scores(scores, numbers, "interpolated").predictions
    np.testing.assert_allclose(interpolated, [0.05 + 0.1 / 6], atol=1e-9)
    assert Regression().read_scores(scores, numbers, "grid").predictions == pytest.approx([0.1])
    with pytest.raises(DatasetInputError, match="would score 24,001 numbers per prompt"):
        Regression().scored_numbers([" 1.000@@@", " 21.000@@@"])
    with pytest.raises(DatasetInputError, match="not all numbers \\(e.g. 'many'\\)"):
        Regression().scored_numbers([" 1.0@@@", " many@@@"])


def test_parsed_predictions_count_unparsable_answers_as_invalid(tiny_model_dir):
    # an untrained random model answers gibberish: every answer is invalid, none is dropped
    base = BaseModel("tiny", tiny_model_dir)
    model, tokenizer = load_model(base, torch.device("cpu"), torch.float32)
    prompts = letter_prompts(3)
    answers = learner.answer(
        model,
        tokenizer,
        prompts["prompt"],
        prompts["completion"],
        Classification(3),
        prompts["target"].to_numpy(),
        LiftSettings.from_params({}),
    )
    labels, valid = answers.predictions, answers.valid
    assert len(answers.texts) == len(labels) == len(valid) == len(prompts)
    assert np.all((labels == -1) | ((labels >= 0) & (labels < 3)))
    assert np.array_equal(valid, labels != -1)


def test_sampling_gives_k_seeded_answers_per_prompt(tiny):
    from lift.method.prediction import generate

    model, tokenizer = tiny
    prompts = ["a 1###", "bb 22###", "c###"]
    first = generate(model, tokenizer, prompts, max_new_tokens=4, samples=3, seed=5)
    assert [len(answers) for answers in first] == [3, 3, 3]
    assert first == generate(model, tokenizer, prompts, max_new_tokens=4, samples=3, seed=5)
    # a random model's sampled answers differ from one another
    assert any(len(set(answers)) > 1 for answers in first)
    greedy = generate(model, tokenizer, prompts, max_new_tokens=4)
    assert [len(answers) for answers in greedy] == [1, 1, 1]


def test_class_scores_are_the_completion_log_probabilities_of_training(tiny):
    # scoring with a shared key/value cache gives what the training loss gives, per completion
    from lift.method.fine_tuning import collate, completion_loss, encode
    from lift.method.prediction import score_completions

    model, tokenizer = tiny
    prompts = ["a 1###", "bb 22 ccc###", "c###"]
    completions = [" 0@@@", " 1@@@", " 12@@@"]  # shared " ", tails of different lengths
    scores = score_completions(model, tokenizer, prompts, completions, batch_size=2)
    with torch.no_grad():
        for i, prompt in enumerate(prompts):
            for k, completion in enumerate(completions):
                batch = collate(encode(tokenizer, [prompt], [completion]), tokenizer.pad_token_id)
                loss, _ = completion_loss(model, batch)
                assert scores[i, k] == pytest.approx(-float(loss), abs=1e-4)


def test_scored_classes_give_the_validation_loss_without_a_pass_of_its_own(
    tiny_model_dir, monkeypatch
):
    from lift.method import fine_tuning

    def no_pass(*args):
        raise AssertionError("the validation rows' loss computed in a pass of its own")

    monkeypatch.setattr(fine_tuning, "mean_loss", no_pass)
    base = BaseModel("tiny", tiny_model_dir)
    settings = LiftSettings.from_params(
        {**FAST, "training": {**FAST["training"], "epochs": 2}, "generation": {"mode": "score"}}
    )
    adapter = learner.fine_tune("letters", base, letter_prompts(), Classification(3), settings)[0]
    monkeypatch.undo()
    # what that pass gives for the kept adapter: the mean loss of the validation completions
    model, tokenizer = learner.load_base(base, settings)
    validation = letter_prompts().query("split == 'validation'")
    examples = encode(tokenizer, validation["prompt"], validation["completion"])
    with learner.precision(settings), torch.no_grad():
        loss = fine_tuning.mean_loss(
            adapter.attach(model).eval(), examples, tokenizer.pad_token_id, 32
        )
    assert adapter.kept["validation_loss"] == pytest.approx(loss, rel=0.02)


def test_a_second_stage_starts_from_the_first_stages_weights(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    prompts = letter_prompts(6)
    fast = {**FAST, "training": {**FAST["training"], "epochs": 1}}
    first = learner.fine_tune(
        "letters", base, prompts, Classification(3), LiftSettings.from_params(fast)
    )[0]
    still = {**fast, "training": {**fast["training"], "learning_rate": 1e-12, "warmup_ratio": 0}}
    settings = LiftSettings.from_params(still)
    second = learner.fine_tune("letters", base, prompts, Classification(3), settings, start=first)
    fresh = learner.fine_tune("letters", base, prompts, Classification(3), settings)
    assert set(second[0].weights) == set(first.weights)
    for key, weight in first.weights.items():
        torch.testing.assert_close(second[0].weights[key], weight, rtol=0, atol=1e-6)
    # from LoRA's initialisation, B is zero: what the first stage learnt is not there
    assert max(float(w.abs().max()) for k, w in fresh[0].weights.items() if "lora_B" in k) < 1e-9
    assert max(float(w.abs().max()) for k, w in first.weights.items() if "lora_B" in k) > 1e-3
    other = LiftSettings.from_params({**still, "lora": {"rank": 4, "alpha": 8}})
    with pytest.raises(DatasetInputError, match="same `lift.lora`"):
        learner.fine_tune("letters", base, prompts, Classification(3), other, start=first)


def test_a_shared_prefix_read_once_gives_the_answers_of_the_whole_prompts(tiny):
    from lift.method.prediction import generate, score_completions

    model, tokenizer = tiny
    prefix = "a 1### 0@@@\nb 2### 1@@@\nc 3### 2@@@\n"
    prompts = ["a 0###", "b 12###", "c 3###", "bb 1###", "a 22###"]  # different lengths
    whole = [prefix + p for p in prompts]
    completions = [" 0@@@", " 1@@@", " 12@@@"]
    read_once = score_completions(model, tokenizer, prompts, completions, 2, prefix=prefix)
    np.testing.assert_allclose(
        read_once, score_completions(model, tokenizer, whole, completions, 2), atol=1e-4
    )
    answers = generate(model, tokenizer, prompts, 6, batch_size=2, prefix=prefix)
    assert answers == generate(model, tokenizer, whole, 6, batch_size=2)
    with pytest.raises(ValueError, match="greedy answers only"):
        generate(model, tokenizer, prompts, 6, samples=3, prefix=prefix)


def test_a_first_stage_on_gibberish_keeps_the_epoch_of_lowest_validation_loss(tiny_model_dir):
    from lift.data import synthetic
    from lift.method.two_stage import gibberish_stage

    text = synthetic.gibberish(rows=40, words=6, seed=0)
    assert text.equals(synthetic.gibberish(rows=40, words=6, seed=0))
    assert not text.equals(synthetic.gibberish(rows=40, words=6, seed=1))
    assert text["split"].value_counts().to_dict() == {"train": 32, "validation": 8}
    assert (text["prompt"].str.split().str.len() == 6).all()
    assert (text["completion"].str.split().str.len() == 1).all()
    assert text["prompt"].str.fullmatch("[a-z ]+").all()
    settings = LiftSettings.from_params({**FAST, "training": {**FAST["training"], "epochs": 3}})
    adapter = gibberish_stage("letters", BaseModel("tiny", tiny_model_dir), text, settings)
    losses = [epoch["validation_loss"] for epoch in adapter.history]
    assert len(losses) == 3 and adapter.best_epoch == 1 + int(np.argmin(losses))
    assert set(adapter.history[0]) >= {"train_loss", "validation_loss", "train_tokens"}
    # the table's fine-tuning goes on from it (the same LoRA shape)
    adapters = learner.fine_tune(
        "letters", BaseModel("tiny", tiny_model_dir), letter_prompts(), Classification(3),
        settings, start=adapter,
    )  # fmt: skip
    assert adapters[0].best_epoch >= 1
    with pytest.raises(DatasetInputError, match="at least 2 rows"):
        synthetic.gibberish(rows=1)


def _letters_training(tiny, training, scores):
    """One adapter of the letters task trained with ``training`` (over FAST's), its validation
    accuracies scripted by ``scores`` epoch by epoch."""
    model, tokenizer = tiny
    prompts = letter_prompts()
    train = prompts[prompts["split"] == "train"]
    pairs = (list(train["prompt"]), list(train["completion"]))
    settings = LiftSettings.from_params({**FAST, "training": {**FAST["training"], **training}})
    scripted = iter(scores)
    return train_adapter(
        model,
        tokenizer,
        pairs,
        pairs,
        lambda _: {"accuracy": next(scripted)},
        settings.lora,
        settings.training,
        description="letters",
    )


def test_patience_stops_once_the_best_epoch_is_not_beaten_and_keeps_its_weights(tiny):
    scores = [0.5, 0.8, 0.7, 0.6, 0.6, 0.9]
    every_epoch = _letters_training(tiny, {}, scores)
    stopped = _letters_training(tiny, {"patience": 2}, scores)
    assert [h["epoch"] for h in every_epoch.history] == [1, 2, 3, 4, 5, 6]
    assert every_epoch.best_epoch == 6
    # epochs 3 and 4 do not beat epoch 2: no fifth epoch
    assert [h["epoch"] for h in stopped.history] == [1, 2, 3, 4]
    assert stopped.best_epoch == 2
    # the same schedule up to the stop: the same losses, and epoch 2's weights kept
    for ours, theirs in zip(stopped.history, every_epoch.history, strict=False):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-6)
    kept = _letters_training(tiny, {"epochs": 6}, [0.5, 0.8, 0.7, 0.6, 0.6, 0.6])
    assert kept.best_epoch == 2
    for key, weight in kept.weights.items():
        torch.testing.assert_close(stopped.weights[key], weight)


def test_keep_last_keeps_the_last_epochs_weights_whatever_validation_says(tiny):
    last = _letters_training(tiny, {"epochs": 4, "keep": "last"}, [0.5, 0.8, 0.7, 0.6])
    rising = _letters_training(tiny, {"epochs": 4}, [0.5, 0.6, 0.7, 0.8])  # best = last
    assert last.best_epoch == 4 == rising.best_epoch
    assert last.kept["validation_accuracy"] == 0.6 and last.status == ""
    for key, weight in rising.weights.items():
        torch.testing.assert_close(last.weights[key], weight)
    # with patience, the epoch the early stop ended on
    stopped = _letters_training(tiny, {"keep": "last", "patience": 2}, [0.5, 0.8, 0.7, 0.6, 0.9])
    assert [h["epoch"] for h in stopped.history] == [1, 2, 3, 4] and stopped.best_epoch == 4


def test_min_steps_gives_a_small_table_more_epochs_and_never_fewer(tiny):
    steps_per_epoch = 6  # 21 training rows of the letters task in batches of 4
    longer = _letters_training(tiny, {"epochs": 2, "min_steps": 20}, [0.5] * 4)
    assert len(longer.history) == 4 == -(-20 // steps_per_epoch)
    shorter = _letters_training(tiny, {"epochs": 3, "min_steps": 5}, [0.5] * 3)
    assert len(shorter.history) == 3


def test_balanced_sampling_teaches_the_classes_as_equally_likely(tiny):
    """Prompts that say nothing of the class, 9 in 10 of class 0: shuffled rows teach the
    prior (class 1 about one chance in ten), balanced rows teach odds near even."""
    from lift.method.prediction import score_completions

    model, tokenizer = tiny
    prompts = [f"x {i // 10}###" for i in range(40)]  # each: 9 rows of class 0, 1 of class 1
    completions = [" 1@@@" if i % 10 == 0 else " 0@@@" for i in range(40)]
    chances = {}
    for sampling in ("shuffled", "balanced"):
        training = {**FAST["training"], "learning_rate": 0.01, "epochs": 12, "sampling": sampling}
        settings = LiftSettings.from_params({**FAST, "training": training})
        better = iter(range(1, 100))  # every epoch better than the last: the last kept
        job = Job((prompts, completions), (prompts[:4], completions[:4]),
                  lambda _, n=better: {"accuracy": next(n)}, settings.training)  # fmt: skip
        (adapter,) = train_adapters(model, tokenizer, [job], settings.lora)
        answering = adapter.attach(model)
        scores = score_completions(answering, tokenizer, prompts[::10], [" 0@@@", " 1@@@"])
        answering.unload()  # the base model as it was, for the next adapter
        chances[sampling] = float(torch.softmax(torch.tensor(scores), dim=1)[:, 1].mean())
    assert chances["shuffled"] < 0.2 and 0.4 < chances["balanced"] < 0.8, chances


def test_balanced_sampling_needs_classes():
    from lift.config.lift import reject_inconsistent

    settings = LiftSettings.from_params({"training": {"sampling": "balanced"}})
    reject_inconsistent(settings, "classification")
    with pytest.raises(DatasetInputError, match="training.sampling.*regression target has no"):
        reject_inconsistent(settings, "regression")


def _guarded(tiny, scores, **guard):
    """The letters task for FAST's 6 epochs, its validation accuracies scripted by ``scores``,
    with the collapse guard's ``Job.prior`` and ``give_up_at_prior`` of ``guard``."""
    model, tokenizer = tiny
    prompts = letter_prompts()
    train = prompts[prompts["split"] == "train"]
    pairs = (list(train["prompt"]), list(train["completion"]))
    settings = LiftSettings.from_params(FAST)
    scripted = iter(scores)
    job = Job(pairs, pairs, lambda _: {"accuracy": next(scripted)}, settings.training, **guard)
    (adapter,) = train_adapters(model, tokenizer, [job], settings.lora)
    return adapter


def test_an_adapter_no_better_than_the_prior_is_marked_and_gives_up_where_it_may(tiny):
    at_prior = [0.34, 0.30, 0.34, 0.34, 0.34, 0.34]
    alone = _guarded(tiny, at_prior, prior=0.34)  # nothing else to try: every epoch runs
    assert alone.status == "at_prior" and len(alone.history) == 6
    gave_up = _guarded(tiny, at_prior, prior=0.34, give_up_at_prior=True)
    assert gave_up.status == "at_prior" and len(gave_up.history) == 3  # half its epochs
    # above the prior by half its budget: it goes on, and has learnt
    learning = _guarded(tiny, [0.34, 0.34, 0.5, 0.9, 0.9, 0.9], prior=0.34, give_up_at_prior=True)
    assert learning.status == "learnt" and len(learning.history) == 6
    assert _guarded(tiny, [0.5] * 6).status == ""  # no prior given: not judged


def test_the_prior_is_the_best_constant_answer():
    from lift.method.tasks import Regression

    assert Classification(3).prior_score(np.array([0, 1, 1, 2])) == 0.5
    targets = np.array([1.0, 2.0, 3.0, 6.0])
    rmse_of_mean = np.sqrt(np.mean((targets - targets.mean()) ** 2))
    assert Regression().prior_score(targets) == pytest.approx(rmse_of_mean)


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise KeyError("VmRSS")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmRSS")
def test_release_memory_gives_the_freed_heap_back():
    # tensors of a step's sizes, freed: glibc keeps them in its heap (the high-water mark a
    # run over many tables held to its end) until release_memory trims it
    linear = torch.nn.Linear(576, 1536)
    kept = []
    for i in range(60):
        x = torch.randn(8, 200, 576, requires_grad=True)
        linear(x).relu().sum().backward()
        kept.append(torch.randn(100_000 + 1_000 * i))
    before = _resident_mb()
    del kept, x
    language_model.release_memory()
    assert _resident_mb() < before - 100


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for a GPU this machine lacks")
def test_a_device_this_machine_lacks_is_refused_with_the_remedy():
    with pytest.raises(DatasetInputError, match="Device 'cuda:1' was asked for, and this machine"):
        language_model.select_device("cuda:1")
    assert language_model.unavailable_device("cpu") is None
    assert "use `auto`" in language_model.unavailable_device("cuda")


def test_compiled_blocks_train_the_adapter_eager_blocks_train(tiny_model_dir, monkeypatch):
    # torch.compile's inductor on the CPU: the same losses and weights up to the rounding of
    # fused kernels, and the model's blocks put back afterwards
    monkeypatch.setattr(language_model, "_COMPILED", set())  # the other tests' stay eager
    base = BaseModel("tiny", tiny_model_dir)
    adapters = {}
    for compile_them in (False, True):
        training = {**FAST["training"], "epochs": 2, "compile": compile_them}
        settings = LiftSettings.from_params({**FAST, "training": training, "dtype": "float32"})
        (adapters[compile_them],) = learner.fine_tune(
            "letters", base, letter_prompts(), Classification(3), settings
        ).values()
    eager, compiled = adapters[False], adapters[True]
    for before, after in zip(eager.history, compiled.history, strict=True):
        assert after["train_loss"] == pytest.approx(before["train_loss"], rel=1e-3)
    for key, weight in eager.weights.items():
        torch.testing.assert_close(compiled.weights[key], weight, rtol=1e-2, atol=1e-3)
    model, _ = load_model(base, torch.device("cpu"), torch.float32)
    with language_model.compiled_blocks(model, True):
        assert all(type(b).__name__ == "OptimizedModule" for b in language_model.blocks(model))
    assert not any(type(b).__name__ == "OptimizedModule" for b in language_model.blocks(model))


def test_auto_compiles_where_the_work_pays_for_it(tiny, monkeypatch):
    model, _ = tiny
    model.to(torch.bfloat16)  # auto compiles a model held in bfloat16 (what was measured)
    cpu = torch.device("cpu")
    monkeypatch.setattr(language_model, "_COMPILED", set())
    monkeypatch.setattr(language_model, "cpu_has_bf16", lambda: True)
    paying = int(language_model.COMPILE_PAYS_AFTER / language_model.linear_weights(model)) + 1
    assert language_model.compiles("auto", model, cpu, paying)
    assert not language_model.compiles("auto", model, cpu, paying // 2)
    assert not language_model.compiles(False, model, cpu, paying)
    assert language_model.compiles(True, model, cpu, 1)
    # compiled once in this process: paid for, every later fine-tuning of it compiles
    language_model._COMPILED.add(language_model._architecture(model))
    assert language_model.compiles("auto", model, cpu, 1)
    # in float32, or without native bfloat16 products, auto does not compile
    assert not language_model.compiles("auto", model.to(torch.float32), cpu, paying)
    monkeypatch.setattr(language_model, "cpu_has_bf16", lambda: False)
    assert not language_model.compiles("auto", model.to(torch.bfloat16), cpu, paying)
