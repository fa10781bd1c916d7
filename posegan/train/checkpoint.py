"""Atomic, fingerprinted checkpoints.

DVC 3 has no checkpoints of its own, so a training stage keeps them in a folder of its own,
checkpoints/<stage>/, which git ignores and which is no DVC output (a `persist` output would keep
the stage out of DVC's run cache; DVC does not touch a folder it does not know). Each checkpoint
carries a fingerprint of the stage's params and input files; a rerun resumes only from a
checkpoint whose fingerprint matches, so a new experiment (other params, other data) never
silently reuses the previous experiment's run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from posegan.atomic_files import replacing
from posegan.errors import PoseganError


class NonFiniteError(PoseganError, RuntimeError):
    """A loss or a weight became NaN or infinite."""


def file_digest(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """MD5 of a file's bytes, or of every file under a folder (sorted by relative path)."""
    path = Path(path)
    digest = hashlib.md5()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as f:
            while block := f.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def fingerprint(params: dict[str, Any], inputs: list[str | os.PathLike]) -> str:
    """A hash of the stage's params (JSON, sorted keys) and its input files' contents."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(f"{Path(path).name}:{file_digest(path)}".encode())
    return digest.hexdigest()


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to `<path>.tmp`, then rename: a crash never leaves a half-written file."""
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def assert_finite_state(state_dict: dict[str, torch.Tensor], what: str) -> None:
    """Raise NonFiniteError if any floating tensor of a state dict holds NaN or inf."""
    for name, tensor in state_dict.items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise NonFiniteError(f"{what}: tensor {name!r} holds NaN or inf; refusing to write it")


class Checkpointer:
    """The checkpoint folder of one stage: `<folder>/last.pt` plus its fingerprint.

    save() writes atomically and refuses non-finite model weights; load() returns the saved
    state only when its fingerprint matches (else None, and the run starts fresh).
    """

    def __init__(self, folder: str | os.PathLike, fingerprint: str):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.path = self.folder / "last.pt"

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != self.fingerprint:
            return None
        return state

    def save(self, iteration: int, models: dict[str, torch.nn.Module],
             optimizers: dict[str, torch.optim.Optimizer], extra: dict[str, Any] | None = None) -> None:
        state = {"fingerprint": self.fingerprint, "iteration": int(iteration),
                 "models": {}, "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                 "extra": extra or {}}
        for name, model in models.items():
            weights = unwrap(model).state_dict()
            assert_finite_state(weights, f"{self.path} (model {name!r}, iteration {iteration})")
            state["models"][name] = weights
        atomic_save(state, self.path)

    def describe(self) -> str:
        if not self.path.exists():
            return "none (no checkpoint was written yet)"
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        return f"{self.path} at iteration {state.get('iteration')}"


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return model.module if hasattr(model, "module") else model
