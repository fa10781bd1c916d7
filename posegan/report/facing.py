"""The share of people facing the camera, measured as on MPII.

A person faces the camera when their left shoulder is on the image's right: x(l_shoulder) >
x(r_shoulder) in image coordinates (x to the right), counted over the people whose two joints
are both annotated. On MPII's validation annotations this is 72.5 % (2932 people; 72.8 % with
the hips), and the synthetic wild sets are drawn to match (see docs/benchmark.md).
"""

from __future__ import annotations

import numpy as np

from posegan.skeleton import JOINT_NAMES


def facing_mask(joints_2d, annotated, pair: tuple[str, str] = ("l_shoulder", "r_shoulder")):
    """Which people face the camera, and which can be judged.

    joints_2d: (N, 16, 2) image x, y (any pixel units; NaN allowed where not annotated).
    annotated: (N, 16) bool. pair: (left joint, right joint) names, MPII order.
    Returns (facing (N,) bool, counted (N,) bool): counted where both joints are annotated,
    facing where counted and x(left) > x(right).
    """
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    annotated = np.asarray(annotated, dtype=bool)
    if joints_2d.ndim != 3 or joints_2d.shape[-1] != 2 or annotated.shape != joints_2d.shape[:2]:
        raise ValueError(f"facing_mask: joints_2d must be (N, P, 2) and annotated (N, P), got {joints_2d.shape} "
                         f"and {annotated.shape}")
    left, right = (JOINT_NAMES.index(name) for name in pair)
    counted = annotated[:, left] & annotated[:, right]
    with np.errstate(invalid="ignore"):
        facing = counted & (joints_2d[:, left, 0] > joints_2d[:, right, 0])
    return facing, counted


def facing_share(joints_2d, annotated, pair: tuple[str, str] = ("l_shoulder", "r_shoulder")) -> float:
    """Fraction (0..1) of people facing the camera: x(left joint) > x(right joint), over the
    people with both joints of `pair` annotated. joints_2d (N, 16, 2), annotated (N, 16) bool.
    NaN when nobody can be counted."""
    facing, counted = facing_mask(joints_2d, annotated, pair)
    n = int(counted.sum())
    return float(facing.sum() / n) if n else float("nan")


def facing_share_3d(joints_3d) -> float:
    """Fraction of 3D poses (N, 16, 3) in camera mm (x right, y down, z forward) whose chest
    faces the camera (see `chest_faces_camera`)."""
    return float(chest_faces_camera(joints_3d).mean())


def chest_faces_camera(joints_3d) -> np.ndarray:
    """(N,) bool: the chest's forward axis (left x up, left = l_shoulder - r_shoulder, up =
    thorax - pelvis) points towards the camera: its dot product with the thorax's position
    (the viewing ray) is negative. For a person on the optical axis this is a negative z
    component; off-axis (wide lenses) the ray is the right reference, as the image shows it."""
    j = np.asarray(joints_3d, dtype=np.float64)
    idx = {name: JOINT_NAMES.index(name) for name in ("l_shoulder", "r_shoulder", "thorax", "pelvis")}
    left = j[:, idx["l_shoulder"]] - j[:, idx["r_shoulder"]]
    up = j[:, idx["thorax"]] - j[:, idx["pelvis"]]
    return (np.cross(left, up) * j[:, idx["thorax"]]).sum(-1) < 0
