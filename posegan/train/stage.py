"""What every training loop sets up first and uses throughout: the device, mixed precision,
the process group, the data, the learning-rate schedule and the optimiser step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from posegan.data.dataset import Augmentation, PoseDataset
from posegan.data.sets import training_sets
from posegan.device import RuntimeSettings, compiled, grad_scaler
from posegan.losses import LossSettings
from posegan.models import Generator
from posegan.models.generator import ModelSettings
from posegan.train.runtime import Distributed, init_distributed, seed_everything, set_threads
from posegan.train.session import TrainingSession
from posegan.train.settings import LoopSettings, StageOutputs
from posegan.train.validation import make_validator


@dataclass(frozen=True)
class TrainingJob:
    """What a training loop takes besides its own section's settings.

    model: the network. runtime: where and how it runs. loss: how the losses are reduced.
    prepared_dir / stride: the prepared data and the heatmap stride. seed: the training
    seed. outputs: where the stage writes. fingerprint: identifies the run, so a checkpoint
    is resumed only by the same run (`posegan.train.checkpoint.fingerprint`). progress: show
    a progress bar.
    """

    model: ModelSettings
    runtime: RuntimeSettings
    loss: LossSettings
    prepared_dir: Path
    stride: int
    seed: int
    outputs: StageOutputs
    fingerprint: str
    progress: bool = True


def learning_rate(settings: LoopSettings, iteration: int) -> float:
    """The step-decayed learning rate of `iteration` (a function of the iteration alone, so a
    resumed run follows the same schedule)."""
    passed = sum(iteration >= round(f * settings.iterations) for f in settings.lr_decay_at)
    return settings.lr * settings.lr_decay ** passed


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def datasets(prepared_dir: str | Path, stride: int, augmentation: Augmentation) -> dict[str, PoseDataset]:
    """The training and validation datasets of the pipeline's prepared folder (the dataset table's
    lab_train, wild_train, lab_val, wild_val); the training sets augmented."""
    return {name: PoseDataset(entry.path(prepared_dir), stride,
                              augmentation.active if name.endswith("_train") else None)
            for name, entry in training_sets().items()}


@dataclass
class StageRuntime:
    """What every training loop sets up first: device, mixed precision, compilation, process
    group, data."""

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

    def session(self, stage: str, settings: LoopSettings, outputs: StageOutputs, fingerprint: str,
                progress: bool) -> TrainingSession:
        return TrainingSession(stage, settings.iterations, outputs.checkpoint_dir, fingerprint, outputs.live_dir,
                               self.dist, settings.log_every, settings.checkpoint_every, settings.val_every, progress)

    def validator(self, generator: Generator, settings: LoopSettings, with_3d: bool = True):
        """Validation on rank 0 only (None on the other ranks)."""
        if not self.dist.is_main:
            return None
        return make_validator(generator, self.data, settings.val_samples, self.device, self.amp, with_3d)


def start_stage(job: TrainingJob, settings: LoopSettings) -> StageRuntime:
    """Join torchrun's process group if any (on the device the params resolved to), set threads
    and seeds, open the data."""
    device = job.runtime.device
    dist = init_distributed(device)
    set_threads(job.runtime.threads)
    seed_everything(job.seed)
    return StageRuntime(device, job.runtime.amp, dist, datasets(job.prepared_dir, job.stride, settings.augmentation),
                        job.runtime.compile)


def optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: torch.Tensor) -> None:
    """One update: clear gradients, backpropagate the (scaled) loss, step, update the scaler."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def new_scaler(runtime: StageRuntime) -> torch.amp.GradScaler:
    return grad_scaler(runtime.device, runtime.amp)
