"""The training state of a fine-tuning after each of its epochs, kept on disk until its adapter
is done, so that an interrupted fine-tuning (Ctrl-C, a killed process, a machine that went
away) resumes after its last whole epoch instead of from the start.

A state is kept under a key that digests everything the training depends on (its train and
validation pairs, its settings, what it starts from, the base model, device and dtype, and the
caller's ``Job.identity``): a fine-tuning resumes only the training it would run again, and any
other one starts afresh. A state holds the adapter's weights, its AdamW moments, the random
generators of its batch order and dropout, its history and the weights it keeps; resumed, the
training continues with the same numbers as if it had never stopped."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

SUFFIX = ".pt"


def training_key(parts: Mapping[str, Any], weights: Mapping[str, torch.Tensor] | None) -> str:
    """The digest of a fine-tuning: its JSON-able ``parts`` and the tensors it starts from."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for name in sorted(weights or {}):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:32]


class Checkpoints:
    """The training states of a folder, one file per fine-tuning (its ``training_key``)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        # the folders a state's writing makes, removed again once empty (``discard``)
        self.made = [p for p in (self.folder, *self.folder.parents) if not p.exists()]

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def read(self, key: str) -> dict[str, Any] | None:
        """The state kept under ``key``, or None: none kept, or one that cannot be read (of
        another version of this library: the training starts afresh, and says so)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 (any unreadable file: train afresh)
            logger.warning("The training state %s cannot be read (%s): trained afresh", path, error)
            return None

    def write(self, key: str, state: Mapping[str, Any]) -> None:
        """Keep ``state`` under ``key``: written beside and then renamed, so the file is
        whole or the previous one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        torch.save(dict(state), partial)
        os.replace(partial, path)

    def discard(self, key: str) -> None:
        """Forget the state of ``key`` (its adapter is done), and the folders made for it
        where no other state is left in them."""
        self.path(key).unlink(missing_ok=True)
        for folder in self.made:
            try:
                folder.rmdir()
            except OSError:  # not empty (another state), or gone
                break
