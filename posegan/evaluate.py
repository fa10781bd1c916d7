"""Evaluation: run generators over the three test sets and score every breakdown of Tables 1-4.

    metrics, predictions = evaluate_models({"final": "models/adversarial.pt",
                                            "pretrained": "models/pretrain_depth.pt"}, prepared_dir, settings)
    write_evaluation(metrics, predictions, "metrics/evaluate.json", "predictions")

    scores = score_on_validation("models/adversarial.pt", prepared_dir, settings)   # for choosing settings

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

`metrics/evaluate.json` layout (numbers rounded to 2 decimals, mm or percent; key order fixed,
headline numbers first; `null` where a value is undefined):

    h36m:         mpjpe, p_mpjpe, limbs{upper_arms, lower_arms, upper_legs, lower_legs, mean},
                  mpjpe_by_action{...}, p_mpjpe_by_action{...}, joints{<16 joint names>}, samples,
                  left_right{order_right, order_right_front, order_right_back, max_pair_correlation,
                  pairs{<pair>{order_right, order_right_front, order_right_back,
                  heatmap_correlation, samples}}} (shares in [0, 1], 4 decimals; see
                  posegan.left_right.left_right_summary)
    mpii:         pckh{mean, Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle}, samples
    mpi_inf_3dhp: pck{total, <activities>}, auc{total, <activities>}, mpjpe, samples
    mpii_3d:      mpjpe, p_mpjpe, pck, auc, samples: 3D in the wild, on the wild validation set's
                  evaluation-only file with its true 3D (synthetic benchmark only; skipped with
                  a note where it is not prepared, as with real MPII)
                  each 3D set (h36m, mpi_inf_3dhp, mpii_3d) also has
                  plausibility{symmetry_error, symmetry_error_relative, asymmetric_pairs,
                  symmetry_by_pair{...}, bone_length_error, knee_hyperextension,
                  elbow_hyperextension} (posegan.plausibility) and
                  decomposition{true_2d_pred_depth, pred_2d_true_depth, both} (MPJPE, mm)
    pretrained:   {h36m, mpii, mpi_inf_3dhp, mpii_3d} as above (without h36m.joints), for the
                  pre-adversarial generator
    mean_pose:    {h36m, mpi_inf_3dhp, mpii_3d} as above (without h36m.joints, plausibility and
                  decomposition), for the mean-pose predictor
    truth:        {h36m, mpi_inf_3dhp, mpii_3d}: {plausibility} of the ground truth itself

The final model's numbers sit at the top level so that `dvc metrics diff` across experiments
shows h36m.mpjpe, h36m.limbs.*, mpii.pckh.mean, mpi_inf_3dhp.pck.total first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posegan.atomic_files import replacing_folder, write_json_atomic
from posegan.data.dataset import PoseDataset
from posegan.data.schema import read_prepared
from posegan.data.sets import MEAN_POSE_SOURCE, PreparedSet, by_role, scored_sets, validation_sets
from posegan.errors import InputMissingError
from posegan.left_right import left_right_summary
from posegan.metrics_json import lookup, rounded
from posegan.model_file import load_model
from posegan.models import Generator
from posegan.predict import predict
from posegan.scoring import (SetScoring, mean_pose, mean_pose_predictions, score_decomposition, score_plausibility,
                             score_set, scores_3d, select_samples)
from posegan.settings import setting
from posegan.subsets import evenly_spaced

# The test sets, their scorers and the optional ones come from the dataset table (posegan.data.sets).
# Key of the ground truth's own plausibility in evaluate.json.
TRUTH = "truth"
# The generator whose numbers go to the top level of evaluate.json.
FINAL = "final"
# Key of the mean-pose predictor in evaluate.json.
MEAN_POSE = "mean_pose"


@dataclass(frozen=True)
class EvaluateSettings:
    """The evaluate stage (params section `evaluate`).

    batch_size: inference minibatch. workers: loader processes. max_samples: None to score
    every test sample, or an int to score that many evenly spaced samples of each set (quick
    checks only). pck_threshold: mm, the 3D PCK of Table 4 (paper: 150). pckh_threshold:
    fraction of head size (paper: 0.5).
    """

    batch_size: int = setting(32, minimum=1)
    workers: int = setting(0, minimum=0)
    max_samples: int | None = setting(None, minimum=1)
    pck_threshold: float = setting(150.0, minimum=0, exclusive=True)
    pckh_threshold: float = setting(0.5, minimum=0, exclusive=True)


def load_sets(entries: Mapping[str, PreparedSet], prepared_dir: str | Path,
              log: Callable[[str], None] | None = None) -> dict[str, PoseDataset]:
    """The prepared files of `entries` (rows of the dataset table by key: `scored_sets()`, the
    test sets keyed as in evaluate.json, or `validation_sets()`); InputMissingError naming a
    missing file, except that an optional set whose file is not prepared is left out, with a
    note to `log`."""
    sets = {}
    for key, entry in entries.items():
        path = entry.path(prepared_dir)
        if entry.optional is not None and not path.exists():
            if log is not None:
                log(f"  {key}: skipped, {path} not prepared ({entry.optional})")
            continue
        sets[key] = PoseDataset(path)
    return sets


def set_scoring(dataset: PoseDataset, settings: EvaluateSettings, with_joints: bool = True) -> SetScoring:
    """How the test set `dataset` is scored under the evaluate settings."""
    return SetScoring(list(dataset.attrs["action_names"]), dataset.image_size, settings.pck_threshold,
                      settings.pckh_threshold, str(dataset.path), with_joints)


def scorer_of(key: str) -> str:
    """The scorer of the test set `key` (h36m, mpii, ...) in the dataset table."""
    sets = scored_sets()
    if key not in sets:
        raise ValueError(f"unknown test set {key!r}; expected one of {list(sets)}")
    return sets[key].scorer


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
        index, scorer = indices[key], scorer_of(key)
        pred = predict(generator, dataset, index, batch_size=settings.batch_size, device=device, amp=amp,
                       workers=settings.workers, with_pair_correlation=scorer == "lab")
        labels = select_samples(dataset.labels, index)
        source = str(dataset.path)
        scores[key] = score_set(scorer, pred, labels, set_scoring(dataset, settings, with_joints))
        if scorer == "lab":
            scores[key]["left_right"] = left_right_summary(pred["joints_2d"], labels["joints_2d"],
                                                           pred.pop("pair_correlation"))
        if scores_3d(scorer):
            scores[key]["plausibility"] = score_plausibility(pred["joints_3d"], labels, source)
            scores[key]["decomposition"] = score_decomposition(pred["joints_2d"], pred["depth"], labels,
                                                               dataset.stride, source)
        predictions[key] = pred
        if log is not None:
            log(f"  {key}: {len(index)} samples in {time.perf_counter() - start:.1f} s")
    return scores, predictions


def score_mean_pose(pose: np.ndarray, sets: Mapping[str, PoseDataset], indices: Mapping[str, np.ndarray],
                    settings: EvaluateSettings) -> dict[str, Any]:
    """The mean-pose predictor on the 3D test sets (h36m, mpi_inf_3dhp, mpii_3d)."""
    scores = {}
    for key, dataset in sets.items():
        if scores_3d(scorer_of(key)):
            labels = select_samples(dataset.labels, indices[key])
            pred = {"joints_3d": mean_pose_predictions(pose, labels["joints_3d"])}
            scores[key] = score_set(scorer_of(key), pred, labels, set_scoring(dataset, settings, with_joints=False))
    return scores


def score_truth(sets: Mapping[str, PoseDataset], indices: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The ground truth's own plausibility on the 3D sets: the level a prediction can reach
    (0 everywhere on the symmetric synthetic people; a few mm of asymmetry in real capture)."""
    scores = {}
    for key in sets:
        if scores_3d(scorer_of(key)):
            labels = select_samples(sets[key].labels, indices[key])
            scores[key] = {"plausibility": score_plausibility(labels["joints_3d"], labels, str(sets[key].path))}
    return scores


