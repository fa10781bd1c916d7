"""Pose geometry: the paper's pairwise geometric descriptor (Eq. 1)."""

from __future__ import annotations

import torch
from torch import Tensor


def geometric_descriptor(joints: Tensor) -> Tensor:
    """Pairwise relative locations and squared distances between joints (Eq. 1).

    joints: (..., P, 3) as (x, y, z), all three in one unit (in this project heatmap pixels,
    with z the depth target of docs/conventions.md, "Depth target", so the descriptor is
    isotropic).
    Returns (..., 6, P, P): entry [..., :, i, j] = [dx, dy, dz, dx^2, dy^2, dz^2] with
    dx = x_i - x_j etc. (units and units squared). Differentiable; translation invariant.
    """
    if not isinstance(joints, Tensor):
        raise TypeError(f"joints must be a torch tensor, got {type(joints).__name__}")
    if joints.ndim < 2 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be (..., P, 3), got shape {tuple(joints.shape)}")
    delta = joints[..., :, None, :] - joints[..., None, :, :]        # (..., P, P, 3): i minus j
    descriptor = torch.cat([delta, delta.square()], dim=-1)          # (..., P, P, 6)
    return descriptor.movedim(-1, -3)
