"""Many LoRA adapters on one frozen base model, trained in the same forward and backward pass.

Each adapted linear layer keeps the adapters of ``slots`` jobs stacked (``lora_A``: slots x
rank x in, ``lora_B``: slots x out x rank, PEFT's layouts one slot each). A training batch is
laid out slot by slot, the same number of rows per slot, so that the low-rank update of every
job is two batched matrix products per layer whatever the number of jobs:

    y = W x + (alpha / rank) * B_s A_s dropout(x)      for the rows x of slot s

and the base weights ``W`` are read once for all jobs. The jobs never meet: a row sees only
its own slot's adapter, the loss is a sum of per-job losses, and the optimizer
(``SlotAdamW``) keeps per slot what ``torch.optim.AdamW`` keeps per adapter (step count,
learning rate, moments), with gradients clipped per slot. So each job's adapter is what
training it alone would give, up to floating-point rounding.

With ``Routing.slot`` set, every row uses that one slot's adapter: the model then answers as
the base model with that adapter (validation, generation)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class Routing:
    """Which adapter the rows of a batch use, shared by every ``BatchedLoraLinear`` of a model.

    ``slot``: one slot for every row (answering with one adapter); else ``active``: the slots
    of the batch's row groups, in order (``None``: all slots, in order), the rows split evenly
    among them.
    Dropout masks are drawn per slot from ``generators`` at the shape of the slot's own batch
    (``shapes``: rows and tokens, its rows' last positions), so a job's masks do not depend on
    the jobs beside it."""

    slot: int | None = None
    active: torch.Tensor | None = None
    generators: dict[int, torch.Generator] = field(default_factory=dict)
    shapes: dict[int, tuple[int, int]] = field(default_factory=dict)


class BatchedLoraLinear(nn.Module):
    """A frozen ``nn.Linear`` with a LoRA adapter per slot (see the module's docstring)."""

    def __init__(
        self, base: nn.Linear, slots: int, rank: int, alpha: float, dropout: float, routing: Routing
    ) -> None:
        super().__init__()
        self.base = base
        device = base.weight.device
        # float32 whatever the base's dtype, as PEFT keeps adapters (autocast_adapter_dtype)
        self.lora_A = nn.Parameter(torch.zeros(slots, rank, base.in_features, device=device))
        self.lora_B = nn.Parameter(torch.zeros(slots, base.out_features, rank, device=device))
        self.scaling = alpha / rank
        self.dropout = dropout
        self.routing = routing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)
        routing = self.routing
        if not torch.is_autocast_enabled(x.device.type):  # else the products cast it
            x = x.to(self.lora_A.dtype)
        if routing.slot is not None:
            a, b = self.lora_A[routing.slot], self.lora_B[routing.slot]
            update = (x @ a.mT) @ b.mT
        else:
            a, b = self.lora_A, self.lora_B
            if routing.active is not None:
                a, b = a.index_select(0, routing.active), b.index_select(0, routing.active)
            if self.training and self.dropout:
                x = x * self._dropout_mask(x)
            grouped = x.reshape(a.shape[0], -1, x.shape[-1])  # slot by slot
            update = torch.bmm(torch.bmm(grouped, a.mT), b.mT).reshape(*x.shape[:-1], -1)
        return (result + update * self.scaling).to(result.dtype)

    def _dropout_mask(self, x: torch.Tensor) -> torch.Tensor:
        """Inverted-dropout multipliers of ``x`` (rows slot by slot), each slot's drawn from
        its own generator at its own batch's shape."""
        routing = self.routing
        slots = routing.active.tolist() if routing.active is not None else range(len(self.lora_A))
        mask = torch.zeros_like(x)
        rows = x.shape[0] // len(slots)
        keep = 1 - self.dropout
        for i, slot in enumerate(slots):
            n, tokens = routing.shapes[slot]
            drawn = torch.empty((n, tokens, x.shape[-1]), device=x.device)
            drawn.bernoulli_(keep, generator=routing.generators[slot])
            mask[i * rows : i * rows + n, -tokens:] = drawn / keep
        return mask


def inject(
    model: nn.Module, names: Iterable[str], slots: int, rank: int, alpha: float, dropout: float
) -> tuple[Routing, dict[str, BatchedLoraLinear]]:
    """Freeze ``model`` and wrap its linear layers ``names`` (module paths) with ``slots``
    adapters each; returns the shared routing and the layers by name (``remove`` undoes it)."""
    model.requires_grad_(False)
    routing = Routing()
    layers = {}
    for name in names:
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent)
        layers[name] = BatchedLoraLinear(
            getattr(owner, child), slots, rank, alpha, dropout, routing
        )
        setattr(owner, child, layers[name])
    return routing, layers


def remove(model: nn.Module, layers: dict[str, BatchedLoraLinear]) -> None:
    """Put back the linear layers ``inject`` wrapped."""
    for name, layer in layers.items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer.base)


def per_slot_norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of each slot's part (the first dimension) of ``tensors`` together."""
    return torch.stack([t.flatten(1).norm(dim=1) for t in tensors]).norm(dim=0)


def clip_per_slot(gradients: Sequence[torch.Tensor], max_norm: torch.Tensor) -> torch.Tensor:
    """Scale each slot's gradients so that their joint norm is at most its ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` does for one adapter; returns the norms before."""
    norms = per_slot_norm(gradients)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for gradient in gradients:
        gradient.mul_(scale.view(-1, *[1] * (gradient.dim() - 1)))
    return norms


