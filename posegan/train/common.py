"""Pieces shared by the three training loops: settings, mixed batches, validation, model files."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from posegan.data.dataset import Augmentation, PoseDataset, make_loader
from posegan.device import grad_scaler, resolve_device
from posegan.evaluate import score_wild
from posegan.metrics import mpjpe
from posegan.models import Generator
from posegan.predict import predict
from posegan.train.runtime import Distributed, init_distributed, seed_everything, set_threads
from posegan.train.session import TrainingSession


@dataclass(frozen=True)
class LoopSettings:
    """The params.yaml block of one training stage (shared keys).

    iterations, batch_size: the schedule (paper: batch 12). lr: learning rate.
    lab_fraction: share of each minibatch drawn from the lab (3D) set, the rest from the
    wild (2D-only) set. log_every / val_every / checkpoint_every: in iterations.
    val_samples: samples of each validation set scored at every validation.
    workers: loader worker processes per data stream.
    """

    iterations: int
    batch_size: int
    lr: float
    lab_fraction: float = 0.5
    lr_decay_at: tuple = ()
    lr_decay: float = 0.1
    log_every: int = 10
    val_every: int = 100
    checkpoint_every: int = 100
    val_samples: int = 256
    workers: int = 1
    augmentation: dict = field(default_factory=dict)

    @classmethod
    def from_params(cls, section: str, params: dict[str, Any], **extra_keys) -> tuple["LoopSettings", dict]:
        """Split a stage's params block into LoopSettings and the stage's own keys.

        Raises ValueError naming `section.key` for missing, unknown or out-of-range values.
        """
        params = dict(params)
        names = {f.name for f in fields(cls)}
        own = {k: params.pop(k) for k in list(params) if k in extra_keys}
        unknown = set(params) - names
        if unknown:
            raise ValueError(f"params.yaml: unknown key(s) {', '.join(f'{section}.{k}' for k in sorted(unknown))}; "
                             f"expected {sorted(names | set(extra_keys))}")
        for key in ("iterations", "batch_size", "lr"):
            if key not in params:
                raise ValueError(f"params.yaml: {section}.{key} is missing")
        if "lr_decay_at" in params:
            params["lr_decay_at"] = tuple(params["lr_decay_at"] or ())
        settings = cls(**params)
        for key in ("iterations", "batch_size", "log_every", "val_every", "checkpoint_every", "val_samples"):
            value = getattr(settings, key)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"params.yaml: {section}.{key} must be a positive integer, got {value!r}")
        if not settings.lr > 0:
            raise ValueError(f"params.yaml: {section}.lr must be positive, got {settings.lr!r}")
        if any(not 0.0 < f < 1.0 for f in settings.lr_decay_at):
            raise ValueError(f"params.yaml: {section}.lr_decay_at must hold fractions of the schedule in (0, 1), "
                             f"got {list(settings.lr_decay_at)!r}")
        if not 0.0 < settings.lr_decay <= 1.0:
            raise ValueError(f"params.yaml: {section}.lr_decay must be in (0, 1], got {settings.lr_decay!r}")
        if not 0.0 <= settings.lab_fraction <= 1.0:
            raise ValueError(f"params.yaml: {section}.lab_fraction must be in [0, 1], got {settings.lab_fraction!r}")
        if settings.workers < 0:
            raise ValueError(f"params.yaml: {section}.workers must be >= 0, got {settings.workers!r}")
        for key, default in extra_keys.items():
            own.setdefault(key, default)
        return settings, own


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
        """The pipeline's layout: models/<stage>.pt, checkpoints/<stage>/, dvclive/<stage>/,
        metrics/<stage>.json."""
        root = Path(root)
        return cls(root / "models" / f"{stage}.pt", root / "checkpoints" / stage, root / "dvclive" / stage,
                   root / "metrics" / f"{stage}.json")


def learning_rate(settings: LoopSettings, iteration: int) -> float:
    """The step-decayed learning rate of `iteration` (a function of the iteration alone, so a
    resumed run follows the same schedule)."""
    passed = sum(iteration >= round(f * settings.iterations) for f in settings.lr_decay_at)
    return settings.lr * settings.lr_decay ** passed


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


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
        yield from make_loader(dataset, n, stream_seed, start, settings.iterations, settings.workers,
                               dist.rank, dist.world_size)

    return zip(stream(lab, n_lab, seed * 2 + 11), stream(wild, n_wild, seed * 2 + 12))


def concat_batches(*batches: dict | None, device: torch.device) -> dict[str, torch.Tensor]:
    """Concatenate batch dicts along the sample axis (None entries skipped), on `device`."""
    present = [b for b in batches if b is not None]
    return {key: torch.cat([b[key] for b in present]).to(device, non_blocking=True) for key in present[0]}


def datasets(prepared_dir: str | Path, stride: int, augmentation: dict) -> dict[str, PoseDataset]:
    """The training and validation datasets of the pipeline's prepared folder."""
    folder = Path(prepared_dir)
    aug = Augmentation.from_params(augmentation)
    return {
        "lab_train": PoseDataset(folder / "h36m_train.h5", stride, aug),
        "wild_train": PoseDataset(folder / "mpii_train.h5", stride, aug),
        "lab_val": PoseDataset(folder / "h36m_test.h5", stride),
        "wild_val": PoseDataset(folder / "mpii_valid.h5", stride),
    }


