"""Evaluation: run generators over the three test sets and score every breakdown of Tables 1-4.

    sets = load_test_sets(prepared_dir, stride)
    metrics, predictions = evaluate_models({"final": "models/adversarial.pt",
                                            "pretrained": "models/pretrain_depth.pt"}, sets, ...)
    write_evaluation(metrics, predictions, "metrics/evaluate.json", "predictions")

The test sets (prepared files under `data.prepared_dir`):

- lab test, `h36m_test.h5` (Human3.6M S9 and S11, or the synthetic stand-in): Protocol #1
  (MPJPE) and #2 (P-MPJPE) overall and per action (Table 1), limb errors (Table 2), per joint.
- wild validation, `mpii_valid.h5` (2D labels only): PCKh@0.5 by part (Table 3).
- cross-domain 3D test, `mpi_inf_3dhp_test.h5`: PCK@150 mm and AUC by activity and in total
  (Table 4), plus MPJPE.

3D poses come from `posegan.predict.predict`: the predicted 2D joints and depths are
back-projected with the sample's crop camera at the ground-truth root depth (Protocol #1
aligns the root anyway). The mean-pose predictor - every test pose is the training set's
mean root-relative pose placed at the true root - is scored on the 3D sets as the floor a
model must beat (it has no 2D counterpart, so it is not scored on the wild set).

PCKh units: the prepared files hold 2D joints in crop pixels but MPII's head size in
original-image pixels. Predictions and ground truth are both mapped back to original pixels
(`posegan.camera.crop_to_original`, the crop's centre and side) before comparing them with
the head size, as MPII's official evaluation does. (The map is a uniform scale plus a shift,
so this equals comparing in crop pixels against head_size * image_size / crop_size.)

`metrics/evaluate.json` layout (numbers rounded to 2 decimals, mm or percent; key order fixed,
headline numbers first; `null` where a value is undefined):

    h36m:         mpjpe, p_mpjpe, limbs{upper_arms, lower_arms, upper_legs, lower_legs, mean},
                  mpjpe_by_action{...}, p_mpjpe_by_action{...}, joints{<16 joint names>}, samples,
                  left_right{order_right, order_right_front, order_right_back, max_pair_correlation,
                  pairs{<pair>{order_right, order_right_front, order_right_back,
                  heatmap_correlation, samples}}} (shares in [0, 1], 4 decimals; see
                  posegan.report.left_right.left_right_summary)
    mpii:         pckh{mean, Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle}, samples
    mpi_inf_3dhp: pck{total, <activities>}, auc{total, <activities>}, mpjpe, samples
    pretrained:   {h36m, mpii, mpi_inf_3dhp} as above (without h36m.joints), for the
                  pre-adversarial generator
    mean_pose:    {h36m, mpi_inf_3dhp} as above (without h36m.joints), for the mean-pose predictor

The final model's numbers sit at the top level so that `dvc metrics diff` across experiments
shows h36m.mpjpe, h36m.limbs.*, mpii.pckh.mean, mpi_inf_3dhp.pck.total first.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posegan.camera import crop_to_original
from posegan.data.dataset import PoseDataset
from posegan.data.schema import prepared_path, read_prepared
from posegan.metrics import (auc3d_per_sample, group_mean, joint_errors, p_joint_errors, pck3d_per_sample,
                             pckh, per_joint, per_limb)
from posegan.models import Generator
from posegan.predict import predict
from posegan.report.ablation import lookup
from posegan.report.left_right import left_right_summary
from posegan.skeleton import NUM_JOINTS, ROOT

# Result key -> (dataset, split) of the prepared test file.
TEST_SETS: dict[str, tuple[str, str]] = {
    "h36m": ("h36m", "test"),
    "mpii": ("mpii", "valid"),
    "mpi_inf_3dhp": ("mpi_inf_3dhp", "test"),
}
# The training file whose mean root-relative pose is the mean-pose predictor.
MEAN_POSE_SOURCE: tuple[str, str] = ("h36m", "train")
# The generator whose numbers go to the top level of evaluate.json.
FINAL = "final"
# Key of the mean-pose predictor in evaluate.json.
MEAN_POSE = "mean_pose"


@dataclass(frozen=True)
class EvaluateSettings:
    """params.yaml's `evaluate` block.

    batch_size: inference minibatch. workers: loader processes. max_samples: None to score
    every test sample, or an int to score that many evenly spaced samples of each set (quick
    checks only). pck_threshold: mm, the 3D PCK of Table 4 (paper: 150). pckh_threshold:
    fraction of head size (paper: 0.5). figure_samples: rows of the qualitative figures drawn
    by the tables stage.
    """

    batch_size: int = 32
    workers: int = 0
    max_samples: int | None = None
    pck_threshold: float = 150.0
    pckh_threshold: float = 0.5
    figure_samples: int = 4

    @classmethod
    def from_params(cls, block: Mapping[str, Any] | None) -> "EvaluateSettings":
        """Build from the `evaluate` block; ValueError naming `evaluate.<key>` on a bad value."""
        block = dict(block or {})
        unknown = set(block) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"params.yaml: unknown key(s) {', '.join(f'evaluate.{k}' for k in sorted(unknown))}; "
                             f"expected {sorted(cls.__dataclass_fields__)}")
        settings = cls(**block)
        for key in ("batch_size", "figure_samples"):
            value = getattr(settings, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"params.yaml: evaluate.{key} must be a positive integer, got {value!r}")
        if not isinstance(settings.workers, int) or settings.workers < 0:
            raise ValueError(f"params.yaml: evaluate.workers must be an integer >= 0, got {settings.workers!r}")
        if settings.max_samples is not None and (not isinstance(settings.max_samples, int)
                                                 or isinstance(settings.max_samples, bool)
                                                 or settings.max_samples <= 0):
            raise ValueError(f"params.yaml: evaluate.max_samples must be null or a positive integer, "
                             f"got {settings.max_samples!r}")
        for key in ("pck_threshold", "pckh_threshold"):
            value = getattr(settings, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"params.yaml: evaluate.{key} must be a positive number, got {value!r}")
        return settings


# --------------------------------------------------------------------------- inputs

def load_generator(path: str | Path, device: torch.device | str = "cpu") -> tuple[Generator, dict[str, Any]]:
    """A generator from a model file models/<stage>.pt, in eval mode on `device`.

    The network is built from the file's own `model_params`, so it matches the weights
    whatever params.yaml says now. Returns (generator, payload without the state dicts).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: model file not found (run the training stages: dvc repro)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a corrupt or foreign file
        raise ValueError(f"{path}: not a readable model file ({err})") from err
    if not isinstance(payload, dict) or "generator" not in payload or "model_params" not in payload:
        raise ValueError(f"{path}: not a posegan model file (expected the keys 'generator' and 'model_params')")
    generator = Generator.from_params(payload["model_params"])
    try:
        generator.load_state_dict(payload["generator"])
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not fit the network of its model_params "
                         f"{payload['model_params']} ({err})") from err
    generator.to(device).eval()
    info = {k: v for k, v in payload.items() if k not in ("generator", "discriminator")}
    return generator, info


