"""Where to crop a person and how large their head is, in original-image pixels.

`person_box`: the square crop around a person's 2D joints. `head_size_from_segment`: the
PCKh head size for the datasets that do not annotate one (HEAD_SIZE_PER_SEGMENT).
"""

from __future__ import annotations

import warnings

import numpy as np

from posegan.skeleton import JOINT_NAMES


# PCKh head size per unit of 2D head-segment length (upper neck to head top). On the MPII
# validation annotations, `normalize` (0.6 x head-box diagonal) divided by that segment's
# length has median 0.750 (5th to 95th percentile 0.740 to 0.760, 2887 people), so the
# datasets without head boxes (Human3.6M, MPI-INF-3DHP) use 0.75 x the segment length.
HEAD_SIZE_PER_SEGMENT = 0.75
UPPER_NECK = JOINT_NAMES.index("upper_neck")
HEAD_TOP = JOINT_NAMES.index("head_top")


def person_box(joints_2d: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The square crop around each person's 2D joints.

    joints_2d: (N, P, 2) original pixels. The crop is centred on the joints' bounding box
    and its side is `margin` x the box's longer side. Returns crop_center (N, 2) and
    crop_size (N,), original pixels, in the convention of `posegan.camera` (the centre
    of the crop square measured on pixel edges, so that `original_to_crop` maps the box
    centre to the crop centre).
    """
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    if not joints_2d.size:
        return np.zeros((0, 2)), np.zeros(0)
    with warnings.catch_warnings():  # a person without finite joints gets a NaN box, flagged later
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(joints_2d, axis=1), np.nanmax(joints_2d, axis=1)
    # pixel-centre box centre c -> edge-coordinate crop centre c + 0.5
    center = (low + high) / 2.0 + 0.5
    size = margin * np.max(high - low, axis=-1)
    return center, size


def head_size_from_segment(joints_2d: np.ndarray) -> np.ndarray:
    """PCKh head size (N,) = 0.75 x the 2D upper-neck to head-top distance, original pixels.

    joints_2d: (N, 16, 2) MPII order, original pixels. See HEAD_SIZE_PER_SEGMENT.
    """
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    return HEAD_SIZE_PER_SEGMENT * np.linalg.norm(joints_2d[:, HEAD_TOP] - joints_2d[:, UPPER_NECK], axis=-1)


__all__ = ["HEAD_SIZE_PER_SEGMENT", "head_size_from_segment", "person_box"]
