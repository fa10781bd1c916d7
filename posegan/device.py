"""Devices, mixed precision and compilation: the params section `runtime`.

No code in the library calls `.cuda()`: models and tensors go `.to(runtime.device)`, the
torch.device that `runtime.device` was resolved to (once, where the section is read).
Mixed precision: `amp: fp16` (or `true`) is float16 autocast with a gradient scaler, on CUDA
only; `amp: bf16` is bfloat16 autocast without a scaler (bfloat16 has float32's range), on
CUDA or CPU. Otherwise `autocast` does nothing and `grad_scaler` returns a disabled scaler
whose `scale(loss)` is the loss itself, so a training loop is written once for all cases.
`compile` wraps the training networks in `torch.compile` (`compiled`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import torch

from posegan.errors import PoseganError
from posegan.settings import setting


class DeviceUnavailableError(PoseganError, RuntimeError):
    """The params ask for a device this machine does not have."""


@dataclass(frozen=True)
class RuntimeSettings:
    """Where and how the networks run (params section `runtime`), apart from what they are:
    a checkpoint made with one runtime resumes with another.

    device: the torch.device to run on, resolved from the file's "auto" (CUDA when available),
    "cpu", "cuda" or "cuda:N" by `resolve_device` as the section is read. amp: mixed precision,
    false, fp16 (true means fp16; CUDA only) or bf16 (the default; on a CPU without native
    bfloat16 instructions autocast emulates it and is slower: use false there). threads: torch
    CPU threads per process (0: torch's default). compile: `torch.compile` the training networks, false, true (mode
    "default"), or a mode: "default", "reduce-overhead" (CUDA graphs), "max-autotune".
    """

    device: torch.device = setting(default_factory=lambda: resolve_device("auto"),
                                   parse=lambda name: resolve_device(name))
    amp: bool | Literal["fp16", "bf16"] = "bf16"
    threads: int = setting(0, minimum=0)
    compile: bool | Literal["default", "reduce-overhead", "max-autotune"] = setting(False, optional=True)


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda if available else cpu; 'cpu'; 'cuda' or 'cuda:N' (error if unavailable).

    The one place a device name is parsed: `RuntimeSettings.device` (the params) and the
    benchmarks' --device options."""
    key = name.strip().lower() if isinstance(name, str) else ""
    if key.startswith("cuda:") and not key[5:].isdigit():
        key = ""
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(f"runtime.device is {name!r} but CUDA is not available to torch "
                               f"{torch.__version__} on this machine; use 'auto' or 'cpu'")
        device = torch.device(key)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(f"runtime.device is {name!r} but only {torch.cuda.device_count()} "
                               f"CUDA device(s) are visible")
        return device
    raise ValueError(f"runtime.device must be auto, cpu, cuda or cuda:N, got {name!r}")


def amp_dtype(device: torch.device, amp: bool | str) -> torch.dtype | None:
    """The autocast dtype for `amp` on `device`, or None (full precision): float16 for
    fp16/true on CUDA, bfloat16 for bf16 on CUDA or CPU."""
    kind = torch.device(device).type
    if amp == "bf16" and kind in ("cuda", "cpu"):
        return torch.bfloat16
    if (amp is True or amp == "fp16") and kind == "cuda":
        return torch.float16
    return None


def autocast(device: torch.device, amp: bool | str):
    """Context manager: autocast to `amp_dtype`, or a no-op in full precision."""
    dtype = amp_dtype(device, amp)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def grad_scaler(device: torch.device, amp: bool | str) -> torch.amp.GradScaler:
    """A gradient scaler (one per optimiser), enabled only for float16 (bfloat16 needs none)."""
    device = torch.device(device)
    return torch.amp.GradScaler(device.type, enabled=amp_dtype(device, amp) == torch.float16)


def compiled(module: torch.nn.Module, compile: bool | str) -> torch.nn.Module:
    """`module` wrapped in `torch.compile` with the mode `compile` names (itself when false).

    The wrapper shares the module's parameters, so optimisers, checkpoints and model files
    keep using the plain module."""
    if compile is False:
        return module
    return torch.compile(module, mode="default" if compile is True else compile)
