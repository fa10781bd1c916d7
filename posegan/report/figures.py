"""Figures as PNG (matplotlib, Agg backend): qualitative results and training curves.

- Qualitative results like the paper's Figures 4 (lab) and 6 (wild): per sample, the image
  with each model's 2D joints drawn over the ground truth, and each model's 3D skeleton
  (ground truth in grey where the set has it). The pre-adversarial generator stands beside
  the final one. Samples are not hand-picked: they sit at evenly spaced ranks of the change
  in error between the two models, from the largest improvement (top row) to the largest
  regression (bottom row), so the figure shows both what adversarial learning fixes and
  what it breaks.
- Training curves like Figure 5: validation MPJPE (lab) and PCKh (wild) against the
  iteration, the stages laid end to end, from the DVCLive files
  dvclive/<stage>/plots/metrics/val/<metric>.tsv.

3D skeletons are drawn root-centred with the camera's x to the right, its depth axis going
into the picture and up = -y. Lab poses are in mm; wild poses (no camera) are in heatmap
pixels - (x, y, depth) share that unit (docs/conventions.md, "Depth target"), so the shape
is undistorted.
"""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from posegan.data.schema import open_prepared, read_prepared  # noqa: E402
from posegan.errors import InputMissingError  # noqa: E402
from posegan.heatmaps import HEATMAP_STRIDE, crop_to_heatmap  # noqa: E402
from posegan.report.tables import StagedFiles  # noqa: E402
from posegan.settings import setting  # noqa: E402
from posegan.skeleton import BONES, JOINT_NAMES, ROOT  # noqa: E402
from posegan.subsets import evenly_spaced  # noqa: E402

RIGHT_COLOR = "#e4572e"
LEFT_COLOR = "#2e86de"
CENTRE_COLOR = "#e0a800"
GT_COLOR = "#9a9a9a"
STAGES: tuple[str, ...] = ("pretrain_2d", "pretrain_depth", "adversarial")
STAGE_COLORS = {"pretrain_2d": "#7f7f7f", "pretrain_depth": "#2e86de", "adversarial": "#e4572e"}
CURVES: dict[str, str] = {"mpjpe_lab": "val MPJPE, lab test (mm)", "pckh_wild": "val PCKh@0.5, wild (%)"}


def bone_color(parent: int, child: int) -> str:
    """Right side orange-red, left side blue, spine and head yellow."""
    name = JOINT_NAMES[child]
    return RIGHT_COLOR if name.startswith("r_") else LEFT_COLOR if name.startswith("l_") else CENTRE_COLOR


