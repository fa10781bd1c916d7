"""Pinhole cameras, square person crops and the depth target.

Conventions (docs/conventions.md, "Units and coordinates", "Camera and crop model" and
"Depth target"):

- 3D points are in millimetres in camera coordinates: x right, y down, z forward.
- A camera is the array (fx, fy, cx, cy) in pixels; leading batch axes are allowed.
- Image coordinates put the centre of pixel (col, row) at (x, y) = (col, row).
- A square crop is described by its centre (x, y) and its side length `size`,
  both in original-image pixels; it is resampled to `out_size` x `out_size` pixels.
  Cropping is a pure scale + translation, so the crop has a pinhole camera too
  (`crop_camera`).
- The depth target of a joint is its depth relative to the root, expressed in
  heatmap pixels at the root's distance (weak perspective):
  ``d_j = (Z_j - Z_root) * (fx / stride) / Z_root``, with fx the crop camera's focal
  length in crop pixels and `stride` the crop-to-heatmap downsampling factor.
  Then x, y (heatmap pixels) and d share one unit, so the geometric descriptor
  is isotropic.
"""

from __future__ import annotations

import numpy as np

from posegan.skeleton import ROOT


def project(points: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """Pinhole projection.

    points: (..., P, 3) camera mm, z > 0. camera: (..., 4) fx, fy, cx, cy in pixels.
    Returns (..., P, 2) pixels.
    """
    points = np.asarray(points, dtype=np.float64)
    cam = np.asarray(camera, dtype=np.float64)[..., None, :]
    z = points[..., 2]
    u = cam[..., 0] * points[..., 0] / z + cam[..., 2]
    v = cam[..., 1] * points[..., 1] / z + cam[..., 3]
    return np.stack([u, v], axis=-1)


def backproject(pixels: np.ndarray, depth: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """Inverse of `project` given each point's depth.

    pixels: (..., P, 2). depth: (..., P) mm (camera z). camera: (..., 4).
    Returns (..., P, 3) camera mm.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    cam = np.asarray(camera, dtype=np.float64)[..., None, :]
    x = (pixels[..., 0] - cam[..., 2]) * depth / cam[..., 0]
    y = (pixels[..., 1] - cam[..., 3]) * depth / cam[..., 1]
    return np.stack([x, y, depth], axis=-1)


# --------------------------------------------------------------------------- crops

def original_to_crop(points: np.ndarray, center: np.ndarray, size: np.ndarray, out_size: int) -> np.ndarray:
    """Map (..., P, 2) original-image pixels into a crop's pixels.

    center: (..., 2) crop centre, size: (...) crop side, both original pixels.
    """
    points = np.asarray(points, dtype=np.float64)
    center = np.asarray(center, dtype=np.float64)[..., None, :]
    size = np.asarray(size, dtype=np.float64)[..., None, None]
    left_top = center - size / 2.0
    return (points + 0.5 - left_top) * (out_size / size) - 0.5


def crop_to_original(points: np.ndarray, center: np.ndarray, size: np.ndarray, out_size: int) -> np.ndarray:
    """Inverse of `original_to_crop`: (..., P, 2) crop pixels -> original pixels."""
    points = np.asarray(points, dtype=np.float64)
    center = np.asarray(center, dtype=np.float64)[..., None, :]
    size = np.asarray(size, dtype=np.float64)[..., None, None]
    left_top = center - size / 2.0
    return (points + 0.5) * (size / out_size) + left_top - 0.5


def crop_camera(camera: np.ndarray, center: np.ndarray, size: np.ndarray, out_size: int) -> np.ndarray:
    """Intrinsics (..., 4) of the crop, given the original camera's (..., 4)."""
    camera = np.asarray(camera, dtype=np.float64)
    scale = out_size / np.asarray(size, dtype=np.float64)
    principal = original_to_crop(camera[..., None, 2:4], center, size, out_size)[..., 0, :]
    return np.concatenate(
        [camera[..., 0:1] * scale[..., None], camera[..., 1:2] * scale[..., None], principal], axis=-1
    )


def crop_image(image: np.ndarray, center, size: float, out_size: int, fill=(0, 0, 0)) -> np.ndarray:
    """Resample the square crop (centre, side in original pixels) to out_size x out_size.

    image: (H, W, 3) uint8. Pixels outside the image get `fill`. Bilinear sampling,
    consistent with `original_to_crop`.
    """
    from PIL import Image

    scale = float(size) / out_size
    left = float(center[0]) - float(size) / 2.0
    top = float(center[1]) - float(size) / 2.0
    # PIL's affine maps output pixel-edge coordinates to input pixel-edge coordinates.
    coeffs = (scale, 0.0, left, 0.0, scale, top)
    pil = Image.fromarray(np.ascontiguousarray(image))
    out = pil.transform((out_size, out_size), Image.Transform.AFFINE, coeffs,
                        resample=Image.Resampling.BILINEAR, fillcolor=tuple(fill))
    return np.asarray(out)


# --------------------------------------------------------------------- depth target

def depth_target(joints_3d: np.ndarray, camera: np.ndarray, stride: int, root: int = ROOT) -> np.ndarray:
    """Depth relative to the root in heatmap pixels at the root's distance.

    joints_3d: (..., P, 3) camera mm. camera: (..., 4) crop intrinsics. Returns (..., P).
    """
    joints_3d = np.asarray(joints_3d, dtype=np.float64)
    z = joints_3d[..., 2]
    z_root = z[..., root : root + 1]
    fx = np.asarray(camera, dtype=np.float64)[..., 0:1]
    return (z - z_root) * (fx / stride) / z_root


def depth_from_target(target: np.ndarray, root_depth: np.ndarray, camera: np.ndarray, stride: int) -> np.ndarray:
    """Inverse of `depth_target`: (..., P) heatmap-pixel depths -> (..., P) camera z in mm.

    root_depth: (...) mm, the root joint's camera z.
    """
    target = np.asarray(target, dtype=np.float64)
    z_root = np.asarray(root_depth, dtype=np.float64)[..., None]
    fx = np.asarray(camera, dtype=np.float64)[..., 0:1]
    return z_root + target * z_root * stride / fx


def pose_from_prediction(joints_2d: np.ndarray, target: np.ndarray, root_depth: np.ndarray,
                         camera: np.ndarray, stride: int) -> np.ndarray:
    """A 3D pose in camera mm from crop-pixel 2D joints and depth targets.

    joints_2d: (..., P, 2) crop pixels. target: (..., P) heatmap pixels.
    root_depth: (...) mm. camera: (..., 4) crop intrinsics. Returns (..., P, 3) mm.
    Each joint is back-projected along its own ray at its recovered depth, so a
    ground-truth (2D, target) pair returns the ground-truth pose exactly.
    """
    z = depth_from_target(target, root_depth, camera, stride)
    return backproject(joints_2d, z, camera)
