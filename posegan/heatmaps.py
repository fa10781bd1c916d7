"""Heatmap targets and the crop <-> heatmap coordinate maps.

Heatmaps are `stride` times smaller than the crop (paper: 256 px crops, 64 px heatmaps,
stride 4). Both grids put pixel centres at integer coordinates, so a crop point x maps
to heatmap coordinate (x + 0.5) / stride - 0.5.
"""

from __future__ import annotations

import numpy as np


def crop_to_heatmap(points: np.ndarray, stride: int) -> np.ndarray:
    """(..., 2) crop pixels -> heatmap pixels."""
    return (np.asarray(points, dtype=np.float64) + 0.5) / stride - 0.5


def heatmap_to_crop(points: np.ndarray, stride: int) -> np.ndarray:
    """(..., 2) heatmap pixels -> crop pixels."""
    return (np.asarray(points, dtype=np.float64) + 0.5) * stride - 0.5


def gaussian_heatmaps(joints: np.ndarray, size: int, sigma: float = 1.0,
                      annotated: np.ndarray | None = None) -> np.ndarray:
    """Gaussian heatmap targets, one map per joint, peak value 1 at the joint.

    joints: (..., P, 2) heatmap pixels (x, y). size: the square map's side.
    sigma: standard deviation in heatmap pixels (paper: identity covariance, so 1).
    annotated: optional (..., P) bool; joints that are not annotated get an all-zero map.
    Returns (..., P, size, size) float32. Joints far outside the map give ~zero maps.
    """
    joints = np.asarray(joints, dtype=np.float32)
    grid = np.arange(size, dtype=np.float32)
    gx = np.exp(-((grid - joints[..., 0:1]) ** 2) / (2 * sigma**2))  # (..., P, W)
    gy = np.exp(-((grid - joints[..., 1:2]) ** 2) / (2 * sigma**2))  # (..., P, H)
    maps = gy[..., :, None] * gx[..., None, :]
    if annotated is not None:
        maps = maps * np.asarray(annotated, dtype=np.float32)[..., None, None]
    return maps.astype(np.float32)
