"""Torch datasets over prepared files, with the 2D augmentation of the backbone's recipe.

The data stream is a pure function of (seed, iteration): `IterationSampler` yields, for
every training iteration, the sample indices and one augmentation seed per sample. So a
run that resumes from a checkpoint at iteration t sees exactly the batches an unbroken
run would have seen, whatever the number of loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

from posegan.camera import depth_target
from posegan.data.schema import folder_path, read_prepared
from posegan.errors import InputDataError
from posegan.heatmaps import HEATMAP_STRIDE, crop_to_heatmap, gaussian_heatmaps
from posegan.settings import setting
from posegan.skeleton import FLIP_PERMUTATION


@dataclass(frozen=True)
class PreparedData:
    """The params section `data` as the training and evaluation stages read it (the preprocess
    stage's view is `posegan.data.preprocess_settings.DataSettings`).

    prepared_dir: the folder of the prepared files. image_size: crop side in pixels."""

    OTHER_KEYS = ("source", "synthetic", "real")   # the preprocess stage's

    prepared_dir: str = setting("data/prepared", parse=folder_path)
    image_size: int = setting(128, minimum=16)


@dataclass(frozen=True)
class Augmentation:
    """Random 2D augmentation (paper's backbone recipe: Newell et al., Zhou et al.).

    rotation: max |angle| in degrees, applied with probability `rotation_prob`.
    scale: (min, max) zoom factor. flip: probability of a horizontal flip (left and right
    joints swap). color: max relative per-channel gain change (0.2 -> gains in 0.8..1.2).
    """

    rotation: float = setting(30.0, minimum=0)
    rotation_prob: float = setting(0.5, minimum=0, maximum=1)
    scale: tuple[float, float] = setting((0.75, 1.25), minimum=0, exclusive=True)
    flip: float = setting(0.5, minimum=0, maximum=1)
    color: float = setting(0.2, minimum=0)
    enabled: bool = setting(True, optional=True)

    def __post_init__(self):
        if self.scale[0] > self.scale[1]:
            raise ValueError(f"augmentation.scale must be [min, max] with min <= max, got {list(self.scale)}")

    @property
    def active(self) -> "Augmentation | None":
        """Itself, or None when `enabled` is false (a dataset then serves plain crops)."""
        return self if self.enabled else None


class PoseDataset(torch.utils.data.Dataset):
    """Samples of one prepared file as training tensors.

    An item is looked up by (index, augmentation_seed) - as `IterationSampler` yields them -
    or by a plain index (no augmentation). It is a dict:

    - image: uint8 (3, S, S)
    - heatmaps: float32 (P, H, W) Gaussian targets, H = W = S / HEATMAP_STRIDE, sigma 1
    - joints_2d: float32 (P, 2) heatmap pixels
    - depth: float32 (P,) depth target (heatmap pixels at the root's distance; 0 without 3D)
    - has_3d: bool; annotated: bool (P,) (False where not labelled or pushed off the map)
    - index: int64 sample index in the file

    The HDF5 file is opened lazily, once per process (each loader worker has its own
    handle); only the small label arrays are held in memory.
    """

    def __init__(self, path: str | Path, *, augmentation: Augmentation | None = None, sigma: float = 1.0):
        self.path = Path(path)
        self.stride = HEATMAP_STRIDE
        self.augmentation = augmentation
        self.sigma = float(sigma)
        labels, attrs = read_prepared(self.path)
        self.attrs = attrs
        self.image_size = attrs["image_size"]
        if self.image_size % self.stride:
            raise InputDataError(f"{self.path}: image_size {self.image_size} is not a multiple of "
                                 f"the heatmap stride {self.stride}")
        self.heatmap_size = self.image_size // self.stride
        self.labels = labels
        has_3d = labels["has_3d"]
        depth = np.zeros(labels["joints_2d"].shape[:2], np.float32)
        if has_3d.any():
            depth[has_3d] = depth_target(labels["joints_3d"][has_3d], labels["camera"][has_3d], self.stride)
        self.depth = depth
        self._file: h5py.File | None = None

    def __len__(self) -> int:
        return len(self.labels["has_3d"])

    def _images(self) -> h5py.Dataset:
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file["images"]

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        index, seed = (key if isinstance(key, tuple) else (key, None))
        index = int(index)
        image = self._images()[index]
        joints = crop_to_heatmap(self.labels["joints_2d"][index], self.stride).astype(np.float32)
        annotated = self.labels["annotated"][index].copy()
        depth = self.depth[index].copy()
        if self.augmentation is not None and seed is not None:
            image, joints, depth, annotated = augment(
                image, joints, depth, annotated, self.stride, self.augmentation, np.random.default_rng(seed))
        inside = ((joints >= -0.5) & (joints <= self.heatmap_size - 0.5)).all(axis=1)
        annotated &= inside
        heatmaps = gaussian_heatmaps(joints, self.heatmap_size, self.sigma, annotated)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "heatmaps": torch.from_numpy(heatmaps),
            "joints_2d": torch.from_numpy(joints.astype(np.float32)),
            "depth": torch.from_numpy(depth.astype(np.float32)),
            "has_3d": torch.tensor(bool(self.labels["has_3d"][index])),
            "annotated": torch.from_numpy(annotated),
            "index": torch.tensor(index, dtype=torch.int64),
        }

    def __getstate__(self):  # workers re-open the file themselves
        state = self.__dict__.copy()
        state["_file"] = None
        return state


def augment(image: np.ndarray, joints: np.ndarray, depth: np.ndarray, annotated: np.ndarray,
            stride: int, aug: Augmentation, rng: np.random.Generator):
    """Rotate, scale, flip and colour-jitter one sample.

    image: (S, S, 3) uint8; joints: (P, 2) heatmap pixels; depth: (P,) heatmap pixels.
    Returns the same four, transformed. Scaling the image by s scales the depth target
    by s too (it is measured in heatmap pixels); in-plane rotation leaves it unchanged;
    a flip mirrors x and swaps left and right joints.
    """
    size = image.shape[0]
    angle = rng.uniform(-aug.rotation, aug.rotation) if rng.random() < aug.rotation_prob else 0.0
    scale = rng.uniform(*aug.scale)
    flip = rng.random() < aug.flip
    gains = 1.0 + rng.uniform(-aug.color, aug.color, size=3)

    # Forward map in crop-pixel-centre coordinates: p' = c + scale * R (p - c), then flip.
    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) * scale
    centre = np.full(2, (size - 1) / 2.0)
    forward = np.eye(3)
    forward[:2, :2] = rot
    forward[:2, 2] = centre - rot @ centre
    if flip:
        forward = np.array([[-1.0, 0, size - 1], [0, 1, 0], [0, 0, 1]]) @ forward
    # PIL wants the inverse map in pixel-edge coordinates (edge = centre + 0.5).
    shift, unshift = np.eye(3), np.eye(3)
    shift[:2, 2], unshift[:2, 2] = 0.5, -0.5
    inverse = shift @ np.linalg.inv(forward) @ unshift
    warped = Image.fromarray(image).transform(
        (size, size), Image.Transform.AFFINE, tuple(inverse[:2].ravel()), resample=Image.Resampling.BILINEAR)
    image = np.clip(np.asarray(warped, np.float32) * gains, 0, 255).astype(np.uint8)

    # Joints live in heatmap pixels: go through crop pixels, where the map is defined.
    crop = (joints.astype(np.float64) + 0.5) * stride - 0.5
    crop = crop @ forward[:2, :2].T + forward[:2, 2]
    joints = ((crop + 0.5) / stride - 0.5).astype(np.float32)
    depth = depth * scale
    if flip:
        joints, depth, annotated = joints[FLIP_PERMUTATION], depth[FLIP_PERMUTATION], annotated[FLIP_PERMUTATION]
    return image, joints, depth.astype(np.float32), annotated


class IterationSampler(torch.utils.data.Sampler):
    """Batches of (index, augmentation seed) for iterations start .. stop-1.

    Iteration t takes the next `batch_size` entries of an endless stream of epochs, each a
    permutation of range(n) drawn from (seed, epoch); the augmentation seed of each entry is
    derived from (seed, t, position). Nothing depends on earlier iterations, so resuming at
    `start` reproduces an unbroken run exactly.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int):
        if n <= 0 or batch_size <= 0:
            raise ValueError(f"IterationSampler needs n > 0 and batch_size > 0, got {n}, {batch_size}")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self.start, self.stop = int(start), int(stop)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0x5EED]).permutation(self.n)

    def batch(self, iteration: int) -> list[tuple[int, int]]:
        first = iteration * self.batch_size
        positions = np.arange(first, first + self.batch_size)
        epochs, offsets = np.divmod(positions, self.n)
        perms = {e: self._permutation(int(e)) for e in np.unique(epochs)}
        seeds = np.random.default_rng([self.seed, iteration, 0xA06]).integers(0, 2**31 - 1, self.batch_size)
        return [(int(perms[e][o]), int(s)) for e, o, s in zip(epochs, offsets, seeds)]

    def __iter__(self):
        for iteration in range(self.start, self.stop):
            yield self.batch(iteration)


def make_loader(dataset: PoseDataset, batch_size: int, seed: int, start: int, stop: int,
                workers: int = 0, rank: int = 0, world_size: int = 1) -> torch.utils.data.DataLoader:
    """A loader over iterations start..stop-1. Under DDP each rank takes its own stream."""
    sampler = IterationSampler(len(dataset), batch_size, seed + 1000003 * rank, start, stop)
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, persistent_workers=False,
        pin_memory=torch.cuda.is_available(), prefetch_factor=4 if workers > 0 else None)
