"""Scoring predictions against a test set's labels: Tables 1-4's breakdowns for one set.

    scores = score_lab(pred_3d, labels, action_names)          # Tables 1 and 2 (mm)
    scores = score_cross(pred_3d, labels, activity_names)      # Table 4 (percent)
    scores = score_wild(pred_2d, labels, image_size)           # Table 3 (percent)
    scores = score_wild_3d(pred_3d, labels)                    # 3D in the wild (mm, percent)
    plausibility = score_plausibility(pred_3d, labels)         # limb symmetry, bone lengths, bends
    parts = score_decomposition(pred_2d, pred_depth, labels, stride)   # which part errs: 2D or depth
    scores = score_set("cross", pred, labels, SetScoring(activity_names, image_size))   # by the scorer's name

`SCORERS` is the scorer table: the name a test set's row in `posegan.data.sets` gives, the
prediction it scores and the function. The evaluate stage and `posegan evaluate` both score
through `score_set`, so that a set is scored the same way everywhere.

`labels` are the prepared file's label arrays for the scored samples (`select_samples`).
The training loops score their validation subsets with these functions and the evaluate
stage scores the test sets with them, so both report the same thing. The mean-pose
predictor (`mean_pose`, `mean_pose_predictions`) is the floor a 3D model must beat.

PCKh units: the prepared files hold 2D joints in crop pixels but MPII's head size in
original-image pixels. Predictions and ground truth are both mapped back to original pixels
(`posegan.camera.crop_to_original`, the crop's centre and side) before comparing them with
the head size, as MPII's official evaluation does. (The map is a uniform scale plus a shift,
so this equals comparing in crop pixels against head_size * image_size / crop_size.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from posegan.camera import crop_to_original, depth_target, pose_from_prediction
from posegan.errors import InputDataError
from posegan.metrics import (auc3d_per_sample, group_mean, joint_errors, p_joint_errors, pck3d_per_sample,
                             pckh, per_joint, per_limb)
from posegan.plausibility import plausibility_scores
from posegan.skeleton import NUM_JOINTS, ROOT


def select_samples(labels: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """The label arrays of the samples `index`."""
    return {key: value[index] for key, value in labels.items()}


def mean_pose(joints_3d: np.ndarray, has_3d: np.ndarray | None = None, root: int = ROOT) -> np.ndarray:
    """The mean root-relative pose, (16, 3) mm, of the poses (N, 16, 3) mm that have 3D."""
    joints_3d = np.asarray(joints_3d, dtype=np.float64)
    if joints_3d.ndim != 3 or joints_3d.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints_3d: expected shape (N, {NUM_JOINTS}, 3), got {joints_3d.shape}")
    keep = np.isfinite(joints_3d).all(axis=(1, 2))
    if has_3d is not None:
        keep &= np.asarray(has_3d, dtype=bool)
    if not keep.any():
        raise ValueError("mean_pose: no sample has a 3D pose")
    relative = joints_3d[keep] - joints_3d[keep][:, root : root + 1]
    return relative.mean(axis=0)


def mean_pose_predictions(pose: np.ndarray, gt: np.ndarray, root: int = ROOT) -> np.ndarray:
    """The mean-pose predictor: `pose` (16, 3) placed at each ground truth's root. Returns (N, 16, 3)."""
    gt = np.asarray(gt, dtype=np.float64)
    return gt[:, root : root + 1] + np.asarray(pose, dtype=np.float64)[None]


def _samples_with_3d(pred_3d: np.ndarray, labels: Mapping[str, np.ndarray], source: str) -> np.ndarray:
    """Mask of the samples with a 3D label; ValueError if one of them has no usable prediction."""
    has_3d = np.asarray(labels["has_3d"], dtype=bool) & np.isfinite(labels["joints_3d"]).all(axis=(1, 2))
    if not has_3d.any():
        raise InputDataError(f"{source}: no sample has a 3D label (joints_3d / has_3d)")
    bad = has_3d & ~np.isfinite(pred_3d).all(axis=(1, 2))
    if bad.any():
        raise InputDataError(f"{source}: {int(bad.sum())} sample(s) with 3D labels have no camera or root_depth, "
                         f"so their prediction cannot be put in millimetres (first: index "
                         f"{int(np.flatnonzero(bad)[0])})")
    return has_3d


def _by_group(values: np.ndarray, groups: np.ndarray, names: list[str]) -> dict[str, float]:
    """Per-group means over the samples that carry a group label (>= 0); {} if none do."""
    groups = np.asarray(groups)
    labelled = groups >= 0
    if not names or not labelled.any():
        return {}
    return group_mean(values[labelled], groups[labelled].astype(np.int64), names)


