"""Pose metrics: MPJPE (Protocol #1), P-MPJPE (Protocol #2), 3D PCK/AUC and PCKh.

All functions take NumPy arrays in the MPII-16 joint order (`posegan.skeleton`) and
return Python floats (or dicts of them); 3D values are millimetres, percentages are
0..100. Each headline metric is built from a per-joint or per-sample block, so the
evaluate stage can break it down per joint, per limb and per action/activity:

    errors = joint_errors(pred, gt)              # (N, 16) mm, Protocol #1
    per_joint(errors), per_limb(errors)          # dicts for Table 2
    group_mean(errors.mean(axis=1), action, action_names)    # Table 1 per action

Definitions (docs/conventions.md, "Metrics"):

- MPJPE: mean Euclidean distance over the 16 joints after subtracting each pose's
  root (pelvis) from prediction and ground truth. The root itself counts, with zero
  error, as in Human3.6M practice.
- P-MPJPE: the same after aligning each prediction to its ground truth by the
  similarity transform (scale, rotation, translation) with least squared error;
  reflections are not allowed.
- 3D PCK: percentage of joints closer than a threshold (strict <) to the ground truth,
  on root-centred poses; AUC: mean PCK over the thresholds 0, 5, ..., 150 mm. By
  default over the 14 joints of the MPI-INF-3DHP protocol (all but pelvis and thorax,
  which are the 3DHP pelvis and spine; the 3DHP "head" joint is not in MPII-16).
- PCKh (MPII): a joint is correct if its 2D distance is below `threshold` x head size;
  counted over annotated joints; each joint's percentage, then Head = head top and
  each other part = mean of its left and right joints; mean = mean over the 14 joints
  other than pelvis and thorax (upper neck included). This is the evaluation of
  bearpaw/pytorch-pose (evaluation/eval_PCKh.py), whose published numbers the tests
  reproduce to 0.01.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posegan.skeleton import JOINT_NAMES, LIMB_GROUPS, NUM_JOINTS, ROOT

# Thresholds (mm) of the 3D AUC: 0, 5, ..., 150 (31 values).
AUC_THRESHOLDS_MM: np.ndarray = np.arange(0.0, 151.0, 5.0)

# The 14 joints other than pelvis and thorax.
_ALL_BUT_PELVIS_THORAX = [j for j, name in enumerate(JOINT_NAMES) if name not in ("pelvis", "thorax")]

# Joints scored by 3D PCK/AUC: the MPI-INF-3DHP evaluation set, all but pelvis and thorax.
PCK3D_JOINTS: list[int] = list(_ALL_BUT_PELVIS_THORAX)

# PCKh parts as reported for MPII (Table 3): name -> joints averaged.
PCKH_PARTS: dict[str, list[int]] = {
    "Head": [9],
    "Shoulder": [12, 13],
    "Elbow": [11, 14],
    "Wrist": [10, 15],
    "Hip": [2, 3],
    "Knee": [1, 4],
    "Ankle": [0, 5],
}
# Joints in the PCKh mean: all but pelvis and thorax (upper neck included).
PCKH_MEAN_JOINTS: list[int] = list(_ALL_BUT_PELVIS_THORAX)


# --------------------------------------------------------------------------- input checks

def _poses(name: str, array, dims: int) -> np.ndarray:
    """`array` as float64 (N, 16, dims), or a ValueError naming `name`."""
    poses = np.asarray(array, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[2] != dims:
        raise ValueError(f"{name}: expected shape (N, {NUM_JOINTS}, {dims}), got {poses.shape}")
    if poses.shape[1] != NUM_JOINTS:
        raise ValueError(
            f"{name}: expected {NUM_JOINTS} joints (MPII-16 order) on axis 1, got {poses.shape[1]}"
        )
    if poses.shape[0] == 0:
        raise ValueError(f"{name}: no samples (N = 0)")
    return poses


def _pose_pair(pred, gt, dims: int = 3, finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _poses("pred", pred, dims), _poses("gt", gt, dims)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt shapes differ: {pred.shape} vs {gt.shape}")
    if finite:
        for name, poses in (("pred", pred), ("gt", gt)):
            bad = ~np.isfinite(poses).all(axis=(1, 2))
            if bad.any():
                raise ValueError(
                    f"{name}: {int(bad.sum())} sample(s) hold NaN or inf (first: index "
                    f"{int(np.flatnonzero(bad)[0])}); keep only samples with 3D ground truth (has_3d)"
                )
    return pred, gt


def _root_centred(poses: np.ndarray, root: int | None) -> np.ndarray:
    if root is None:
        return poses
    if not 0 <= root < NUM_JOINTS:
        raise ValueError(f"root: expected a joint index in [0, {NUM_JOINTS}) or None, got {root}")
    return poses - poses[:, root : root + 1]


def _joint_subset(joints: Sequence[int]) -> list[int]:
    joints = [int(j) for j in joints]
    if not joints or any(not 0 <= j < NUM_JOINTS for j in joints):
        raise ValueError(f"joints: expected a non-empty list of indices in [0, {NUM_JOINTS}), got {joints}")
    return joints


# --------------------------------------------------------------------------- Protocol #1

def joint_errors(pred, gt, root: int | None = ROOT) -> np.ndarray:
    """Per-joint Euclidean errors after root centring (Protocol #1).

    pred, gt: (N, 16, 3) mm. root: joint subtracted from each pose (pelvis), or None
    to compare the poses as given. Returns (N, 16) mm.
    """
    pred, gt = _pose_pair(pred, gt)
    return np.linalg.norm(_root_centred(pred, root) - _root_centred(gt, root), axis=-1)


def mpjpe(pred, gt, root: int | None = ROOT) -> float:
    """Mean per-joint position error, Protocol #1.

    pred, gt: (N, 16, 3) mm. Returns the mean over samples and the 16 joints, in mm,
    after subtracting each pose's root joint from that pose.
    """
    return float(joint_errors(pred, gt, root).mean())


# --------------------------------------------------------------------------- Protocol #2

def procrustes_align(pred, gt) -> np.ndarray:
    """Align each prediction to its ground truth by a similarity transform.

    pred, gt: (N, P, 3). Finds per sample the scale s, rotation R (det R = +1, no
    reflection) and translation t minimising sum_j |gt_j - (s pred_j R + t)|^2, by one
    batched SVD. Returns the aligned predictions, (N, P, 3), in gt's units. A
    prediction with all joints at one point aligns to gt's centroid (s = 0).
    """
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[-1] != 3 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt: expected equal shapes (N, P, 3), got {pred.shape} and {gt.shape}")
    pred_mean, gt_mean = pred.mean(axis=1, keepdims=True), gt.mean(axis=1, keepdims=True)
    pred0, gt0 = pred - pred_mean, gt - gt_mean

    # Kabsch/Umeyama with row vectors: maximise tr(R^T M), M = pred0^T gt0 = U S V^T.
    u, s, vt = np.linalg.svd(pred0.transpose(0, 2, 1) @ gt0)
    # A reflection would have det(U V^T) = -1: flip the weakest axis instead.
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones_like(s)
    d[:, -1] = sign
    rotation = (u * d[:, None, :]) @ vt                      # U diag(d) V^T, (N, 3, 3)

    pred_var = (pred0**2).sum(axis=(1, 2))                    # (N,)
    trace = (s * d).sum(axis=1)
    scale = np.divide(trace, pred_var, out=np.zeros_like(trace), where=pred_var > 0)
    return scale[:, None, None] * (pred0 @ rotation) + gt_mean


def p_joint_errors(pred, gt) -> np.ndarray:
    """Per-joint Euclidean errors after Procrustes alignment (Protocol #2).

    pred, gt: (N, 16, 3) mm. Returns (N, 16) mm.
    """
    pred, gt = _pose_pair(pred, gt)
    return np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1)


def p_mpjpe(pred, gt) -> float:
    """Mean per-joint position error after per-sample similarity alignment, Protocol #2.

    pred, gt: (N, 16, 3) mm. Each prediction is scaled, rotated (no reflection) and
    translated onto its ground truth with least squared error. Returns mm.
    """
    return float(p_joint_errors(pred, gt).mean())


# --------------------------------------------------------------------------- breakdowns

def _errors(errors) -> np.ndarray:
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 2 or errors.shape[1] != NUM_JOINTS or errors.shape[0] == 0:
        raise ValueError(f"errors: expected per-joint errors of shape (N>0, {NUM_JOINTS}), got {errors.shape}")
    return errors


def per_joint(errors) -> dict[str, float]:
    """Mean error of each joint. errors: (N, 16) (e.g. `joint_errors`, mm).

    Returns joint name -> mean over samples, in MPII order.
    """
    errors = _errors(errors)
    return {name: float(value) for name, value in zip(JOINT_NAMES, errors.mean(axis=0))}


def per_limb(errors) -> dict[str, float]:
    """Table 2 breakdown. errors: (N, 16) (e.g. `joint_errors`, mm).

    Returns upper_arms, lower_arms, upper_legs, lower_legs (the mean error of the joints
    that end each segment, `skeleton.LIMB_GROUPS`) and mean: the error over all 16
    joints, which is the paper's "Mean" column (= MPJPE), not the mean of the four limbs.
    """
    errors = _errors(errors)
    result = {limb: float(errors[:, joints].mean()) for limb, joints in LIMB_GROUPS.items()}
    result["mean"] = float(errors.mean())
    return result


def group_mean(values, labels, names: Sequence[str]) -> dict[str, float]:
    """Mean of per-sample values within each group (action, activity, subject...).

    values: (N,) per-sample numbers (e.g. `joint_errors(...).mean(axis=1)` in mm, or
    `pck3d_per_sample` in percent). labels: (N,) integer group ids indexing `names`
    (the prepared files' `action` field and `action_names` attribute).
    Returns name -> mean, in the order of `names`, omitting groups without samples.
    """
    values = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels)
    if values.ndim != 1 or values.shape != labels.shape:
        raise ValueError(f"values and labels: expected equal shapes (N,), got {values.shape} and {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integer group ids, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise ValueError(
            f"labels: expected ids in [0, {len(names)}) for {len(names)} names, got range "
            f"[{labels.min()}, {labels.max()}] (-1 marks samples without a label)"
        )
    labels = labels.astype(np.int64)
    counts = np.bincount(labels, minlength=len(names))
    sums = np.bincount(labels, weights=values, minlength=len(names))
    return {str(name): float(sums[i] / counts[i]) for i, name in enumerate(names) if counts[i] > 0}


# --------------------------------------------------------------------------- 3D PCK / AUC

def _pck_per_sample(pred, gt, thresholds: np.ndarray, root: int | None,
                    joints: Sequence[int]) -> np.ndarray:
    """(N, T) percent of `joints` closer than each threshold (strict <)."""
    distances = joint_errors(pred, gt, root)[:, _joint_subset(joints)]       # (N, J)
    return 100.0 * (distances[:, :, None] < thresholds).mean(axis=1)


def pck3d_per_sample(pred, gt, threshold: float = 150.0, root: int | None = ROOT,
                     joints: Sequence[int] = PCK3D_JOINTS) -> np.ndarray:
    """Per-sample 3D PCK. pred, gt: (N, 16, 3) mm, threshold mm.

    Returns (N,) percent of `joints` (default: the 14 of the MPI-INF-3DHP protocol)
    whose root-centred error is strictly below `threshold`.
    """
    return _pck_per_sample(pred, gt, np.array([float(threshold)]), root, joints)[:, 0]


def pck3d(pred, gt, threshold: float = 150.0, root: int | None = ROOT,
          joints: Sequence[int] = PCK3D_JOINTS) -> float:
    """3D PCK in percent: joints with root-centred error < `threshold` mm (strict).

    pred, gt: (N, 16, 3) mm. Counted over `joints` of all samples (default: the 14
    joints of the MPI-INF-3DHP protocol, i.e. all but pelvis and thorax).
    """
    return float(pck3d_per_sample(pred, gt, threshold, root, joints).mean())


def auc3d_per_sample(pred, gt, root: int | None = ROOT,
                     joints: Sequence[int] = PCK3D_JOINTS) -> np.ndarray:
    """Per-sample 3D AUC: (N,) percent, mean PCK over `AUC_THRESHOLDS_MM` (0..150 by 5)."""
    return _pck_per_sample(pred, gt, AUC_THRESHOLDS_MM, root, joints).mean(axis=1)


def auc3d(pred, gt, root: int | None = ROOT, joints: Sequence[int] = PCK3D_JOINTS) -> float:
    """3D AUC in percent: mean 3D PCK over the 31 thresholds 0, 5, ..., 150 mm.

    pred, gt: (N, 16, 3) mm; PCK as in `pck3d` (strict <, so the 0 mm term is 0).
    """
    return float(auc3d_per_sample(pred, gt, root, joints).mean())


def pck_auc_by_group(pred, gt, labels, names: Sequence[str], threshold: float = 150.0,
                     root: int | None = ROOT,
                     joints: Sequence[int] = PCK3D_JOINTS) -> dict[str, dict[str, float]]:
    """Table 4: PCK and AUC per activity and in total.

    pred, gt: (N, 16, 3) mm; labels: (N,) ids into `names`. Returns
    {"PCK": {name: %, ..., "total": %}, "AUC": {...}}. Every sample has the same
    joints, so a group's value equals the pooled count over its joints, and "total"
    is pooled over all samples (not the mean of the groups).
    """
    pck = pck3d_per_sample(pred, gt, threshold, root, joints)
    auc = auc3d_per_sample(pred, gt, root, joints)
    return {
        "PCK": {**group_mean(pck, labels, names), "total": float(pck.mean())},
        "AUC": {**group_mean(auc, labels, names), "total": float(auc.mean())},
    }


# --------------------------------------------------------------------------- PCKh (2D)

def pckh_per_joint(pred, gt, head_size, annotated, threshold: float = 0.5) -> np.ndarray:
    """PCKh of each joint, percent.

    pred, gt: (N, 16, 2) pixels (same image coordinates for both; gt may hold NaN
    where not annotated). head_size: (N,) pixels, > 0 (MPII: 0.6 x head-box diagonal).
    annotated: (N, 16) bool, the joints that count. A joint is correct when its distance
    is strictly below threshold x head_size; a prediction holding NaN is wrong.
    Returns (16,) percent over the annotated instances of each joint (NaN for a joint
    with none).
    """
    pred, gt = _pose_pair(pred, gt, dims=2, finite=False)
    n = pred.shape[0]
    head_size = np.asarray(head_size, dtype=np.float64)
    if head_size.shape != (n,):
        raise ValueError(f"head_size: expected shape ({n},) to match pred, got {head_size.shape}")
    if not (np.isfinite(head_size) & (head_size > 0)).all():
        raise ValueError("head_size: expected finite values > 0 pixels")
    annotated = np.asarray(annotated)
    if annotated.shape != (n, NUM_JOINTS):
        raise ValueError(f"annotated: expected shape ({n}, {NUM_JOINTS}), got {annotated.shape}")
    if annotated.dtype != bool:
        if not np.isin(annotated, (0, 1)).all():
            raise ValueError(f"annotated: expected a boolean mask (or 0/1), got dtype {annotated.dtype}")
        annotated = annotated.astype(bool)

    distance = np.linalg.norm(pred - gt, axis=-1) / head_size[:, None]   # (N, 16) head sizes
    correct = annotated & (np.nan_to_num(distance, nan=np.inf) < threshold)
    count = annotated.sum(axis=0)
    return np.divide(100.0 * correct.sum(axis=0), count,
                     out=np.full(NUM_JOINTS, np.nan), where=count > 0)


def pckh(pred, gt, head_size, annotated, threshold: float = 0.5) -> dict[str, float]:
    """MPII PCKh@threshold by part, percent.

    pred, gt: (N, 16, 2) pixels; head_size: (N,) pixels; annotated: (N, 16) bool.
    Returns Head (head top), Shoulder, Elbow, Wrist, Hip, Knee, Ankle (each the mean
    of its left and right joints' PCKh) and mean: the mean of the per-joint PCKh over
    the 14 joints other than pelvis and thorax (upper neck counts in the mean only).
    Joints never annotated are left out of the averages (a part with none is NaN).
    """
    per_joint_pck = pckh_per_joint(pred, gt, head_size, annotated, threshold)

    def average(joints: Sequence[int]) -> float:
        values = per_joint_pck[list(joints)]
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else float("nan")

    result = {part: average(joints) for part, joints in PCKH_PARTS.items()}
    result["mean"] = average(PCKH_MEAN_JOINTS)
    return result
