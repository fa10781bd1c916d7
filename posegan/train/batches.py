"""Minibatches that mix the lab (3D) and the wild (2D-only) training sets."""

from __future__ import annotations

from typing import Iterator

import torch

from posegan.data.dataset import PoseDataset, make_loader
from posegan.train.runtime import Distributed
from posegan.train.settings import LoopSettings, loader_workers


def split_batch(batch_size: int, lab_fraction: float) -> tuple[int, int]:
    """Samples per minibatch from the lab and the wild set."""
    n_lab = int(round(batch_size * lab_fraction))
    return n_lab, batch_size - n_lab


def mixed_batches(lab: PoseDataset, wild: PoseDataset, settings: LoopSettings, seed: int, start: int,
                  dist: Distributed) -> Iterator[tuple[dict | None, dict | None]]:
    """(lab batch, wild batch) for iterations start .. settings.iterations - 1.

    Each stream is a function of (seed, iteration) (see IterationSampler), so a resumed run
    sees the same batches as an unbroken one. A stream with no share yields None.
    """
    n_lab, n_wild = split_batch(settings.batch_size, settings.lab_fraction)

    def stream(dataset, n, stream_seed):
        if n == 0:
            while True:
                yield None
        yield from make_loader(dataset, n, stream_seed, start, settings.iterations, loader_workers(settings.workers),
                               dist.rank, dist.world_size)

    return zip(stream(lab, n_lab, seed * 2 + 11), stream(wild, n_wild, seed * 2 + 12))


def concat_batches(*batches: dict | None, device: torch.device) -> dict[str, torch.Tensor]:
    """Concatenate batch dicts along the sample axis (None entries skipped), on `device`."""
    present = [b for b in batches if b is not None]
    return {key: torch.cat([b[key] for b in present]).to(device, non_blocking=True) for key in present[0]}
