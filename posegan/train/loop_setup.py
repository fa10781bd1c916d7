"""What a training loop sets up and calls, in the order a loop uses it.

Each of the three loops (pretrain_2d.py, pretrain_depth.py, adversarial.py) reads top to bottom
with this file beside it:

1. It takes its own params section (`LoopSettings`; the adversarial loop's `AdversarialSettings`
   extends it in adversarial.py) and a `TrainingRun`: the sections every loop shares (model,
   runtime, loss, seed), the prepared data, where the stage writes (`StageOutputs`) and the
   fingerprint that identifies the run. The stage command builds the run from the params file
   (stages/training_run.py).
2. `set_up_loop` joins torchrun's process group (if any), sets threads and seeds and opens the
   data (`training_data`). The `LoopSetup` it returns holds the device, the mixed precision, the
   process group and the datasets, and makes what the loop needs of them: the network as it
   runs (`wrap`: DDP, torch.compile), a gradient scaler per optimiser, the session that resumes,
   logs and checkpoints (posegan/train/session.py) and the validation curves (`validator`).
3. Each iteration draws a lab and a wild minibatch (`mixed_batches`, `concat_batches`), sets
   the step-decayed learning rate (`learning_rate`) and steps (`optimizer_step`).
4. At the end the session writes the model and the metrics and the loop leaves the process
   group (`LoopSetup.leave_process_group`).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
import torch

from posegan.data.dataset import Augmentation, PoseDataset, make_loader
from posegan.data.sets import training_sets
from posegan.device import RuntimeSettings, compiled, grad_scaler
from posegan.losses import LossSettings
from posegan.metrics import mpjpe
from posegan.models import Generator
from posegan.models.generator import ModelSettings
from posegan.predict import predict
from posegan.scoring import score_wild, select_samples
from posegan.settings import setting
from posegan.subsets import evenly_spaced
from posegan.train.distributed import Distributed, init_distributed, shutdown_distributed
from posegan.train.session import TrainingSession


# --------------------------------------------------------------------------- what a loop takes

def _fractions(value) -> tuple[float, ...]:
    """lr_decay_at: fractions of the schedule in (0, 1) (null or [] for none)."""
    items = [] if value is None else value
    if not isinstance(items, (list, tuple)) or any(isinstance(f, bool) or not isinstance(f, (int, float))
                                                   or not 0.0 < f < 1.0 for f in items):
        raise ValueError(f"must be a list of fractions of the schedule in (0, 1), got {value!r}")
    return tuple(float(f) for f in items)


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


@dataclass(frozen=True)
class TrainingRun:
    """One run of a training stage: everything its loop takes besides its own section's settings.

    model: the network. runtime: where and how it runs. loss: how the losses are reduced.
    prepared_dir: the prepared data. seed: the training seed. outputs: where the stage writes.
    fingerprint: identifies the run, so a checkpoint is resumed only by the same run
    (`posegan.train.checkpoint.fingerprint`). progress: show a progress bar.
    """

    model: ModelSettings
    runtime: RuntimeSettings
    loss: LossSettings
    prepared_dir: Path
    seed: int
    outputs: StageOutputs
    fingerprint: str
    progress: bool = True


# --------------------------------------------------------------------------- before the loop

def set_threads(threads: int) -> None:
    """torch's intra-op threads for this process (0: leave torch's default).

    On a small shared CPU, fewer threads than cores often trains faster: the loader workers
    need a core too, and oversubscribed threads stall each other.
    """
    if threads < 0:
        raise ValueError(f"runtime.threads must be >= 0, got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (loader workers get their streams from the sampler)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def training_data(prepared_dir: str | Path, augmentation: Augmentation) -> dict[str, PoseDataset]:
    """The training and validation datasets of the pipeline's prepared folder (the dataset table's
    lab_train, wild_train, lab_val, wild_val); the training sets augmented."""
    return {name: PoseDataset(entry.path(prepared_dir),
                              augmentation=augmentation.active if name.endswith("_train") else None)
            for name, entry in training_sets().items()}


@dataclass
class LoopSetup:
    """What a training loop runs on: device, mixed precision, compilation, process group, data."""

    device: torch.device
    amp: bool | str
    dist: Distributed
    data: dict[str, PoseDataset]
    compile: bool | str = False

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module as the loop runs it: wrapped for data-parallel training under torchrun, then
        compiled when `runtime.compile` asks for it (itself otherwise). Optimisers, checkpoints
        and model files keep using the plain module, whose parameters the wrappers share."""
        if self.dist.enabled:
            module = torch.nn.parallel.DistributedDataParallel(module)
        return compiled(module, self.compile)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler for one optimiser (enabled for float16 only; see posegan.device)."""
        return grad_scaler(self.device, self.amp)

    def session(self, stage: str, settings: LoopSettings, run: TrainingRun) -> TrainingSession:
        """The bookkeeping of the run: resume, logging, progress, checkpoints, the outputs."""
        outputs = run.outputs
        return TrainingSession(stage, settings.iterations, outputs.checkpoint_dir, run.fingerprint, outputs.live_dir,
                               self.dist, settings.log_every, settings.checkpoint_every, settings.val_every,
                               run.progress)

    def validator(self, generator: Generator, settings: LoopSettings, with_3d: bool = True):
        """Validation on rank 0 only (None on the other ranks)."""
        if not self.dist.is_main:
            return None
        return make_validator(generator, self.data, settings.val_samples, self.device, self.amp, with_3d)

    def leave_process_group(self) -> None:
        """The end of the loop: leave torchrun's process group (nothing to do in a single process)."""
        shutdown_distributed(self.dist)


