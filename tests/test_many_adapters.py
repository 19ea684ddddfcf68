"""Many adapters on one base model (``lift.method.batched_lora``, ``fine_tuning.train_adapters``):
jobs trained together find what each finds alone, and a pipeline's fine-tunings grouped in
one node give the metrics of one node per dataset."""

from dataclasses import replace

import pytest
import torch
from kedro.runner import SequentialRunner

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings, LoraSettings
from lift.method import batched_lora, learner
from lift.method.fine_tuning import (
    MEMORY_SHARE,
    Job,
    adapter_memory,
    check_fits,
    fitting_slots,
    train_adapters,
    training_memory,
)
from lift.method.language_model import BaseModel, load_model
from lift.method.tasks import Classification
from lift.pipelines.classification import create_pipeline
from test_fine_tuning import letter_prompts
from test_pipeline import catalog_for, parameters  # noqa: F401 (a fixture)

# three jobs of different sizes, batch sizes, epochs and seeds (so: different numbers of
# steps, ending at different steps, a queue when there are fewer slots than jobs)
SIZES = [
    (6, {"batch_size": 4, "epochs": 2, "seed": 0}),
    (10, {"batch_size": 3, "epochs": 3, "seed": 1}),
    (14, {"batch_size": 5, "epochs": 2, "seed": 2, "weight_decay": 0.01}),
]
# float32 arithmetic in another order (other shapes) differs by rounding, which Adam's
# normalised steps amplify at high learning rates: a moderate rate keeps it below 1e-5
LEARNING_RATE = 5e-3


def requests(lora: dict | None = None) -> list[learner.FineTuning]:
    return [
        learner.FineTuning(
            f"letters{n}",
            letter_prompts(n),
            Classification(3),
            LiftSettings.from_params(
                {
                    "training": {"learning_rate": LEARNING_RATE, **training},
                    "lora": lora or {"rank": 8, "alpha": 16},
                    "generation": {"mode": "score"},
                    "dtype": "float32",  # float32 products too, where the CPU has bf16 ones
                }
            ),
        )
        for n, training in SIZES
    ]


def assert_same(alone, together, tolerance=1e-5):
    for one, other in zip(alone, together, strict=True):
        (a,), (b,) = one.values(), other.values()
        assert a.best_epoch == b.best_epoch
        assert len(a.history) == len(b.history)
        assert a.lora_config == b.lora_config and a.weights.keys() == b.weights.keys()
        difference = max((a.weights[k] - b.weights[k]).abs().max() for k in a.weights)
        assert difference < tolerance, difference
        for x, y in zip(a.history, b.history, strict=True):
            assert x["validation_accuracy"] == y["validation_accuracy"]
            assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-5)


