"""Stage 1: pretrain the 2D module (stacked hourglass) on 2D-labelled images.

The backbone's recipe (Newell et al.): RMSprop, heatmap squared error on every stack
(intermediate supervision), rotation / scale / flip / colour augmentation. Minibatches mix
the wild set (MPII role) with the lab set's 2D labels (`lab_fraction`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from posegan.device import autocast, grad_scaler, resolve_device
from posegan.losses import pose_loss
from posegan.models import Generator, normalize_images
from posegan.train.common import (LoopSettings, StageOutputs, concat_batches, datasets, make_validator, mixed_batches,
                                  model_payload)
from posegan.train.runtime import init_distributed, seed_everything, set_threads, shutdown_distributed
from posegan.train.session import TrainingSession


def pretrain_2d(settings: LoopSettings, model_params: dict[str, Any], prepared_dir: str | Path, stride: int,
                seed: int, outputs: StageOutputs, fingerprint: str, progress: bool = True) -> dict[str, Any]:
    """Train the 2D module; write models/pretrain_2d.pt and the stage's metrics. Returns the metrics."""
    device = resolve_device(model_params["device"])
    amp = bool(model_params.get("amp", False))
    dist = init_distributed(device)
    set_threads(int(model_params.get("threads", 0)))
    seed_everything(seed)
    data = datasets(prepared_dir, stride, settings.augmentation)

    generator = Generator.from_params(model_params).to(device)
    net = generator.pose_2d
    if dist.enabled:
        net = torch.nn.parallel.DistributedDataParallel(net)
    optimizer = torch.optim.RMSprop(generator.pose_2d.parameters(), lr=settings.lr)
    scaler = grad_scaler(device, amp)

    session = TrainingSession("pretrain_2d", settings.iterations, outputs.checkpoint_dir, fingerprint,
                              outputs.live_dir, dist,
                              settings.log_every, settings.checkpoint_every, settings.val_every, progress)
    start = session.resume({"generator": generator}, {"optimizer": optimizer})
    validate = make_validator(generator, data, settings.val_samples, device, amp, with_3d=False) \
        if dist.is_main else None
    batches = mixed_batches(data["lab_train"], data["wild_train"], settings, seed, start, dist)

    generator.train()
    for iteration in range(start, settings.iterations):
        with session.waiting_for_data():
            lab, wild = next(batches)
        tic = time.perf_counter()
        batch = concat_batches(lab, wild, device=device)
        with autocast(device, amp):
            heatmaps = net(normalize_images(batch["image"])).heatmaps
        loss = pose_loss(heatmaps, None, batch["heatmaps"], joint_mask=batch["annotated"]).total
        session.check_finite(iteration, loss=loss)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        session.log(iteration, {"loss": loss.item()}, time.perf_counter() - tic, validate)

    metrics = session.finish(outputs.model_path, model_payload(generator, model_params, "pretrain_2d",
                                                               settings.iterations), outputs.metrics_path)
    shutdown_distributed(dist)
    return metrics