def set_up_loop(run: TrainingRun, settings: LoopSettings) -> LoopSetup:
    """Join torchrun's process group if any (on the device the params resolved to), set threads
    and seeds, open the data."""
    device = run.runtime.device
    dist = init_distributed(device)
    set_threads(run.runtime.threads)
    seed_everything(run.seed)
    return LoopSetup(device, run.runtime.amp, dist, training_data(run.prepared_dir, settings.augmentation),
                     run.runtime.compile)


# --------------------------------------------------------------------------- each iteration

def loader_workers(workers: int | str, streams: int = 2, cores: int | None = None) -> int:
    """Loader processes per data stream: `workers` itself, or for "auto" the cores left after the
    training process, split between the streams (at least 1 each).
    Example: 16 cores, 2 streams -> 7 each; 2 cores -> 1 each."""
    if workers != "auto":
        return int(workers)
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // streams)


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


def learning_rate(settings: LoopSettings, iteration: int) -> float:
    """The step-decayed learning rate of `iteration` (a function of the iteration alone, so a
    resumed run follows the same schedule)."""
    passed = sum(iteration >= round(f * settings.iterations) for f in settings.lr_decay_at)
    return settings.lr * settings.lr_decay ** passed


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: torch.Tensor) -> None:
    """One update: clear gradients, backpropagate the (scaled) loss, step, update the scaler."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


# --------------------------------------------------------------------------- validation

def make_validator(generator: Generator, data: dict[str, PoseDataset], count: int, device: torch.device,
                   amp: bool, with_3d: bool = True):
    """A function that scores the generator on fixed, evenly spaced subsets of the validation sets,
    with the same functions as the evaluate stage. The curves are for watching training; no
    weights are selected with them (each stage keeps its last iteration).

    Returns {"mpjpe_lab": mm (Protocol #1, lab test subjects; only if with_3d),
    "pckh_wild": PCKh@0.5 mean, percent (wild validation set, compared in original-image
    pixels as in Table 3)}.
    """
    lab_idx = evenly_spaced(len(data["lab_val"]), count)
    wild_idx = evenly_spaced(len(data["wild_val"]), count)

    def validate() -> dict[str, float]:
        results = {}
        if with_3d:
            pred = predict(generator, data["lab_val"], lab_idx, device=device, amp=amp)
            results["mpjpe_lab"] = mpjpe(pred["joints_3d"], data["lab_val"].labels["joints_3d"][lab_idx])
        pred = predict(generator, data["wild_val"], wild_idx, device=device, amp=amp)
        labels = select_samples(data["wild_val"].labels, wild_idx)
        results["pckh_wild"] = score_wild(pred["joints_2d"], labels, data["wild_val"].image_size)["pckh"]["mean"]
        return results

    return validate