def validation_indices(n: int, count: int) -> np.ndarray:
    """`count` evenly spaced sample indices of a set of n (all of them if count >= n)."""
    return np.unique(np.linspace(0, n - 1, min(n, count)).round().astype(np.int64))


def make_validator(generator: Generator, data: dict[str, PoseDataset], count: int, device: torch.device,
                   amp: bool, with_3d: bool = True):
    """A function that scores the generator on fixed subsets of the validation sets.

    Returns {"mpjpe_lab": mm (Protocol #1, lab test subjects; only if with_3d),
    "pckh_wild": PCKh@0.5 mean, percent (wild validation set, compared in original-image
    pixels as in Table 3)}. The curves are for watching
    training; no weights are selected with them (each stage keeps its last iteration).
    """
    lab_idx = validation_indices(len(data["lab_val"]), count)
    wild_idx = validation_indices(len(data["wild_val"]), count)

    def validate() -> dict[str, float]:
        results = {}
        if with_3d:
            pred = predict(generator, data["lab_val"], lab_idx, device=device, amp=amp)
            results["mpjpe_lab"] = mpjpe(pred["joints_3d"], data["lab_val"].labels["joints_3d"][lab_idx])
        pred = predict(generator, data["wild_val"], wild_idx, device=device, amp=amp)
        labels = {key: value[wild_idx] for key, value in data["wild_val"].labels.items()}
        results["pckh_wild"] = score_wild(pred["joints_2d"], labels, data["wild_val"].image_size)["pckh"]["mean"]
        return results

    return validate


def model_payload(generator: Generator, model_params: dict[str, Any], stage: str, iteration: int,
                  discriminator: torch.nn.Module | None = None) -> dict[str, Any]:
    """What a stage writes to models/<stage>.pt (plain tensors and JSON-able values only)."""
    payload = {"stage": stage, "iteration": int(iteration), "model_params": dict(model_params),
               "generator": {k: v.detach().cpu() for k, v in generator.state_dict().items()}}
    if discriminator is not None:
        payload["discriminator"] = {k: v.detach().cpu() for k, v in discriminator.state_dict().items()}
    return payload


def load_generator_weights(path: str | Path, generator: Generator, only_2d: bool = False) -> dict[str, Any]:
    """Load models/<stage>.pt into `generator` (all of it, or its 2D module only)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if "generator" not in payload:
        raise ValueError(f"{path}: not a posegan model file (no 'generator' entry)")
    if only_2d:
        generator.load_2d_state_dict(payload["generator"])
    else:
        generator.load_state_dict(payload["generator"])
    return payload


@dataclass
class StageRuntime:
    """What every training loop sets up first: device, mixed precision, process group, data."""

    device: torch.device
    amp: bool
    dist: Distributed
    data: dict[str, PoseDataset]

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module wrapped for data-parallel training under torchrun (itself otherwise)."""
        return torch.nn.parallel.DistributedDataParallel(module) if self.dist.enabled else module

    def session(self, stage: str, settings: LoopSettings, outputs: StageOutputs, fingerprint: str,
                progress: bool) -> TrainingSession:
        return TrainingSession(stage, settings.iterations, outputs.checkpoint_dir, fingerprint, outputs.live_dir,
                               self.dist, settings.log_every, settings.checkpoint_every, settings.val_every, progress)

    def validator(self, generator: Generator, settings: LoopSettings, with_3d: bool = True):
        """Validation on rank 0 only (None on the other ranks)."""
        if not self.dist.is_main:
            return None
        return make_validator(generator, self.data, settings.val_samples, self.device, self.amp, with_3d)


def start_stage(model_params: dict[str, Any], settings: LoopSettings, prepared_dir: str | Path, stride: int,
                seed: int) -> StageRuntime:
    """Resolve the device, join torchrun's process group if any, set threads and seeds, open the data."""
    device = resolve_device(model_params["device"])
    dist = init_distributed(device)
    set_threads(int(model_params.get("threads", 0)))
    seed_everything(seed)
    return StageRuntime(device, bool(model_params.get("amp", False)), dist,
                        datasets(prepared_dir, stride, settings.augmentation))


def optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: torch.Tensor) -> None:
    """One update: clear gradients, backpropagate the (scaled) loss, step, update the scaler."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def new_scaler(runtime: StageRuntime) -> torch.amp.GradScaler:
    return grad_scaler(runtime.device, runtime.amp)
