"""Stage 1: pretrain the 2D module (stacked hourglass) on 2D-labelled images.

The backbone's recipe (Newell et al.): RMSprop, heatmap squared error on every stack
(intermediate supervision), rotation / scale / flip / colour augmentation. Minibatches mix
the wild set (MPII role) with the lab set's 2D labels (`lab_fraction`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch

from posegan.device import autocast
from posegan.losses import pose_loss
from posegan.model_file import model_payload
from posegan.models import Generator, normalize_images
from posegan.train.batches import concat_batches, mixed_batches
from posegan.train.runtime import shutdown_distributed
from posegan.train.settings import LoopSettings
from posegan.train.stage import (TrainingJob, learning_rate, new_scaler, optimizer_step, set_learning_rate,
                                 start_stage)


def pretrain_2d(settings: LoopSettings, job: TrainingJob) -> dict[str, Any]:
    """Train the 2D module; write models/pretrain_2d.pt and the stage's metrics. Returns the metrics."""
    run = start_stage(job, settings)
    loss, outputs = job.loss, job.outputs
    model = replace(job.model, fix_2d=False)   # "fix 2D" is about the later stages
    generator = Generator.build(model).to(run.device)
    net = run.wrap(generator.pose_2d)
    optimizer = torch.optim.RMSprop(generator.pose_2d.parameters(), lr=settings.lr)
    scaler = new_scaler(run)

    session = run.session("pretrain_2d", settings, outputs, job.fingerprint, job.progress)
    start = session.resume({"generator": generator}, {"optimizer": optimizer})
    validate = run.validator(generator, settings, with_3d=False)
    batches = mixed_batches(run.data["lab_train"], run.data["wild_train"], settings, job.seed, start, run.dist)

    generator.train()
    for iteration in range(start, settings.iterations):
        with session.waiting_for_data():
            lab, wild = next(batches)
        tic = time.perf_counter()
        set_learning_rate(optimizer, learning_rate(settings, iteration))
        batch = concat_batches(lab, wild, device=run.device)
        with autocast(run.device, run.amp):
            heatmaps = net(normalize_images(batch["image"])).heatmaps
        total = pose_loss(heatmaps, None, batch["heatmaps"], joint_mask=batch["annotated"],
                          reduction=loss.reduction).total
        session.check_finite(iteration, loss=total)
        optimizer_step(optimizer, scaler, total)
        session.log(iteration, {"loss": total.detach()}, time.perf_counter() - tic, validate)

    payload = model_payload(generator, model, "pretrain_2d", settings.iterations,
                            run.data["lab_train"].image_size)
    metrics = session.finish(outputs.model_path, payload, outputs.metrics_path)
    shutdown_distributed(run.dist)
    return metrics