def test_three_jobs_trained_together_find_what_each_finds_alone(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    alone = [learner.fine_tune_together(base, [request])[0] for request in requests()]
    together = learner.fine_tune_together(base, requests())
    assert_same(alone, together)
    # two slots for three jobs: the third takes the slot of the first to finish
    assert_same(alone, learner.fine_tune_together(base, requests(), slots=2))
    # they learnt, and the epochs differ between jobs: the choice is per job
    assert [len(a[0].history) for a in together] == [2, 3, 2]
    for adapters in together:
        history = adapters[0].history
        assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_adapters_shared_out_across_two_processes_are_the_ones_trained_in_one(tiny_model_dir):
    # as a machine with two GPUs shares them out (`fine_tuning.devices`), here on two CPU
    # processes: jobs 1 and 3 in one, job 2 in the other
    base = BaseModel("tiny", tiny_model_dir)
    alone = [learner.fine_tune_together(base, [request])[0] for request in requests()]
    assert_same(alone, learner.fine_tune_together(base, requests(), devices=["cpu", "cpu"]))


def test_lora_dropout_is_drawn_per_job_so_grouping_does_not_change_it(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    lora = {"rank": 8, "alpha": 16, "dropout": 0.2}
    alone = [learner.fine_tune_together(base, [r])[0] for r in requests(lora)]
    together = learner.fine_tune_together(base, requests(lora))
    assert_same(alone, together)
    # and it is dropout: other weights than without it
    plain = learner.fine_tune_together(base, requests()[:1])
    (a,), (b,) = alone[0].values(), plain[0].values()
    assert max((a.weights[k] - b.weights[k]).abs().max() for k in a.weights) > 1e-4


def test_the_engine_leaves_the_base_model_as_it_was(tiny_model_dir):
    model, tokenizer = load_model(
        BaseModel("tiny", tiny_model_dir), torch.device("cpu"), torch.float32
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prompts = letter_prompts(6)
    train, validation = (prompts[prompts["split"] == s] for s in ("train", "validation"))
    job = Job(
        (train["prompt"].tolist(), train["completion"].tolist()),
        (validation["prompt"].tolist(), validation["completion"].tolist()),
        lambda model: {"accuracy": 0.0},
        LiftSettings().training.model_copy(update={"epochs": 1}),
    )
    train_adapters(model, tokenizer, [job, job], LoraSettings(rank=4, alpha=8))
    after = model.state_dict()
    assert after.keys() == before.keys()  # no LoRA layer left behind
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(isinstance(m, batched_lora.BatchedLoraLinear) for m in model.modules())


def test_slot_adamw_steps_each_slot_as_torch_adamw_steps_one_adapter():
    torch.manual_seed(0)
    stacked = torch.nn.Parameter(torch.randn(2, 3, 4))
    alone = [torch.nn.Parameter(stacked[i].detach().clone()) for i in range(2)]
    settings = [(1e-2, 0.0), (3e-2, 0.1)]  # learning rate, weight decay
    optimizers = [
        torch.optim.AdamW([p], lr=lr, weight_decay=wd)
        for p, (lr, wd) in zip(alone, settings, strict=True)
    ]
    ours = batched_lora.SlotAdamW([stacked])
    rates = torch.tensor([s[0] for s in settings], dtype=torch.float64)
    decays = torch.tensor([s[1] for s in settings], dtype=torch.float64)
    for step in range(5):
        gradient = torch.randn(2, 3, 4)
        stacked.grad = gradient.clone()
        moving = [True, step % 2 == 0]  # the second slot every other step
        ours.step(moving, rates, decays)
        for i, (p, optimizer) in enumerate(zip(alone, optimizers, strict=True)):
            if moving[i]:
                p.grad = gradient[i].clone()
                optimizer.step()
    for i in range(2):
        torch.testing.assert_close(stacked[i], alone[i], rtol=0, atol=1e-7)


def test_slot_average_is_each_slot_s_moving_average_of_its_steps():
    torch.manual_seed(0)
    stacked = torch.nn.Parameter(torch.randn(3, 2, 4))
    average = batched_lora.SlotAverage([stacked])
    expected = stacked.detach().clone()
    decay = torch.tensor([0.9, 0.5, 1.0])  # the third slot does not step
    with torch.no_grad():
        for _ in range(4):
            stacked.add_(torch.randn(3, 2, 4))
            average.update(decay)
            for slot, d in enumerate(decay.tolist()):
                expected[slot] = d * expected[slot] + (1 - d) * stacked[slot]
    (averaged,) = average.averages
    torch.testing.assert_close(averaged, expected)
    assert torch.equal(averaged[2], average.state_of(2)[0])
    # a slot answers with its average between two swaps, then has its weights back
    weights = stacked.detach().clone()
    average.swap(1)
    assert torch.equal(stacked[1], expected[1]) and torch.equal(stacked[0], weights[0])
    average.swap(1)
    assert torch.equal(stacked, weights)
    average.reset(0)  # a new job in slot 0 starts its average at its weights
    assert torch.equal(average.averages[0][0], weights[0])


def test_averaged_jobs_trained_together_find_what_each_finds_alone(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    averaged = requests()
    for i, request in enumerate(averaged[:2]):  # the third job keeps its last step's weights
        training = request.settings.training.model_copy(update={"average": 0.5})
        averaged[i] = replace(
            request, settings=request.settings.model_copy(update={"training": training})
        )
    alone = [learner.fine_tune_together(base, [request])[0] for request in averaged]
    assert_same(alone, learner.fine_tune_together(base, averaged, slots=2))
    # the average is not the last step's weights; a job without one is as before
    plain = [learner.fine_tune_together(base, [request])[0] for request in requests()]
    (a,), (b,) = alone[0].values(), plain[0].values()
    assert max((a.weights[k] - b.weights[k]).abs().max() for k in a.weights) > 1e-4
    assert_same(plain[2:], alone[2:])


def test_clipping_per_slot_is_torch_clipping_per_adapter():
    torch.manual_seed(0)
    gradients = [torch.randn(3, 4, 5), torch.randn(3, 2)]
    max_norm = torch.tensor([0.5, 100.0, 1.0])
    alone = [[g[i].clone() for g in gradients] for i in range(3)]
    batched_lora.clip_per_slot(gradients, max_norm)
    for i, parts in enumerate(alone):
        weights = [torch.nn.Parameter(torch.zeros_like(p)) for p in parts]
        for p, g in zip(weights, parts, strict=True):
            p.grad = g
        torch.nn.utils.clip_grad_norm_(weights, float(max_norm[i]))
        for p, g in zip(weights, gradients, strict=True):
            torch.testing.assert_close(p.grad, g[i])


def test_a_pipeline_trained_together_reports_what_one_node_per_dataset_reports(
    parameters,  # noqa: F811 (the fixture)
    mixed_table,
    tiny_model_dir,
):
    training = {"learning_rate": LEARNING_RATE, "epochs": 2}
    parameters["lift"] = {**parameters["lift"], "training": training, "dtype": "float32"}
    parameters["split"]["repeats"] = 1
    metrics = {}
    for group in ("dataset", "together"):
        parameters["fine_tuning"] = {"group": group, "slots": None}
        pipeline = create_pipeline(**parameters)
        trainers = {n.name for n in pipeline.nodes if "training" in n.tags}
        if group == "together":
            assert trainers == {"classification.fine_tune_together"}
        else:
            assert trainers == {f"classification.{d}.fine_tune" for d in parameters["datasets"]}
        outputs = SequentialRunner().run(
            pipeline, catalog_for(parameters, mixed_table, tiny_model_dir)
        )
        metrics[group] = outputs["classification.metrics"].load()
    columns = ["dataset", "model", "accuracy", "f1_macro"]
    together, apart = (metrics[g][columns] for g in ("together", "dataset"))
    assert together.equals(apart), together.compare(apart)


@pytest.mark.parametrize(
    ("grouping", "named"),
    [({"group": "all"}, "group"), ({"devices": ["gpu0"]}, r"devices\[0\]` is 'gpu0'")],
)
def test_a_bad_grouping_is_refused_by_name(parameters, grouping, named):  # noqa: F811
    parameters["fine_tuning"] = grouping
    with pytest.raises(DatasetInputError, match=rf"classification\.fine_tuning\.{named}"):
        create_pipeline(**parameters)


def test_adapters_that_do_not_fit_together_name_the_slots(tiny_model_dir):
    model, _ = load_model(BaseModel("tiny", tiny_model_dir), torch.device("cpu"), torch.float32)
    with pytest.raises(DatasetInputError, match=r"3 adapters, 3 at once.*`fine_tuning\.slots`"):
        check_fits(model, [300, 20], 24, "3 adapters, 3 at once", available=1, together=True)


def test_slots_are_as_many_as_the_free_memory_holds(tiny_model_dir):
    model, _ = load_model(BaseModel("tiny", tiny_model_dir), torch.device("cpu"), torch.float32)
    lora = LoraSettings(rank=8, alpha=16)
    per_job = training_memory(model.config, 40, 5, "eager") + adapter_memory(model, 8)
    room = per_job / MEMORY_SHARE
    assert fitting_slots(model, lora, 40, 5, 27, int(2.5 * room)) == 2
    assert fitting_slots(model, lora, 40, 5, 27, int(0.5 * room)) == 1  # check_fits decides
    assert fitting_slots(model, lora, 40, 5, 3, int(100 * room)) == 3


def test_jobs_sized_to_the_free_memory_find_what_each_finds_alone(tiny_model_dir, monkeypatch):
    from lift.method import fine_tuning

    base = BaseModel("tiny", tiny_model_dir)
    model, tokenizer = load_model(base, torch.device("cpu"), torch.float32)
    longest = max(
        len(e.prompt_ids) + len(e.completion_ids)
        for n, _ in SIZES
        for e in fine_tuning.encode(
            tokenizer, letter_prompts(n)["prompt"], letter_prompts(n)["completion"]
        )
    )
    per_job = training_memory(model.config, longest, 5, "eager") + adapter_memory(model, 8)
    monkeypatch.setattr(fine_tuning, "free_memory", lambda _: int(2.5 * per_job / MEMORY_SHARE))
    chosen = []
    fitting = fine_tuning.fitting_slots
    monkeypatch.setattr(
        fine_tuning, "fitting_slots", lambda *a: chosen.append(fitting(*a)) or chosen[-1]
    )
    alone = [learner.fine_tune_together(base, [request])[0] for request in requests()]
    assert_same(alone, learner.fine_tune_together(base, requests()))
    assert chosen[-1] == 2  # two at once, the third in the slot of the first to finish
