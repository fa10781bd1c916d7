"""Heatmap targets and the crop <-> heatmap coordinate maps.

Heatmaps are `HEATMAP_STRIDE` (4) times smaller than the crop (paper: 256 px crops, 64 px
heatmaps). Both grids put pixel centres at integer coordinates, so a crop point x maps
to heatmap coordinate (x + 0.5) / stride - 0.5.
"""

from __future__ import annotations

import numpy as np
import torch

from posegan.skeleton import FLIP_PAIRS

# Crop pixels per heatmap pixel: the hourglass's stem (a stride-2 convolution and a 2x2 max-pool)
# makes every map a quarter of the crop side, so the targets are cut at the same scale.
HEATMAP_STRIDE = 4


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


# ------------------------------------------------------------------ decoding (torch)

def _as_tensor(heatmaps, name: str):
    if isinstance(heatmaps, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(heatmaps)), True
    if isinstance(heatmaps, torch.Tensor):
        return heatmaps, False
    raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(heatmaps).__name__}")


def subpixel_offset(lo, c, hi, inside):
    """The sub-pixel shift of a maximum c along one axis from its neighbours lo and hi (torch,
    elementwise; see `decode_heatmaps`); zero where `inside` is False (the map's border)."""
    positive = (lo > 0) & (c > 0) & (hi > 0)
    tiny = torch.finfo(c.dtype).tiny
    log_l, log_c, log_r = (v.clamp_min(tiny).log() for v in (lo, c, hi))
    curvature = log_l - 2 * log_c + log_r
    safe = torch.where(curvature < 0, curvature, torch.full_like(curvature, -1.0))
    parabola = ((log_l - log_r) / (2 * safe)).clamp(-0.5, 0.5)
    parabola = torch.where(curvature < 0, parabola, torch.zeros_like(parabola))
    quarter = 0.25 * torch.sign(hi - lo)
    shift = torch.where(positive, parabola, quarter)
    return torch.where(inside, shift, torch.zeros_like(shift))


def decode_heatmaps(heatmaps):
    """Joint locations from heatmaps: argmax with sub-pixel refinement (for evaluation).

    heatmaps: (..., P, H, W) torch tensor or numpy array.
    Returns (coords, maxvals): coords (..., P, 2) as (x, y) in heatmap pixels (pixel centres
    at integers, as in `crop_to_heatmap`), maxvals (..., P) the maximum of each map; same
    kind (torch/numpy) as the input; not differentiable.

    Sub-pixel refinement, along x and y separately, from the maximum c and its two neighbours
    l, r on that axis:
    - if l, c, r > 0: the vertex of the parabola through their logarithms,
      offset = (log l - log r) / (2 (log l - 2 log c + log r)), clipped to [-0.5, 0.5]. A
      Gaussian's logarithm is a parabola, so this is exact for the Gaussian targets the network
      is trained to produce (any sigma);
    - otherwise (a neighbour <= 0): Newell's rule, a quarter pixel towards the larger neighbour;
    - at the border of the map, or where l == r, no shift.
    """
    maps, was_numpy = _as_tensor(heatmaps, "heatmaps")
    if maps.ndim < 3:
        raise ValueError(f"heatmaps must be (..., P, H, W), got shape {tuple(maps.shape)}")
    maps = maps.detach()
    if not maps.is_floating_point():
        maps = maps.float()
    lead, (h, w) = maps.shape[:-2], maps.shape[-2:]
    flat = maps.reshape(-1, h * w)
    maxvals, index = flat.max(dim=1)
    iy, ix = index // w, index % w
    rows = torch.arange(flat.shape[0], device=flat.device)

    def value(y, x):
        return flat[rows, y.clamp(0, h - 1) * w + x.clamp(0, w - 1)]

    dx = subpixel_offset(value(iy, ix - 1), maxvals, value(iy, ix + 1), (ix > 0) & (ix < w - 1))
    dy = subpixel_offset(value(iy - 1, ix), maxvals, value(iy + 1, ix), (iy > 0) & (iy < h - 1))
    coords = torch.stack([ix.to(flat.dtype) + dx, iy.to(flat.dtype) + dy], dim=-1)
    coords, maxvals = coords.reshape(*lead, 2), maxvals.reshape(lead)
    if was_numpy:
        return coords.numpy(), maxvals.numpy()
    return coords, maxvals


def soft_argmax(heatmaps, window: int = 3):
    """Differentiable joint locations: the local centroid of each heatmap (torch).

    heatmaps: (..., P, H, W) tensor. Returns (..., P, 2) as (x, y) in heatmap pixels.

    The weights are the positive part of the heatmap inside the (2 window + 1)^2 square
    around its maximum: x = sum(w * col) / sum(w). The square's position is chosen without
    gradient; the coordinates are differentiable in the heatmap values inside it, which is
    how the discriminator's gradient reaches the generator's heatmaps.
    Why local: a global softmax over a 64 x 64 map is pulled toward the centre by the
    thousands of near-zero background pixels unless its temperature is so low that it
    snaps to the pixel grid; the local centroid has neither problem. For a Gaussian of
    sigma 1 (the targets) its error is below 0.004 px with window 3 (1e-4 px with window
    4), so real poses (from ground-truth heatmaps) and fake poses (from predicted heatmaps)
    can go through the same function. A map with no positive value in the square (e.g. a joint that is not
    annotated) gives the position of its maximum.
    """
    if not isinstance(heatmaps, torch.Tensor):
        raise TypeError(f"heatmaps must be a torch tensor, got {type(heatmaps).__name__}")
    if heatmaps.ndim < 3:
        raise ValueError(f"heatmaps must be (..., P, H, W), got shape {tuple(heatmaps.shape)}")
    h, w = heatmaps.shape[-2:]
    with torch.no_grad():
        index = heatmaps.reshape(*heatmaps.shape[:-2], h * w).argmax(dim=-1)
        peak_y, peak_x = (index // w).to(heatmaps.dtype), (index % w).to(heatmaps.dtype)
    cols = torch.arange(w, device=heatmaps.device, dtype=heatmaps.dtype)
    rows = torch.arange(h, device=heatmaps.device, dtype=heatmaps.dtype)
    in_x = ((cols - peak_x[..., None]).abs() <= window).to(heatmaps.dtype)   # (..., W)
    in_y = ((rows - peak_y[..., None]).abs() <= window).to(heatmaps.dtype)   # (..., H)
    weights = heatmaps.clamp_min(0) * in_y[..., :, None] * in_x[..., None, :]
    eps = 1e-6
    total = weights.sum(dim=(-2, -1)) + eps
    x = ((weights.sum(dim=-2) * cols).sum(dim=-1) + eps * peak_x) / total
    y = ((weights.sum(dim=-1) * rows).sum(dim=-1) + eps * peak_y) / total
    return torch.stack([x, y], dim=-1)


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
