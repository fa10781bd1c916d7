"""Where a predicted pose's depth error lives: in how far each bone reaches in depth, or in which way.

With the 2D joints fixed to the truth, a bone's depth extent dz (child minus parent, in the depth
target's unit) has a magnitude, which the bone's length fixes (|dz| = sqrt(L^2 - l_2D^2)), and a
sign (towards the camera or away), which no length can fix. `depth_oracles` rebuilds the depths
from the root outwards, taking each bone's magnitude from one source and its sign from another,
and reports the MPJPE of each combination: what a perfect length prior could gain (true
magnitudes, predicted signs), what knowing only the directions could gain, and the flat pose
(all depths equal to the root's) as the floor a depth regressor has to beat.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from posegan.camera import depth_target, pose_from_prediction
from posegan.metrics import joint_errors
from posegan.skeleton import BONE_CHILDREN, BONE_PARENTS, BONES, ROOT


def bones_from_root(root: int = ROOT) -> list[tuple[int, int]]:
    """`skeleton.BONES` (parent, child) ordered so that every bone's parent is placed before it."""
    placed, order = {root}, []
    while len(order) < len(BONES):
        for parent, child in BONES:
            if parent in placed and child not in placed:
                order.append((parent, child))
                placed.add(child)
    return order


def rebuilt_depths(signs_from: np.ndarray, magnitudes_from: np.ndarray, root: int = ROOT) -> np.ndarray:
    """(N, P) depths, root 0, whose bones reach as far as in `magnitudes_from` and in the direction of
    `signs_from` (a bone with no extent in `signs_from` counts as pointing away, +)."""
    depths = np.zeros(magnitudes_from.shape, dtype=np.float64)
    for parent, child in bones_from_root(root):
        direction = np.where(signs_from[:, child] - signs_from[:, parent] >= 0, 1.0, -1.0)
        depths[:, child] = depths[:, parent] + direction * np.abs(magnitudes_from[:, child] - magnitudes_from[:, parent])
    return depths


def depth_oracles(pred_depth: np.ndarray, labels: Mapping[str, np.ndarray], stride: int,
                  min_extent: float = 1.0) -> dict[str, float]:
    """MPJPE (mm, Protocol #1) on the TRUE 2D joints with depths from each oracle.

    pred_depth: (N, P) predicted depth targets (heatmap pixels, docs/conventions.md); labels:
    joints_2d (crop pixels), joints_3d (mm), camera, root_depth of the same N samples, all with
    3D. Returns predicted (the predictions' depths), true_magnitudes_predicted_signs,
    predicted_magnitudes_true_signs, flat (every joint at the root's depth), and
    wrong_direction_percent: the share of bones reaching more than `min_extent` heatmap pixels in
    depth whose predicted direction is the wrong one.
    """
    gt, camera, root_depth = labels["joints_3d"], labels["camera"], labels["root_depth"]
    true_depth = depth_target(gt, camera, stride)

    def error(depths):
        return float(joint_errors(pose_from_prediction(labels["joints_2d"], depths, root_depth, camera, stride),
                                  gt).mean())

    true_extent = true_depth[:, BONE_CHILDREN] - true_depth[:, BONE_PARENTS]
    pred_extent = pred_depth[:, BONE_CHILDREN] - pred_depth[:, BONE_PARENTS]
    reaching = np.abs(true_extent) > min_extent
    wrong = reaching & (np.sign(true_extent) != np.sign(pred_extent))
    return {"predicted": error(pred_depth),
            "true_magnitudes_predicted_signs": error(rebuilt_depths(pred_depth, true_depth)),
            "predicted_magnitudes_true_signs": error(rebuilt_depths(true_depth, pred_depth)),
            "flat": error(np.zeros_like(pred_depth)),
            "wrong_direction_percent": float(100.0 * wrong.sum() / max(reaching.sum(), 1))}