class SlotAdamW:
    """``torch.optim.AdamW``'s update (decoupled weight decay, bias-corrected moments) over
    stacked adapter weights, each slot with its own step count, learning rate and weight
    decay. A slot is ``reset`` when a new job takes it."""

    def __init__(
        self,
        parameters: Sequence[nn.Parameter],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.parameters = list(parameters)
        self.betas, self.eps = betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.parameters]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.parameters]
        slots = len(self.parameters[0])
        self.steps = torch.zeros(slots, dtype=torch.float64, device=self.parameters[0].device)

    def reset(self, slot: int) -> None:
        for moments in (self.exp_avg, self.exp_avg_sq):
            for m in moments:
                m[slot].zero_()
        self.steps[slot] = 0

    def state_of(self, slot: int) -> dict[str, Any]:
        """The moments and step count of ``slot`` (on the CPU), what ``restore`` takes."""
        return {
            "exp_avg": [m[slot].detach().cpu().clone() for m in self.exp_avg],
            "exp_avg_sq": [v[slot].detach().cpu().clone() for v in self.exp_avg_sq],
            "steps": float(self.steps[slot]),
        }

    def restore(self, slot: int, state: dict[str, Any]) -> None:
        """Give ``slot`` the moments and step count of ``state`` (``state_of``)."""
        for moments, saved in (
            (self.exp_avg, state["exp_avg"]),
            (self.exp_avg_sq, state["exp_avg_sq"]),
        ):
            for m, kept in zip(moments, saved, strict=True):
                m[slot].copy_(kept)
        self.steps[slot] = state["steps"]

    @torch.no_grad()
    def step(
        self, moving: Sequence[bool], learning_rate: torch.Tensor, weight_decay: torch.Tensor
    ) -> None:
        """One update of the slots ``moving`` (one boolean per slot, on the host), each at
        its ``learning_rate`` and ``weight_decay`` (per slot, on the parameters' device); the
        others are left as they are."""
        beta1, beta2 = self.betas
        device = self.steps.device
        everyone = all(moving)
        rows = sent(torch.tensor(moving), device)
        self.steps += rows
        steps = self.steps.clamp(min=1)
        # per slot, in float64 as torch computes these scalars in Python
        step_size = (learning_rate / (1 - beta1**steps)).float()
        correction2 = (1 - beta2**steps).sqrt().float()
        decay = (1 - learning_rate * weight_decay).float()
        for p, m, v in zip(self.parameters, self.exp_avg, self.exp_avg_sq, strict=True):
            shape = (-1, *[1] * (p.dim() - 1))
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            if everyone:  # torch's in-place update, per-slot factors broadcast
                p.mul_(decay.view(shape))
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / correction2.view(shape)).add_(self.eps)
                p.sub_(m.mul(step_size.view(shape)).div_(denom))
                continue
            still = ~rows.view(shape)
            p.mul_(torch.where(still, 1.0, decay.view(shape)))
            m.copy_(torch.where(still, m, m.lerp(g, 1 - beta1)))
            v.copy_(torch.where(still, v, v * beta2 + (1 - beta2) * g * g))
            denom = (v.sqrt() / correction2.view(shape)).add_(self.eps)
            p.sub_(torch.where(still, 0.0, step_size.view(shape) * m / denom))


class SlotAverage:
    """An exponential moving average of each slot's adapter weights over its optimizer steps
    (``training.average``): after each step ``average = decay * average + (1 - decay) * weights``
    with the slot's own ``decay`` (1: a slot that did not step is left as it is). A slot
    answers with its average between two ``swap`` calls."""

    def __init__(self, parameters: Sequence[nn.Parameter]) -> None:
        self.parameters = list(parameters)
        self.averages = [p.detach().clone() for p in self.parameters]

    def reset(self, slot: int) -> None:
        """Start ``slot``'s average at its weights now (a new job's, or a resumed one's)."""
        for average, p in zip(self.averages, self.parameters, strict=True):
            average[slot].copy_(p[slot])

    def state_of(self, slot: int) -> list[torch.Tensor]:
        """``slot``'s average (on the CPU), what ``restore`` takes."""
        return [average[slot].detach().cpu().clone() for average in self.averages]

    def restore(self, slot: int, state: Sequence[torch.Tensor]) -> None:
        """Give ``slot`` the average of ``state`` (``state_of``): a resumed job's."""
        for average, kept in zip(self.averages, state, strict=True):
            average[slot].copy_(kept)

    @torch.no_grad()
    def update(self, decay: torch.Tensor) -> None:
        """Move every slot's average towards its weights by ``1 - decay`` (per slot)."""
        for average, p in zip(self.averages, self.parameters, strict=True):
            average.lerp_(p, (1 - decay).view(-1, *[1] * (p.dim() - 1)))

    @torch.no_grad()
    def swap(self, slot: int) -> None:
        """Exchange ``slot``'s weights and its average (twice: as before)."""
        for average, p in zip(self.averages, self.parameters, strict=True):
            weights = p[slot].clone()
            p[slot].copy_(average[slot])
            average[slot].copy_(weights)


def linear_schedule(step: int, warmup: int, total: int) -> float:
    """The learning-rate factor at optimizer step ``step`` (from 0) of a linear warm-up over
    ``warmup`` steps then a linear decay to 0 at ``total`` (``transformers``'
    ``get_linear_schedule_with_warmup``)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def sent(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; to a GPU from pinned memory, without the host waiting for the
    GPU (a step's inputs and settings are sent so: no host sync within a step)."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)