def save_figure(staged: StagedFiles, fig, path: str | Path, dpi: int = 110) -> None:
    """Render `fig` to a staged PNG (committed with the other outputs) and close it."""
    try:
        fig.savefig(staged.add(path), format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- skeletons

def draw_skeleton_2d(ax, joints: np.ndarray, annotated: np.ndarray | None = None, ground_truth: bool = False) -> None:
    """Draw (16, 2) image-pixel joints on `ax` (over an imshow'd image). Ground truth: thin grey dashes."""
    joints = np.asarray(joints, dtype=np.float64)
    shown = np.isfinite(joints).all(axis=1) if annotated is None else np.asarray(annotated, bool)
    for parent, child in BONES:
        if shown[parent] and shown[child]:
            x, y = joints[[parent, child], 0], joints[[parent, child], 1]
            if ground_truth:
                ax.plot(x, y, color="white", lw=1.0, ls="--", alpha=0.9)
            else:
                ax.plot(x, y, color=bone_color(parent, child), lw=2.0, solid_capstyle="round")
    if not ground_truth:
        ax.scatter(joints[shown, 0], joints[shown, 1], s=6, c="white", zorder=3, linewidths=0)


def _plot_3d(ax, pose: np.ndarray, ground_truth: bool) -> None:
    # camera (x right, y down, z forward) -> plot (x, depth, up)
    for parent, child in BONES:
        p = pose[[parent, child]]
        if ground_truth:
            ax.plot(p[:, 0], p[:, 2], -p[:, 1], color=GT_COLOR, lw=1.5, ls="--")
        else:
            ax.plot(p[:, 0], p[:, 2], -p[:, 1], color=bone_color(parent, child), lw=2.2)


def draw_skeleton_3d(ax, pose: np.ndarray, gt: np.ndarray | None = None, unit: str = "mm") -> None:
    """Draw a root-centred (16, 3) pose (camera axes), with the ground truth in grey dashes if given.

    The view is a cube around the root sized to the ground truth (or the pose without one);
    a prediction far larger than the ground truth is cut at three times its extent.
    """
    pose = np.asarray(pose, dtype=np.float64)
    reference = pose if gt is None else np.asarray(gt, dtype=np.float64)
    radius = float(np.nanmax(np.abs(reference))) * 1.15 if np.isfinite(reference).any() else 1.0
    if gt is not None and np.isfinite(pose).any():
        radius = min(max(radius, float(np.nanmax(np.abs(pose))) * 1.05), 3 * radius)
    radius = max(radius, 1e-6)
    if gt is not None:
        _plot_3d(ax, np.asarray(gt, dtype=np.float64), ground_truth=True)
    _plot_3d(ax, pose, ground_truth=False)
    ax.set_xlim(-radius, radius)
    ax.set_ylim(-radius, radius)
    ax.set_zlim(-radius, radius)
    ax.set_box_aspect((1, 1, 1), zoom=1.15)
    ax.view_init(elev=12, azim=-72)
    ax.set_xlabel(f"x ({unit})", fontsize=6, labelpad=-10)
    ax.set_ylabel(f"depth ({unit})", fontsize=6, labelpad=-10)
    ax.set_zlabel("up", fontsize=6, labelpad=-12)
    ax.tick_params(labelsize=5, pad=-4)
    ax.locator_params(nbins=3)


# --------------------------------------------------------------------------- qualitative


@dataclass(frozen=True)
class TablesSettings:
    """The tables stage's own params section `tables` (its table captions use the thresholds
    of `evaluate`). figure_samples: rows of each qualitative figure (`lab_samples`,
    `wild_samples`)."""

    figure_samples: int = setting(4, minimum=1)


@dataclass
class ModelView:
    """One model's prediction for a sample: 2D joints (16, 2) image pixels, a root-centred
    3D pose (16, 3) in the figure's unit, and short notes under the 2D and 3D panel titles
    (e.g. the sample's 2D or 3D error)."""

    label: str
    joints_2d: np.ndarray
    pose_3d: np.ndarray
    note_2d: str = ""
    note_3d: str = ""


@dataclass
class QualitativeSample:
    """One row of a qualitative figure. gt_3d: root-centred (16, 3) or None (wild sets)."""

    title: str
    image: np.ndarray
    gt_2d: np.ndarray
    annotated: np.ndarray
    gt_3d: np.ndarray | None
    views: list[ModelView] = field(default_factory=list)


def qualitative_figure(samples: Sequence[QualitativeSample], unit: str, title: str):
    """Rows of samples; per model two panels: image with its 2D joints (ground truth dashed
    white) and its 3D skeleton (ground truth dashed grey)."""
    if not samples:
        raise ValueError("qualitative_figure: no samples to draw")
    n_models = len(samples[0].views)
    cols = 2 * n_models
    fig = plt.figure(figsize=(3.0 * cols, 3.1 * len(samples) + 0.6))
    for r, sample in enumerate(samples):
        for m, view in enumerate(sample.views):
            ax = fig.add_subplot(len(samples), cols, r * cols + 2 * m + 1)
            ax.imshow(sample.image, interpolation="bilinear")
            draw_skeleton_2d(ax, sample.gt_2d, sample.annotated, ground_truth=True)
            draw_skeleton_2d(ax, view.joints_2d)
            size = sample.image.shape[0]
            ax.set_xlim(-0.5, size - 0.5)
            ax.set_ylim(size - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{view.label}: 2D" + (f"\n{view.note_2d}" if view.note_2d else ""), fontsize=9)
            if m == 0:
                ax.set_ylabel(sample.title, fontsize=9)
            ax3 = fig.add_subplot(len(samples), cols, r * cols + 2 * m + 2, projection="3d")
            draw_skeleton_3d(ax3, view.pose_3d, sample.gt_3d, unit)
            ax3.set_title(f"{view.label}: 3D" + (f"\n{view.note_3d}" if view.note_3d else ""), fontsize=9)
    legend = ("Colour: prediction (person's right side orange-red, left side blue, spine and head yellow); "
              "dashed: ground truth (white in 2D, grey in 3D).")
    fig.suptitle(textwrap.fill(title, width=int(28 * cols)) + "\n" + legend, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))
    return fig


def spread_by_change(change: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` samples at evenly spaced ranks of `change` (ascending: the most
    negative change - the largest improvement - first, the largest regression last).
    NaN entries are left out."""
    change = np.asarray(change, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(change))           # samples without a score are never picked
    order = finite[np.argsort(change[finite], kind="stable")]
    return order[evenly_spaced(len(order), count)]


def _check_same_samples(predictions: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
    indices = [np.asarray(p["index"]) for p in predictions.values()]
    if any(not np.array_equal(indices[0], other) for other in indices[1:]):
        raise ValueError(f"predictions of {list(predictions)} cover different samples; re-run the evaluate stage")
    return indices[0]


def _labels_at(prepared: str | Path, index: np.ndarray) -> tuple[dict[str, np.ndarray], dict]:
    """The label arrays of a prepared file at the predicted samples `index`, and its attributes."""
    labels, attrs = read_prepared(prepared)
    n = attrs["num_samples"]
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"{prepared}: predictions refer to sample {int(index.max())} but the file has {n} "
                         "samples; re-run the evaluate stage")
    return {key: value[index] for key, value in labels.items()}, attrs


def _read_images(prepared: str | Path, rows: np.ndarray) -> np.ndarray:
    """Images (k, S, S, 3) uint8 of the given sample rows of a prepared file."""
    with open_prepared(prepared) as f:
        return np.stack([f["images"][int(i)] for i in rows])


def _root_centred(pose: np.ndarray) -> np.ndarray:
    return pose - pose[ROOT]


def lab_samples(prepared: str | Path, predictions: Mapping[str, Mapping[str, np.ndarray]],
                count: int) -> list[QualitativeSample]:
    """Rows for the lab (3D) test set. predictions: label -> arrays of `posegan.predict.predict`
    (joints_3d in camera mm), the pre-adversarial model first and the final one last.
    Samples are ranked by the change in MPJPE (Protocol #1) from the first to the last."""
    index = _check_same_samples(predictions)
    labels, attrs = _labels_at(prepared, index)
    gt = labels["joints_3d"].astype(np.float64)
    usable = np.isfinite(gt).all(axis=(1, 2))
    if not usable.any():
        raise ValueError(f"{prepared}: no predicted sample has a 3D label")

    def errors(pred: Mapping[str, np.ndarray]) -> np.ndarray:
        diff = (pred["joints_3d"] - pred["joints_3d"][:, ROOT:ROOT + 1]) - (gt - gt[:, ROOT:ROOT + 1])
        return np.where(usable, np.linalg.norm(diff, axis=-1).mean(axis=1), np.nan)

    names = list(predictions)
    err = {label: errors(pred) for label, pred in predictions.items()}
    positions = spread_by_change(err[names[-1]] - err[names[0]], count)
    images = _read_images(prepared, index[positions])
    actions = attrs["action_names"]
    samples = []
    for row, pos in enumerate(positions):
        action = int(labels["action"][pos])
        title = f"#{int(index[pos])}" + (f" {actions[action]}" if 0 <= action < len(actions) else "")
        views = [ModelView(label, pred["joints_2d"][pos], _root_centred(pred["joints_3d"][pos].astype(np.float64)),
                           note_3d=f"MPJPE {err[label][pos]:.0f} mm") for label, pred in predictions.items()]
        samples.append(QualitativeSample(title, images[row], labels["joints_2d"][pos], labels["annotated"][pos],
                                         _root_centred(gt[pos]), views))
    return samples


def wild_samples(prepared: str | Path, predictions: Mapping[str, Mapping[str, np.ndarray]],
                 count: int) -> list[QualitativeSample]:
    """Rows for the wild (2D) set; 3D poses are (x, y, depth) in heatmap pixels, root-centred.
    Samples are ranked by the change in mean 2D error over annotated joints, in head sizes."""
    index = _check_same_samples(predictions)
    labels, attrs = _labels_at(prepared, index)
    # head size in crop pixels: the crop maps crop_size original pixels onto image_size pixels
    head_crop = labels["head_size"] * attrs["image_size"] / labels["crop_size"]
    annotated = labels["annotated"]
    scorable = annotated.any(axis=1) & np.isfinite(head_crop) & (head_crop > 0)
    if not scorable.any():
        raise ValueError(f"{prepared}: no predicted sample has annotated joints and a head size")

    def errors(pred: Mapping[str, np.ndarray]) -> np.ndarray:
        head = np.where(scorable, head_crop, 1.0)[:, None]
        dist = np.linalg.norm(pred["joints_2d"] - labels["joints_2d"], axis=-1) / head
        mean = np.where(annotated, dist, 0.0).sum(axis=1) / np.maximum(annotated.sum(axis=1), 1)
        return np.where(scorable, mean, np.nan)

    names = list(predictions)
    err = {label: errors(pred) for label, pred in predictions.items()}
    positions = spread_by_change(err[names[-1]] - err[names[0]], count)
    images = _read_images(prepared, index[positions])
    samples = []
    for row, pos in enumerate(positions):
        views = []
        for label, pred in predictions.items():
            xyd = np.concatenate([crop_to_heatmap(pred["joints_2d"][pos], HEATMAP_STRIDE), pred["depth"][pos][:, None]], axis=1)
            views.append(ModelView(label, pred["joints_2d"][pos], _root_centred(xyd),
                                   note_2d=f"mean error {err[label][pos]:.2f} head sizes"))
        samples.append(QualitativeSample(f"#{int(index[pos])}", images[row], labels["joints_2d"][pos],
                                         annotated[pos], None, views))
    return samples


# --------------------------------------------------------------------------- curves

def read_curve(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A DVCLive plot file (TSV with a `step` column and one value column) -> (steps, values).

    A step logged twice (a resumed run) keeps its last value; steps come out sorted.
    """
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        columns = [c for c in (reader.fieldnames or []) if c not in ("step", "timestamp")]
        if "step" not in (reader.fieldnames or []) or len(columns) != 1:
            raise ValueError(f"{path}: expected a DVCLive TSV with a 'step' column and one value column, "
                             f"got columns {reader.fieldnames}")
        by_step = {int(float(row["step"])): float(row[columns[0]]) for row in reader}
    steps = np.array(sorted(by_step), dtype=np.int64)
    return steps, np.array([by_step[s] for s in steps], dtype=np.float64)


def stage_length(stage_dir: Path) -> int:
    """The last step logged in any of a DVCLive folder's plot files (the stage's iterations)."""
    last = 0
    for path in sorted((stage_dir / "plots" / "metrics").rglob("*.tsv")):
        steps, _ = read_curve(path)
        if steps.size:
            last = max(last, int(steps[-1]))
    return last


def load_training_curves(live_root: str | Path, stages: Sequence[str] = STAGES,
                         metrics: Sequence[str] = tuple(CURVES)) -> tuple[dict, dict[str, int]]:
    """Validation curves {stage: {metric: (steps, values)}} and {stage: iterations} from DVCLive.

    Stages without a DVCLive folder are left out; FileNotFoundError if none has a curve.
    """
    live_root = Path(live_root)
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    lengths: dict[str, int] = {}
    for stage in stages:
        stage_dir = live_root / stage
        if not stage_dir.is_dir():
            continue
        lengths[stage] = stage_length(stage_dir)
        for metric in metrics:
            path = stage_dir / "plots" / "metrics" / "val" / f"{metric}.tsv"
            if path.exists():
                curves.setdefault(stage, {})[metric] = read_curve(path)
    if not curves:
        raise InputMissingError(f"{live_root}: no validation curve found (expected "
                                f"{live_root}/<stage>/plots/metrics/val/<metric>.tsv for stages {list(stages)} "
                                f"and metrics {list(metrics)}; run the training stages)")
    return curves, lengths


def training_curves_figure(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                           lengths: Mapping[str, int], labels: Mapping[str, str] = CURVES):
    """One panel per metric: validation value against the iteration, stages end to end."""
    metrics = [m for m in labels if any(m in c for c in curves.values())]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.6), squeeze=False)
    offsets, start = {}, 0
    for stage in [s for s in STAGES if s in lengths] + [s for s in lengths if s not in STAGES]:
        offsets[stage] = start
        start += lengths[stage]
    for ax, metric in zip(axes[0], metrics):
        for stage, offset in offsets.items():
            if stage in curves and metric in curves[stage]:
                steps, values = curves[stage][metric]
                ax.plot(steps + offset, values, marker="o", ms=3, lw=1.6, label=stage,
                        color=STAGE_COLORS.get(stage))
            if offset > 0:
                ax.axvline(offset, color="#cccccc", lw=0.8, ls=":")
        ax.set_xlim(0, max(sum(lengths.values()), 1) * 1.02)
        ax.set_xlabel("iteration (stages end to end)")
        ax.set_title(labels[metric], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
