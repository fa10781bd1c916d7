"""Pose geometry: the paper's pairwise geometric descriptor (Eq. 1) and RepNet's kinematic chain space."""

from __future__ import annotations

import torch
from torch import Tensor

from posegan.skeleton import BONE_CHILDREN, BONE_PARENTS, BONES


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


def bone_vectors(joints: Tensor) -> Tensor:
    """(..., P, 3) joints -> (..., 15, 3) bones, child - parent, in the order of `skeleton.BONES`."""
    if not isinstance(joints, Tensor):
        raise TypeError(f"joints must be a torch tensor, got {type(joints).__name__}")
    if joints.ndim < 2 or joints.shape[-1] != 3:
        raise ValueError(f"joints must be (..., P, 3), got shape {tuple(joints.shape)}")
    return joints[..., BONE_CHILDREN, :] - joints[..., BONE_PARENTS, :]


def bone_lengths(joints: Tensor) -> Tensor:
    """(..., P, 3) joints, any unit -> (..., 15) lengths of the bones of `skeleton.BONES`, same unit.

    The diagonal of the kinematic chain space without its squares: how long each bone is,
    nothing about how the bones are posed. Differentiable.
    """
    return bone_vectors(joints).norm(dim=-1)


def kinematic_chain_space(joints: Tensor) -> Tensor:
    """RepNet's kinematic chain space (Wandt and Rosenhahn, CVPR 2019): the Gram matrix of the bones.

    joints: (..., P, 3), any unit. With B the (..., 15, 3) bone vectors child - parent in the
    order of `skeleton.BONES`, Psi = B B^T holds the squared bone lengths on its diagonal and
    |b_i| |b_j| cos(angle between bones i and j) off it. Returns its upper triangle, diagonal
    included, flattened: (..., 120) (unit squared). Differentiable.
    """
    bones = bone_vectors(joints)
    gram = bones @ bones.transpose(-1, -2)
    rows, cols = torch.triu_indices(len(BONES), len(BONES), device=joints.device)
    return gram[..., rows, cols]
