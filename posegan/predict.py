"""Run a generator over a prepared file and turn its outputs into 2D and 3D poses."""

from __future__ import annotations

import numpy as np
import torch

from posegan.camera import pose_from_prediction
from posegan.data.dataset import PoseDataset
from posegan.device import autocast
from posegan.heatmaps import decode_heatmaps, heatmap_to_crop, paired_channel_correlation
from posegan.models import Generator, normalize_images


@torch.no_grad()
def predict(generator: Generator, dataset: PoseDataset, indices: np.ndarray | None = None,
            batch_size: int = 32, device: torch.device | str = "cpu", amp: bool = False,
            workers: int = 0, with_heatmaps: bool = False,
            with_pair_correlation: bool = False) -> dict[str, np.ndarray]:
    """Predictions for the samples `indices` (default: all) of `dataset`, without augmentation.

    Returns a dict of NumPy arrays (n = number of samples):
    - index: (n,) sample indices
    - joints_2d: (n, P, 2) crop pixels (decoded from the last stack's heatmaps)
    - depth: (n, P) predicted depth targets, heatmap pixels
    - joints_3d: (n, P, 3) camera mm, back-projected with the sample's crop camera and its
      ground-truth root depth (Protocol #1 aligns the root; NaN where the file has no camera)
    - confidence: (n, P) heatmap maxima
    - heatmaps: (n, P, H, W) the last stack's heatmaps, only when `with_heatmaps`
    - pair_correlation: (n, 6) correlation of each right/left pair of last-stack heatmap
      channels (`posegan.heatmaps.paired_channel_correlation`), only when `with_pair_correlation`
    """
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, indices.tolist()),
                                         batch_size=batch_size, shuffle=False, num_workers=workers)
    was_training = generator.training
    generator.eval()
    coords, depths, confidences, maps, correlations = [], [], [], [], []
    for batch in loader:
        with autocast(device, amp):
            out = generator(normalize_images(batch["image"], device))
        heatmaps = out.heatmaps[-1].float()
        xy, maxvals = decode_heatmaps(heatmaps)
        if with_heatmaps:
            maps.append(heatmaps.cpu().numpy())
        if with_pair_correlation:
            correlations.append(paired_channel_correlation(heatmaps.cpu().numpy()))
        coords.append(xy.cpu().numpy())
        depths.append(out.depth.float().cpu().numpy())
        confidences.append(maxvals.cpu().numpy())
    generator.train(was_training)
    joints_2d = heatmap_to_crop(np.concatenate(coords), dataset.stride)
    depth = np.concatenate(depths)
    labels = dataset.labels
    joints_3d = pose_from_prediction(joints_2d, depth, labels["root_depth"][indices],
                                     labels["camera"][indices], dataset.stride)
    result = {"index": indices, "joints_2d": joints_2d.astype(np.float32), "depth": depth.astype(np.float32),
              "joints_3d": joints_3d.astype(np.float32), "confidence": np.concatenate(confidences)}
    if with_heatmaps:
        result["heatmaps"] = np.concatenate(maps)
    if with_pair_correlation:
        result["pair_correlation"] = np.concatenate(correlations)
    return result
