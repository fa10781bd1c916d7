"""The 16-joint MPII skeleton used everywhere inside the pipeline.

Joint order (MPII): 0 r_ankle, 1 r_knee, 2 r_hip, 3 l_hip, 4 l_knee, 5 l_ankle,
6 pelvis (root), 7 thorax, 8 upper_neck, 9 head_top, 10 r_wrist, 11 r_elbow,
12 r_shoulder, 13 l_shoulder, 14 l_elbow, 15 l_wrist.

"Right" and "left" are the person's own sides, as in MPII and Human3.6M.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: list[str] = [
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
]
NUM_JOINTS = len(JOINT_NAMES)
ROOT = JOINT_NAMES.index("pelvis")

# Parent of each joint in the kinematic tree (-1 for the root, the pelvis).
PARENTS: list[int] = [1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14]

# Bones as (parent, child) pairs, one per non-root joint.
BONES: list[tuple[int, int]] = [(p, c) for c, p in enumerate(PARENTS) if p >= 0]
# The same bones as two index lists, for bone vectors `joints[..., BONE_CHILDREN, :] - joints[..., BONE_PARENTS, :]`.
BONE_PARENTS: list[int] = [p for p, _ in BONES]
BONE_CHILDREN: list[int] = [c for _, c in BONES]

# Left/right pairs swapped by a horizontal flip: (right, left).
FLIP_PAIRS: list[tuple[int, int]] = [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)]

# Permutation applied to the joint axis after a horizontal flip.
FLIP_PERMUTATION: list[int] = list(range(NUM_JOINTS))
for _r, _l in FLIP_PAIRS:
    FLIP_PERMUTATION[_r], FLIP_PERMUTATION[_l] = _l, _r

# The six left/right pairs of bones of the same length in a symmetric body, as
# (right bone, left bone) with each bone (parent, child): the limb symmetry measures
# (posegan.plausibility) compare their lengths.
SYMMETRIC_BONES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "shin": ((1, 0), (4, 5)),
    "thigh": ((2, 1), (3, 4)),
    "forearm": ((11, 10), (14, 15)),
    "upper_arm": ((12, 11), (13, 14)),
    "hip": ((6, 2), (6, 3)),
    "shoulder": ((7, 12), (7, 13)),
}

# The four limb groups of the paper's Table 2: each limb segment is scored by the
# joints that end it (upper arm -> elbow, lower arm -> wrist, upper leg -> knee,
# lower leg -> ankle).
LIMB_GROUPS: dict[str, list[int]] = {
    "upper_arms": [11, 14],
    "lower_arms": [10, 15],
    "upper_legs": [1, 4],
    "lower_legs": [0, 5],
}
# Column names the paper uses for those groups.
LIMB_LABELS: dict[str, str] = {
    "upper_arms": "U.Arms", "lower_arms": "L.Arms",
    "upper_legs": "U.Legs", "lower_legs": "L.Legs",
}

# Human3.6M-17 order (as used by Zhou et al. 2017 and most lifting work).
H36M17_NAMES: list[str] = [
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
    "thorax", "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
    "r_elbow", "r_wrist",
]
# MPI-INF-3DHP-17 order of the test set annotations.
MPI3DHP17_NAMES: list[str] = [
    "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow",
    "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis",
    "spine", "head",
]

# Index maps to MPII-16: mpii_pose = other_pose[..., MAP, :]. These are the maps of
# Zhou et al. 2017 (the backbone's authors): from Human3.6M they take spine as the
# thorax, thorax as the upper neck and head as the head top (neck_nose is dropped);
# from MPI-INF-3DHP they take spine as the thorax.
H36M17_TO_MPII16: list[int] = [3, 2, 1, 4, 5, 6, 0, 7, 8, 10, 16, 15, 14, 11, 12, 13]
MPI3DHP17_TO_MPII16: list[int] = [10, 9, 8, 11, 12, 13, 14, 15, 1, 0, 4, 3, 2, 5, 6, 7]


def h36m17_to_mpii16(joints: np.ndarray) -> np.ndarray:
    """Reorder (..., 17, C) Human3.6M-17 joints to (..., 16, C) MPII order."""
    return _take_joints(joints, H36M17_TO_MPII16, 17, "Human3.6M-17")


def mpi3dhp17_to_mpii16(joints: np.ndarray) -> np.ndarray:
    """Reorder (..., 17, C) MPI-INF-3DHP-17 joints to (..., 16, C) MPII order."""
    return _take_joints(joints, MPI3DHP17_TO_MPII16, 17, "MPI-INF-3DHP-17")


def _take_joints(joints: np.ndarray, index: list[int], expected: int, name: str) -> np.ndarray:
    joints = np.asarray(joints)
    if joints.ndim < 2 or joints.shape[-2] != expected:
        raise ValueError(
            f"expected {name} joints of shape (..., {expected}, C), got {joints.shape}"
        )
    return joints[..., index, :]


def flip_joints(joints: np.ndarray, width: float) -> np.ndarray:
    """Mirror (..., P, 2+) joints horizontally in an image `width` pixels wide.

    x -> width - 1 - x (pixel centres at integer coordinates), and the left/right
    joints are swapped so that the result again reads as the person's own sides.
    """
    flipped = np.array(joints, dtype=np.float64 if np.asarray(joints).dtype == np.float64 else np.float32)
    flipped[..., 0] = width - 1 - flipped[..., 0]
    return flipped[..., FLIP_PERMUTATION, :]
