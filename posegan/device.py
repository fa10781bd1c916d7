"""Devices and mixed precision: `model.device` (auto | cpu | cuda[:N]) and `model.amp`.

No code in the library calls `.cuda()`: models and tensors go `.to(resolve_device(name))`.
Mixed precision (float16 autocast with a gradient scaler) is used only on CUDA; on CPU, or
with amp off, `autocast` does nothing and `grad_scaler` returns a disabled scaler whose
`scale(loss)` is the loss itself, so a training loop is written once for both.
"""

from __future__ import annotations

import contextlib

import torch


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda if available else cpu; 'cpu'; 'cuda' or 'cuda:N' (error if unavailable)."""
    if not isinstance(name, str):
        raise ValueError(f"model.device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    key = name.strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"model.device is {name!r} but CUDA is not available to torch "
                               f"{torch.__version__} on this machine; use 'auto' or 'cpu'")
        device = torch.device(key)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"model.device is {name!r} but only {torch.cuda.device_count()} "
                               f"CUDA device(s) are visible")
        return device
    raise ValueError(f"model.device must be 'auto', 'cpu' or 'cuda', got {name!r}")


def amp_enabled(device: torch.device, amp: bool) -> bool:
    """Mixed precision is used only when asked for and on CUDA."""
    return bool(amp) and torch.device(device).type == "cuda"


def autocast(device: torch.device, amp: bool):
    """Context manager: float16 autocast on CUDA when `amp`, otherwise a no-op."""
    if amp_enabled(device, amp):
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def grad_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only with CUDA mixed precision (one per optimiser)."""
    device = torch.device(device)
    return torch.amp.GradScaler(device.type, enabled=amp_enabled(device, amp))