def evaluate_models(model_paths: Mapping[str, str | Path], prepared_dir: str | Path, settings: EvaluateSettings,
                    device: torch.device | str = "cpu", amp: bool = False,
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
    generators = {name: load_model(model_paths[name], device)[0] for name in order}
    mean_source = by_role(MEAN_POSE_SOURCE).path(prepared_dir)
    sets = load_sets(scored_sets(), prepared_dir, log)
    train, _ = read_prepared(mean_source, fields=["joints_3d", "has_3d"])
    pose = mean_pose(train["joints_3d"], train["has_3d"])
    indices = {key: evenly_spaced(len(dataset), settings.max_samples) for key, dataset in sets.items()}

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
    metrics[TRUTH] = score_truth(sets, indices)
    return metrics, predictions


def score_on_validation(model_path: str | Path, prepared_dir: str | Path, settings: EvaluateSettings,
                        device: torch.device | str = "cpu", amp: bool = False, keys: Sequence[str] | None = None,
                        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The scores of one model file on the validation splits settings are chosen on (the dataset
    table's `validation_sets`, every sample; never a test set), keyed and laid out like the test
    sets' scores in evaluate.json. keys: only these sets (default: all of them)."""
    generator, _ = load_model(model_path, device)
    entries = {key: entry for key, entry in validation_sets().items() if keys is None or key in keys}
    sets = load_sets(entries, prepared_dir, log)
    indices = {key: evenly_spaced(len(dataset), None) for key, dataset in sets.items()}
    scores, _ = evaluate_generator(generator, sets, indices, settings, device, amp, log)
    return scores


# --------------------------------------------------------------------------- outputs

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
    ("cross_symmetry", "mpi_inf_3dhp.plausibility.symmetry_error"),
    ("wild_3d_mpjpe", "mpii_3d.mpjpe"),
)


def headline_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The final model's headline figures from evaluate.json's dict, flat (None where absent):
    lab MPJPE / P-MPJPE and limb means (mm), the left/right order shares and the largest
    paired-channel correlation, wild PCKh@0.5 and cross-domain PCK / AUC (percent)."""
    return {name: lookup(metrics, key) for name, key in HEADLINE}


def write_evaluation(metrics: Mapping[str, Any], predictions: Mapping[str, Mapping[str, np.ndarray]],
                     metrics_path: str | Path, predictions_dir: str | Path, digits: int = 2,
                     headline_path: str | Path | None = None) -> None:
    """Write predictions_dir/<name>.npz (each a dict of arrays) and the metrics JSON, atomically.

    The predictions go to a temporary folder that replaces `predictions_dir` when complete;
    the metrics file is written last, through a temporary name, after the headline file
    (`headline_metrics`, when `headline_path` is given).
    """
    with replacing_folder(predictions_dir) as tmp_dir:
        for name, arrays in predictions.items():
            np.savez_compressed(tmp_dir / f"{name}.npz", **arrays)
    metrics = rounded(metrics, digits)
    if headline_path is not None:
        write_json_atomic(headline_path, headline_metrics(metrics))
    write_json_atomic(metrics_path, metrics)


def load_predictions(predictions_dir: str | Path, name: str) -> dict[str, np.ndarray]:
    """predictions_dir/<name>.npz as a dict of arrays (FileNotFoundError naming the file)."""
    path = Path(predictions_dir) / f"{name}.npz"
    if not path.exists():
        raise InputMissingError(f"{path}: predictions not found (run the evaluate stage)")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}