def load_test_sets(prepared_dir: str | Path, stride: int) -> dict[str, PoseDataset]:
    """The three test sets, keyed as in `TEST_SETS` (FileNotFoundError naming a missing file)."""
    return {key: PoseDataset(prepared_path(prepared_dir, *name), stride) for key, name in TEST_SETS.items()}


def subset_indices(n: int, max_samples: int | None) -> np.ndarray:
    """All n indices, or `max_samples` evenly spaced ones (first and last included)."""
    if max_samples is None or max_samples >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_samples).round().astype(np.int64))


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


# --------------------------------------------------------------------------- scores

def _select(labels: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {key: value[index] for key, value in labels.items()}


def _samples_with_3d(pred_3d: np.ndarray, labels: Mapping[str, np.ndarray], source: str) -> np.ndarray:
    """Mask of the samples with a 3D label; ValueError if one of them has no usable prediction."""
    has_3d = np.asarray(labels["has_3d"], dtype=bool) & np.isfinite(labels["joints_3d"]).all(axis=(1, 2))
    if not has_3d.any():
        raise ValueError(f"{source}: no sample has a 3D label (joints_3d / has_3d)")
    bad = has_3d & ~np.isfinite(pred_3d).all(axis=(1, 2))
    if bad.any():
        raise ValueError(f"{source}: {int(bad.sum())} sample(s) with 3D labels have no camera or root_depth, "
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
        raise ValueError(f"{source}: no sample has an annotated joint")
    for field, valid in (("head_size", labels["head_size"] > 0),
                         ("crop_size", labels["crop_size"] > 0),
                         ("crop_center", np.isfinite(labels["crop_center"]).all(axis=1))):
        bad = keep & ~(np.isfinite(labels[field].reshape(len(keep), -1)).all(axis=1) & valid)
        if bad.any():
            raise ValueError(f"{source}: field {field!r} is missing or not positive for {int(bad.sum())} annotated "
                             f"sample(s) (first: index {int(np.flatnonzero(bad)[0])}); PCKh needs it")
    center, size = labels["crop_center"][keep], labels["crop_size"][keep]
    pred = crop_to_original(pred_2d[keep], center, size, image_size)
    gt = crop_to_original(labels["joints_2d"][keep], center, size, image_size)
    parts = pckh(pred, gt, labels["head_size"][keep], annotated[keep], threshold)
    return {"pckh": {"mean": parts.pop("mean"), **parts}, "samples": int(keep.sum())}


# --------------------------------------------------------------------------- models

def evaluate_generator(generator: Generator, sets: Mapping[str, PoseDataset], indices: Mapping[str, np.ndarray],
                       settings: EvaluateSettings, device: torch.device | str = "cpu", amp: bool = False,
                       log: Callable[[str], None] | None = None, with_joints: bool = True
                       ) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Run one generator over the test sets and score it.

    Returns (scores keyed h36m / mpii / mpi_inf_3dhp, predictions keyed the same: the
    arrays of `posegan.predict.predict`). with_joints: include the per-joint lab errors.
    """
    scores, predictions = {}, {}
    for key, dataset in sets.items():
        start = time.perf_counter()
        index = indices[key]
        pred = predict(generator, dataset, index, batch_size=settings.batch_size, device=device, amp=amp,
                       workers=settings.workers, with_pair_correlation=key == "h36m")
        labels = _select(dataset.labels, index)
        source = str(dataset.path)
        if key == "h36m":
            scores[key] = score_lab(pred["joints_3d"], labels, dataset.attrs["action_names"], source, with_joints)
            scores[key]["left_right"] = left_right_summary(pred["joints_2d"], labels["joints_2d"],
                                                           pred.pop("pair_correlation"))
        elif key == "mpii":
            scores[key] = score_wild(pred["joints_2d"], labels, dataset.image_size, settings.pckh_threshold, source)
        elif key == "mpi_inf_3dhp":
            scores[key] = score_cross(pred["joints_3d"], labels, dataset.attrs["action_names"],
                                      settings.pck_threshold, source)
        else:
            raise ValueError(f"unknown test set {key!r}; expected one of {list(TEST_SETS)}")
        predictions[key] = pred
        if log is not None:
            log(f"  {key}: {len(index)} samples in {time.perf_counter() - start:.1f} s")
    return scores, predictions


def score_mean_pose(pose: np.ndarray, sets: Mapping[str, PoseDataset], indices: Mapping[str, np.ndarray],
                    settings: EvaluateSettings) -> dict[str, Any]:
    """The mean-pose predictor on the 3D test sets (h36m, mpi_inf_3dhp)."""
    scores = {}
    for key in ("h36m", "mpi_inf_3dhp"):
        if key not in sets:
            continue
        dataset = sets[key]
        labels = _select(dataset.labels, indices[key])
        pred = mean_pose_predictions(pose, labels["joints_3d"])
        names = dataset.attrs["action_names"]
        if key == "h36m":
            scores[key] = score_lab(pred, labels, names, str(dataset.path), with_joints=False)
        else:
            scores[key] = score_cross(pred, labels, names, settings.pck_threshold, str(dataset.path))
    return scores


def evaluate_models(model_paths: Mapping[str, str | Path], prepared_dir: str | Path, stride: int,
                    settings: EvaluateSettings, device: torch.device | str = "cpu", amp: bool = False,
                    log: Callable[[str], None] | None = None
                    ) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Score every model (and the mean-pose predictor) on the test sets.

    model_paths: name -> model file; the entry named `FINAL` ("final") is the headline model
    (its scores go to the top level), the others go under their names (e.g. "pretrained").
    All inputs are checked before any inference. Returns (metrics as written to
    evaluate.json, unrounded; predictions "<name>_<set>" -> arrays).
    """
    if FINAL not in model_paths:
        raise ValueError(f"model_paths must name the final model under {FINAL!r}, got {sorted(model_paths)}")
    order = sorted(model_paths, key=lambda name: name != FINAL)
    generators = {name: load_generator(model_paths[name], device)[0] for name in order}
    mean_source = prepared_path(prepared_dir, *MEAN_POSE_SOURCE)
    sets = load_test_sets(prepared_dir, stride)
    train, _ = read_prepared(mean_source, fields=["joints_3d", "has_3d"])
    pose = mean_pose(train["joints_3d"], train["has_3d"])
    indices = {key: subset_indices(len(dataset), settings.max_samples) for key, dataset in sets.items()}

    metrics: dict[str, Any] = {}
    secondary: dict[str, Any] = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for name in order:
        if log is not None:
            log(f"evaluate {name}: {model_paths[name]}")
        scores, preds = evaluate_generator(generators.pop(name), sets, indices, settings, device, amp, log,
                                           with_joints=name == FINAL)
        if name == FINAL:
            metrics.update(scores)
        else:
            secondary[name] = scores
        predictions.update({f"{name}_{key}": value for key, value in preds.items()})
    metrics.update(secondary)
    metrics[MEAN_POSE] = score_mean_pose(pose, sets, indices, settings)
    return metrics, predictions


# --------------------------------------------------------------------------- outputs

def rounded(value: Any, digits: int = 2) -> Any:
    """`value` with every float rounded to `digits` and NaN/inf turned into None (valid JSON)."""
    if isinstance(value, Mapping):
        # Left/right shares lie in [0, 1]: 4 decimals, so that 0.849 does not read as 0.85.
        return {str(k): rounded(v, 4 if k == "left_right" else digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits) if np.isfinite(value) else None
    return value


# metrics/headline.json: (name, dotted key in evaluate.json), the figures a person compares first.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("lab_mpjpe", "h36m.mpjpe"),
    ("lab_p_mpjpe", "h36m.p_mpjpe"),
    ("lab_upper_arms", "h36m.limbs.upper_arms"),
    ("lab_lower_arms", "h36m.limbs.lower_arms"),
    ("lab_upper_legs", "h36m.limbs.upper_legs"),
    ("lab_lower_legs", "h36m.limbs.lower_legs"),
    ("lab_left_right_order", "h36m.left_right.order_right"),
    ("lab_left_right_order_back", "h36m.left_right.order_right_back"),
    ("lab_max_pair_correlation", "h36m.left_right.max_pair_correlation"),
    ("wild_pckh", "mpii.pckh.mean"),
    ("cross_pck", "mpi_inf_3dhp.pck.total"),
    ("cross_auc", "mpi_inf_3dhp.auc.total"),
)


def headline_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The final model's headline figures from evaluate.json's dict, flat (None where absent):
    lab MPJPE / P-MPJPE and limb means (mm), the left/right order shares and the largest
    paired-channel correlation, wild PCKh@0.5 and cross-domain PCK / AUC (percent)."""
    return {name: lookup(metrics, key) for name, key in HEADLINE}


def _write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def write_evaluation(metrics: Mapping[str, Any], predictions: Mapping[str, Mapping[str, np.ndarray]],
                     metrics_path: str | Path, predictions_dir: str | Path, digits: int = 2,
                     headline_path: str | Path | None = None) -> None:
    """Write predictions_dir/<name>.npz (each a dict of arrays) and the metrics JSON, atomically.

    The predictions go to a temporary folder that replaces `predictions_dir` when complete;
    the metrics file is written last, through a temporary name, after the headline file
    (`headline_metrics`, when `headline_path` is given).
    """
    predictions_dir, metrics_path = Path(predictions_dir), Path(metrics_path)
    tmp_dir = predictions_dir.with_name(predictions_dir.name + ".tmp")
    old_dir = predictions_dir.with_name(predictions_dir.name + ".old.tmp")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    try:
        for name, arrays in predictions.items():
            np.savez_compressed(tmp_dir / f"{name}.npz", **arrays)
        if predictions_dir.exists():
            shutil.rmtree(old_dir, ignore_errors=True)
            os.replace(predictions_dir, old_dir)
        os.replace(tmp_dir, predictions_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    metrics = rounded(metrics, digits)
    if headline_path is not None:
        _write_json(headline_metrics(metrics), Path(headline_path))
    _write_json(metrics, metrics_path)


def load_predictions(predictions_dir: str | Path, name: str) -> dict[str, np.ndarray]:
    """predictions_dir/<name>.npz as a dict of arrays (FileNotFoundError naming the file)."""
    path = Path(predictions_dir) / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path}: predictions not found (run the evaluate stage)")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
