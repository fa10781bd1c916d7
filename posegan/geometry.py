"""Pose geometry: the paper's pairwise geometric descriptor (Eq. 1), RepNet's kinematic chain space and
the bones in the torso's frame."""

from __future__ import annotations

import torch
from torch import Tensor

from posegan.skeleton import BONE_CHILDREN, BONE_PARENTS, BONES, JOINT_NAMES, SYMMETRIC_BONES

_L_HIP, _R_HIP = JOINT_NAMES.index("l_hip"), JOINT_NAMES.index("r_hip")
_PELVIS, _THORAX = JOINT_NAMES.index("pelvis"), JOINT_NAMES.index("thorax")
# Positions in `skeleton.BONES` of the right and the left bone of each `SYMMETRIC_BONES` pair.
_SYMMETRIC_RIGHT = [BONES.index(right) for right, _ in SYMMETRIC_BONES.values()]
_SYMMETRIC_LEFT = [BONES.index(left) for _, left in SYMMETRIC_BONES.values()]


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


def limb_asymmetry(joints: Tensor) -> Tensor:
    """(..., P, 3) joints, any unit -> (..., 6) right minus left length of each left/right bone
    pair of `skeleton.SYMMETRIC_BONES` (shin, thigh, forearm, upper arm, hip, shoulder), same
    unit. Differentiable; 0 for a symmetric body (the torch twin of `posegan.plausibility`'s
    measure, which is in mm and takes the absolute value)."""
    lengths = bone_lengths(joints)
    return lengths[..., _SYMMETRIC_RIGHT] - lengths[..., _SYMMETRIC_LEFT]


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


def torso_frame(joints: Tensor, eps: float = 1e-6) -> Tensor:
    """(..., P, 3) joints -> (..., 3, 3) the torso's orthonormal frame, its axes as columns.

    left = l_hip - r_hip (normalised); up = thorax - pelvis, made orthogonal to left; forward =
    left x up. The frame turns with the body, and its third axis follows the handedness of the
    coordinates: in a mirror image of the pose it points the other way (a right-handed camera
    frame gives the person's front for the synthetic people and the real skeletons alike only up
    to that convention, which real and fake poses share). Differentiable away from a collapsed
    torso (zero-length axes are clamped by eps).
    """
    left = joints[..., _L_HIP, :] - joints[..., _R_HIP, :]
    left = left / left.norm(dim=-1, keepdim=True).clamp_min(eps)
    up = joints[..., _THORAX, :] - joints[..., _PELVIS, :]
    up = up - (up * left).sum(-1, keepdim=True) * left
    up = up / up.norm(dim=-1, keepdim=True).clamp_min(eps)
    forward = torch.linalg.cross(left, up, dim=-1)
    return torch.stack([left, up, forward], dim=-1)


def torso_frame_bones(joints: Tensor) -> Tensor:
    """The 15 bones written in the torso's frame (`torso_frame`): (..., P, 3) -> (..., 15, 3).

    Entry [..., k, :] is bone k of `skeleton.BONES` (child - parent) as (left, up, forward)
    components, in the joints' unit. Unlike the kinematic chain space (a Gram matrix, the same for
    a pose and its mirror image) this sees which side of the body a limb reaches to: a knee bent
    forwards and one bent backwards by the same angle have the same KCS but shins whose forward
    components differ in sign. It does not change when the whole pose turns (it cannot learn a
    camera's view of the body). Differentiable.
    """
    return bone_vectors(joints) @ torso_frame(joints)