def score_lab(pred_3d: np.ndarray, labels: Mapping[str, np.ndarray], action_names: list[str],
              source: str = "lab test", with_joints: bool = True) -> dict[str, Any]:
    """Tables 1 and 2 on a lab 3D test set.

    pred_3d: (N, 16, 3) camera mm; labels: the file's label arrays for the same N samples
    (joints_3d, has_3d, action); samples without 3D labels are skipped. Returns mpjpe,
    p_mpjpe (mm), limbs (Table 2), mpjpe_by_action, p_mpjpe_by_action, joints (per joint
    MPJPE; left out when not `with_joints`), samples (count).
    """
    keep = _samples_with_3d(pred_3d, labels, source)
    pred, gt = pred_3d[keep], labels["joints_3d"][keep]
    errors, p_errors = joint_errors(pred, gt), p_joint_errors(pred, gt)
    actions = labels["action"][keep]
    scores = {
        "mpjpe": float(errors.mean()),
        "p_mpjpe": float(p_errors.mean()),
        "limbs": per_limb(errors),
        "mpjpe_by_action": _by_group(errors.mean(axis=1), actions, action_names),
        "p_mpjpe_by_action": _by_group(p_errors.mean(axis=1), actions, action_names),
        "joints": per_joint(errors),
        "samples": int(keep.sum()),
    }
    if not with_joints:
        del scores["joints"]
    return scores


def score_cross(pred_3d: np.ndarray, labels: Mapping[str, np.ndarray], activity_names: list[str],
                threshold: float = 150.0, source: str = "cross-domain test") -> dict[str, Any]:
    """Table 4 on a cross-domain 3D test set (MPI-INF-3DHP protocol).

    pred_3d: (N, 16, 3) camera mm. Returns pck {total, per activity} (percent of the 14
    protocol joints closer than `threshold` mm after root centring), auc {total, per activity}
    (percent, thresholds 0..150 mm by 5), mpjpe (mm) and samples (count).
    """
    keep = _samples_with_3d(pred_3d, labels, source)
    pred, gt = pred_3d[keep], labels["joints_3d"][keep]
    pck, auc = pck3d_per_sample(pred, gt, threshold), auc3d_per_sample(pred, gt)
    activities = labels["action"][keep]
    return {
        "pck": {"total": float(pck.mean()), **_by_group(pck, activities, activity_names)},
        "auc": {"total": float(auc.mean()), **_by_group(auc, activities, activity_names)},
        "mpjpe": float(joint_errors(pred, gt).mean()),
        "samples": int(keep.sum()),
    }


def score_wild(pred_2d: np.ndarray, labels: Mapping[str, np.ndarray], image_size: int, threshold: float = 0.5,
               source: str = "wild validation") -> dict[str, Any]:
    """Table 3: PCKh by part on a 2D set.

    pred_2d: (N, 16, 2) crop pixels; labels: joints_2d (crop pixels), annotated, head_size
    (original-image pixels), crop_center, crop_size (original pixels) of the same samples;
    image_size: crop side in pixels. Both poses are mapped to original pixels before they are
    compared with threshold x head size. Samples without annotated joints are skipped.
    Returns pckh {mean, Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle} (percent) and samples.
    """
    annotated = np.asarray(labels["annotated"], dtype=bool)
    keep = annotated.any(axis=1)
    if not keep.any():
        raise InputDataError(f"{source}: no sample has an annotated joint")
    for field, valid in (("head_size", labels["head_size"] > 0),
                         ("crop_size", labels["crop_size"] > 0),
                         ("crop_center", np.isfinite(labels["crop_center"]).all(axis=1))):
        bad = keep & ~(np.isfinite(labels[field].reshape(len(keep), -1)).all(axis=1) & valid)
        if bad.any():
            raise InputDataError(f"{source}: field {field!r} is missing or not positive for {int(bad.sum())} annotated "
                             f"sample(s) (first: index {int(np.flatnonzero(bad)[0])}); PCKh needs it")
    center, size = labels["crop_center"][keep], labels["crop_size"][keep]
    pred = crop_to_original(pred_2d[keep], center, size, image_size)
    gt = crop_to_original(labels["joints_2d"][keep], center, size, image_size)
    parts = pckh(pred, gt, labels["head_size"][keep], annotated[keep], threshold)
    return {"pckh": {"mean": parts.pop("mean"), **parts}, "samples": int(keep.sum())}


def score_wild_3d(pred_3d: np.ndarray, labels: Mapping[str, np.ndarray], threshold: float = 150.0,
                  source: str = "wild 3D set") -> dict[str, Any]:
    """3D in the wild: a wild set whose true 3D is known (the synthetic wild validation set's
    evaluation-only file). pred_3d: (N, 16, 3) camera mm. Returns mpjpe and p_mpjpe (mm),
    pck (percent of the 14 protocol joints within `threshold` mm after root centring), auc
    (percent, 0..150 mm) and samples."""
    keep = _samples_with_3d(pred_3d, labels, source)
    pred, gt = pred_3d[keep], labels["joints_3d"][keep]
    return {
        "mpjpe": float(joint_errors(pred, gt).mean()),
        "p_mpjpe": float(p_joint_errors(pred, gt).mean()),
        "pck": float(pck3d_per_sample(pred, gt, threshold).mean()),
        "auc": float(auc3d_per_sample(pred, gt).mean()),
        "samples": int(keep.sum()),
    }


