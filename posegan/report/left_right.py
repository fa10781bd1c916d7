"""Does the 2D module tell a person's left limbs from their right ones?

A heatmap network has one output channel per joint, so the left and the right wrist have
channels of their own. When the network has not learned which way the person faces, the
best it can do under the squared heatmap loss is to put a peak on both wrists in both
channels: the two channels become the same map and both read out the same limb. These
functions measure that, per left/right pair:

- `paired_channel_correlation`: Pearson correlation of each right channel with its left
  partner, per sample (1 = identical maps, the collapsed solution).
- `left_right_order`: on samples whose two joints are apart in x in the ground truth, the
  share where the prediction puts them in the same x order ("order right"; 0.5 is chance),
  and the share where the two predictions (nearly) coincide ("collapsed"), split by whether
  the person is seen from the front (their left on the image's right) or from the back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from posegan.data.dataset import PoseDataset
from posegan.models import Generator
from posegan.predict import predict
from posegan.skeleton import FLIP_PAIRS, JOINT_NAMES


def paired_channel_correlation(heatmaps: np.ndarray, pairs=FLIP_PAIRS) -> np.ndarray:
    """Correlation of right and left heatmap channels.

    heatmaps: (N, P, H, W). pairs: (right joint, left joint) indices.
    Returns (N, len(pairs)): Pearson correlation over the H x W pixels (NaN for a flat map).
    """
    right = heatmaps[:, [r for r, _ in pairs]].reshape(len(heatmaps), len(pairs), -1).astype(np.float64)
    left = heatmaps[:, [l for _, l in pairs]].reshape(len(heatmaps), len(pairs), -1).astype(np.float64)
    right = right - right.mean(-1, keepdims=True)
    left = left - left.mean(-1, keepdims=True)
    denominator = np.sqrt((right ** 2).sum(-1) * (left ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (right * left).sum(-1) / denominator


def seen_from_front(joints_2d: np.ndarray) -> np.ndarray:
    """(N,) bool: the person's left hip and shoulder lie to the right of the right ones in the image.

    joints_2d: (N, P, 2) image pixels (x right). A person facing the camera has their left
    side on the image's right.
    """
    x = joints_2d[..., 0]
    l_hip, r_hip, l_shoulder, r_shoulder = (JOINT_NAMES.index(name) for name in
                                            ("l_hip", "r_hip", "l_shoulder", "r_shoulder"))
    return (x[:, l_hip] - x[:, r_hip] + x[:, l_shoulder] - x[:, r_shoulder]) > 0


def left_right_order(pred_2d: np.ndarray, true_2d: np.ndarray, pairs=FLIP_PAIRS,
                     min_separation: float = 8.0, collapse_distance: float = 3.0) -> pd.DataFrame:
    """Per left/right pair: how often the predicted x order of the two joints is the true one.

    pred_2d, true_2d: (N, P, 2) pixels. A sample counts for a pair when the true joints are
    more than `min_separation` px apart in x. "collapsed": the predictions are less than
    `collapse_distance` px apart in x. Returns one row per pair with columns pair, samples,
    order_right, collapsed, order_right_front, order_right_back (shares in 0..1).
    """
    front = seen_from_front(true_2d)
    rows = []
    for r, l in pairs:
        true_dx = true_2d[:, l, 0] - true_2d[:, r, 0]
        pred_dx = pred_2d[:, l, 0] - pred_2d[:, r, 0]
        counted = np.abs(true_dx) > min_separation
        right_order = np.sign(pred_dx) == np.sign(true_dx)
        rows.append({
            "pair": JOINT_NAMES[l].split("_", 1)[1] + "s",
            "samples": int(counted.sum()),
            "order_right": _share(right_order, counted),
            "collapsed": _share(np.abs(pred_dx) < collapse_distance, counted),
            "order_right_front": _share(right_order, counted & front),
            "order_right_back": _share(right_order, counted & ~front),
        })
    return pd.DataFrame(rows)


def _share(hits: np.ndarray, counted: np.ndarray) -> float:
    return float(hits[counted].mean()) if counted.any() else float("nan")


def left_right_report(generator: Generator, dataset: PoseDataset, indices: np.ndarray) -> pd.DataFrame:
    """`left_right_order` of the generator on `indices`, with the median paired-channel correlation."""
    predicted = predict(generator, dataset, indices, with_heatmaps=True)
    table = left_right_order(predicted["joints_2d"], dataset.labels["joints_2d"][indices])
    table.insert(2, "heatmap_correlation", np.nanmedian(paired_channel_correlation(predicted["heatmaps"]), axis=0))
    return table
