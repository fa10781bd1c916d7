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
from posegan.heatmaps import paired_channel_correlation
from posegan.skeleton import FLIP_PAIRS, JOINT_NAMES


def seen_from_front(joints_2d: np.ndarray) -> np.ndarray:
    """(N,) bool: the person's left hip and shoulder lie to the right of the right ones in the image.

    joints_2d: (N, P, 2) image pixels (x right). A person facing the camera has their left
    side on the image's right.
    """
    x = joints_2d[..., 0]
    l_hip, r_hip, l_shoulder, r_shoulder = (JOINT_NAMES.index(name) for name in
                                            ("l_hip", "r_hip", "l_shoulder", "r_shoulder"))
    return (x[:, l_hip] - x[:, r_hip] + x[:, l_shoulder] - x[:, r_shoulder]) > 0


def _pair_orders(pred_2d: np.ndarray, true_2d: np.ndarray, pairs, min_separation: float):
    """(pred_dx, right_order, counted), each (N, pairs), and front (N,): the pairs' x order."""
    right, left = [r for r, _ in pairs], [l for _, l in pairs]
    true_dx = true_2d[:, left, 0] - true_2d[:, right, 0]
    pred_dx = pred_2d[:, left, 0] - pred_2d[:, right, 0]
    counted = np.abs(true_dx) > min_separation
    return pred_dx, np.sign(pred_dx) == np.sign(true_dx), counted, seen_from_front(true_2d)


def left_right_order(pred_2d: np.ndarray, true_2d: np.ndarray, pairs=FLIP_PAIRS,
                     min_separation: float = 8.0, collapse_distance: float = 3.0) -> pd.DataFrame:
    """Per left/right pair: how often the predicted x order of the two joints is the true one.

    pred_2d, true_2d: (N, P, 2) pixels. A sample counts for a pair when the true joints are
    more than `min_separation` px apart in x. "collapsed": the predictions are less than
    `collapse_distance` px apart in x. Returns one row per pair with columns pair, samples,
    order_right, collapsed, order_right_front, order_right_back (shares in 0..1).
    """
    pred_dx, right_order, counted, front = _pair_orders(pred_2d, true_2d, pairs, min_separation)
    rows = []
    for k, (_, l) in enumerate(pairs):
        rows.append({
            "pair": pair_name(l),
            "samples": int(counted[:, k].sum()),
            "order_right": _share(right_order[:, k], counted[:, k]),
            "collapsed": _share(np.abs(pred_dx[:, k]) < collapse_distance, counted[:, k]),
            "order_right_front": _share(right_order[:, k], counted[:, k] & front),
            "order_right_back": _share(right_order[:, k], counted[:, k] & ~front),
        })
    return pd.DataFrame(rows)


def pair_name(left_joint: int) -> str:
    """"l_wrist" -> "wrists": the name of a left/right pair."""
    return JOINT_NAMES[left_joint].split("_", 1)[1] + "s"


def left_right_summary(pred_2d: np.ndarray, true_2d: np.ndarray, correlation: np.ndarray, pairs=FLIP_PAIRS,
                       min_separation: float = 8.0) -> dict:
    """The evaluate stage's left/right figures: all six pairs pooled, and per pair.

    pred_2d, true_2d: (N, P, 2) crop pixels; correlation: (N, pairs) paired-channel
    correlations (`paired_channel_correlation`). Returns {order_right, order_right_front,
    order_right_back (shares in [0, 1] over every counted (sample, pair)), max_pair_correlation
    (the largest of the pairs' median correlations), pairs: {name: {order_right,
    order_right_front, order_right_back, heatmap_correlation, samples}}}.
    """
    _, right_order, counted, front = _pair_orders(pred_2d, true_2d, pairs, min_separation)
    front = np.broadcast_to(front[:, None], counted.shape)
    medians = np.nanmedian(correlation, axis=0) if len(correlation) else np.full(len(pairs), np.nan)
    table = left_right_order(pred_2d, true_2d, pairs, min_separation)
    per_pair = {row["pair"]: {"order_right": row["order_right"], "order_right_front": row["order_right_front"],
                              "order_right_back": row["order_right_back"], "heatmap_correlation": float(median),
                              "samples": row["samples"]}
                for row, median in zip(table.to_dict("records"), medians)}
    return {"order_right": _share(right_order, counted),
            "order_right_front": _share(right_order, counted & front),
            "order_right_back": _share(right_order, counted & ~front),
            "max_pair_correlation": float(np.nanmax(medians)) if np.isfinite(medians).any() else float("nan"),
            "pairs": per_pair}


def _share(hits: np.ndarray, counted: np.ndarray) -> float:
    return float(hits[counted].mean()) if counted.any() else float("nan")


def left_right_report(generator: Generator, dataset: PoseDataset, indices: np.ndarray) -> pd.DataFrame:
    """`left_right_order` of the generator on `indices`, with the median paired-channel correlation."""
    predicted = predict(generator, dataset, indices, with_pair_correlation=True)
    table = left_right_order(predicted["joints_2d"], dataset.labels["joints_2d"][indices])
    table.insert(2, "heatmap_correlation", np.nanmedian(predicted["pair_correlation"], axis=0))
    return table