def score_plausibility(poses_3d: np.ndarray, labels: Mapping[str, np.ndarray],
                       source: str = "3D set") -> dict[str, Any]:
    """`posegan.plausibility.plausibility_scores` of the poses (N, 16, 3) mm of the samples with 3D
    labels, with the bone-length error against those labels (pass the labels' own joints_3d to
    score the truth)."""
    keep = _samples_with_3d(poses_3d, labels, source)
    return plausibility_scores(poses_3d[keep], labels["joints_3d"][keep])


def score_decomposition(pred_2d: np.ndarray, pred_depth: np.ndarray, labels: Mapping[str, np.ndarray],
                        stride: int, source: str = "3D set") -> dict[str, float]:
    """Which part of the pose is wrong: MPJPE (mm) with one part of the prediction replaced by the truth.

    pred_2d: (N, 16, 2) crop pixels; pred_depth: (N, 16) depth targets in heatmap pixels
    (docs/conventions.md, "Depth target"); labels: joints_2d, joints_3d, camera, root_depth,
    has_3d of the same samples. Returns true_2d_pred_depth (the predicted depths on the true 2D
    joints: the depth's share of the error), pred_2d_true_depth (the true depths on the predicted
    2D joints: the 2D's share) and both (the prediction itself), each back-projected with the
    crop camera at the true root depth (Protocol #1).
    """
    pred_3d = pose_from_prediction(pred_2d, pred_depth, labels["root_depth"], labels["camera"], stride)
    keep = _samples_with_3d(pred_3d, labels, source)
    gt, camera, root = labels["joints_3d"][keep], labels["camera"][keep], labels["root_depth"][keep]
    true_depth = depth_target(gt, camera, stride)

    def error(joints_2d, depth):
        return float(joint_errors(pose_from_prediction(joints_2d, depth, root, camera, stride), gt).mean())

    return {"true_2d_pred_depth": error(labels["joints_2d"][keep], pred_depth[keep]),
            "pred_2d_true_depth": error(pred_2d[keep], true_depth),
            "both": error(pred_2d[keep], pred_depth[keep])}


# --------------------------------------------------------------------------- the scorer table

@dataclass(frozen=True)
class SetScoring:
    """What scoring one set needs besides the predictions and the labels.

    action_names: the file's group names (Human3.6M actions, MPI-INF-3DHP activities).
    image_size: its crop side in pixels. pck_threshold: mm, the 3D PCK (paper: 150).
    pckh_threshold: fraction of the head size (paper: 0.5). source: the set's name in
    messages (the file). with_joints: keep the lab set's per-joint errors."""

    action_names: list[str]
    image_size: int
    pck_threshold: float = 150.0
    pckh_threshold: float = 0.5
    source: str = "test set"
    with_joints: bool = True


# scorer name -> (the prediction it scores: joints_3d (mm) or joints_2d (crop pixels),
#                 the scores from (that prediction, labels, SetScoring))
SCORERS: dict[str, tuple[str, Callable[[np.ndarray, Mapping[str, np.ndarray], SetScoring], dict[str, Any]]]] = {
    "lab": ("joints_3d", lambda pred, labels, how: score_lab(pred, labels, how.action_names, how.source,
                                                             how.with_joints)),
    "wild": ("joints_2d", lambda pred, labels, how: score_wild(pred, labels, how.image_size, how.pckh_threshold,
                                                               how.source)),
    "cross": ("joints_3d", lambda pred, labels, how: score_cross(pred, labels, how.action_names, how.pck_threshold,
                                                                 how.source)),
    "wild_3d": ("joints_3d", lambda pred, labels, how: score_wild_3d(pred, labels, how.pck_threshold, how.source)),
}


def scores_3d(scorer: str) -> bool:
    """Whether the scorer `scorer` scores 3D poses (so the mean pose and plausibility apply)."""
    return _scorer(scorer)[0] == "joints_3d"


def score_set(scorer: str, pred: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
              how: SetScoring) -> dict[str, Any]:
    """The scores of the predictions `pred` (arrays keyed joints_3d / joints_2d, as
    `posegan.predict.predict` returns them) on one set by the scorer named `scorer`."""
    field, score = _scorer(scorer)
    return score(pred[field], labels, how)


def _scorer(scorer: str):
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; expected one of {list(SCORERS)}")
    return SCORERS[scorer]
