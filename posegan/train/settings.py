"""The settings of the three training loops (params sections pretrain_2d, pretrain_depth,
adversarial) and where a stage writes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from posegan.data.dataset import Augmentation
from posegan.settings import setting


def _fractions(value) -> tuple[float, ...]:
    """lr_decay_at: fractions of the schedule in (0, 1) (null or [] for none)."""
    items = [] if value is None else value
    if not isinstance(items, (list, tuple)) or any(isinstance(f, bool) or not isinstance(f, (int, float))
                                                   or not 0.0 < f < 1.0 for f in items):
        raise ValueError(f"must be a list of fractions of the schedule in (0, 1), got {value!r}")
    return tuple(float(f) for f in items)


def loader_workers(workers: int | str, streams: int = 2, cores: int | None = None) -> int:
    """Loader processes per data stream: `workers` itself, or for "auto" the cores left after the
    training process, split between the streams (at least 1 each).
    Example: 16 cores, 2 streams -> 7 each; 2 cores -> 1 each."""
    if workers != "auto":
        return int(workers)
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // streams)


@dataclass(frozen=True)
class LoopSettings:
    """One training stage's schedule and data (its params section).

    iterations, batch_size: the schedule (paper: batch 12). lr: learning rate, multiplied
    by lr_decay at each fraction of the schedule in lr_decay_at. lab_fraction: share of
    each minibatch drawn from the lab (3D) set, the rest from the wild (2D-only) set.
    log_every / val_every / checkpoint_every: in iterations. val_samples: samples of each
    validation set scored at every validation. workers: loader worker processes per data
    stream (lab, wild), or "auto": the machine's cores less one for the training process,
    shared by the two streams (`loader_workers`). augmentation: the random 2D augmentation of the training crops.
    """

    iterations: int = setting(minimum=1)
    batch_size: int = setting(minimum=1)
    lr: float = setting(minimum=0, exclusive=True)
    lab_fraction: float = setting(0.5, minimum=0, maximum=1)
    lr_decay_at: tuple[float, ...] = setting((), parse=_fractions)
    lr_decay: float = setting(0.1, minimum=0, maximum=1, exclusive=True)
    log_every: int = setting(10, minimum=1)
    val_every: int = setting(100, minimum=1)
    checkpoint_every: int = setting(100, minimum=1)
    val_samples: int = setting(256, minimum=1)
    workers: int | Literal["auto"] = setting(1, minimum=0)
    augmentation: Augmentation = field(default_factory=Augmentation)


@dataclass(frozen=True)
class AdversarialSettings(LoopSettings):
    """The adversarial stage: LoopSettings plus the alternation of D and G (Eq. 3, Eq. 5).

    enabled: false is Table 2's Baseline (same schedule, no discriminator). init: the model
    the generator starts from, pretrain_depth, or pretrain_2d for "w/o pretrain" (a fresh
    depth regressor). lambda_ (key `lambda`): the adversarial weight of Eq. 5. lr_d: the
    discriminator's Adam rate. d_steps: discriminator updates per generator update.
    d_warmup: discriminator updates on the frozen, pretrained generator before the first
    generator update (0: none, the paper), so that the generator's first steps follow a
    discriminator that already knows real poses from its predictions; they draw their own
    minibatches, so the generator sees the same ones as the Baseline.
    adversarial_gradient: what of the generator's prediction the adversarial term of Eq. 5
    moves: "pose" (the paper: heatmaps and depths) or "depth" (the heatmaps reach D detached,
    so the 2D stays the 2D loss's alone and D can only reshape the depths).
    fake_2d: the 2D joints of the fakes D judges: "predicted" (the paper: the generator's
    heatmaps) or "truth" (the ground-truth heatmaps of the sample, the prediction's only where
    a joint is not annotated, detached): each fake is then the true 2D pose with the
    generator's depths, so D learns how deep joints are given where they are, and L_adv
    reaches the depths only.
    adversarial_samples: the samples whose predictions L_adv judges in the generator update:
    "all" (the paper: Eq. 5 on every sample of both domains) or "wild" (the 2D-labelled
    in-the-wild samples only, whose depths nothing else constrains; the lab samples keep their
    3D loss alone). The loss is then a mean over the wild samples (twice each one's weight at
    the default half-wild minibatch). D trains as before, on fakes from both domains.
    """

    enabled: bool = True
    init: Literal["pretrain_depth", "pretrain_2d"] = "pretrain_depth"
    lambda_: float = setting(1e-4, minimum=0, key="lambda")
    lr_d: float = setting(1e-4, minimum=0)
    d_steps: int = setting(1, minimum=1)
    d_warmup: int = setting(0, minimum=0)
    adversarial_gradient: Literal["pose", "depth"] = "pose"
    fake_2d: Literal["predicted", "truth"] = "predicted"
    adversarial_samples: Literal["all", "wild"] = "all"


@dataclass(frozen=True)
class StageOutputs:
    """Where a training stage writes: its model file, checkpoint folder, DVCLive folder
    (None: no DVCLive) and metrics file."""

    model_path: Path
    checkpoint_dir: Path
    live_dir: Path | None
    metrics_path: Path

    @classmethod
    def for_stage(cls, stage: str, root: str | Path = ".") -> "StageOutputs":
        """The pipeline's layout: models/<stage>.pt, checkpoints/<stage>/ (git-ignored, no DVC
        output), dvclive/<stage>/ (the curves, published at the end), metrics/<stage>.json."""
        root = Path(root)
        return cls(root / "models" / f"{stage}.pt", root / "checkpoints" / stage, root / "dvclive" / stage,
                   root / "metrics" / f"{stage}.json")
