"""Stage 2: train the full generator (2D module + depth regressor) with Eq. 2.

Starts from pretrain_2d's 2D module and a fresh depth regressor. Minibatches mix 3D (lab)
and 2D-only (wild) samples (`lab_fraction`): every sample gets the heatmap term, the 3D
samples also the depth term (Zhou et al.'s mixed training, without their geometric loss,
as in the paper). With `fix_2d` the 2D module is frozen and only the regressor learns.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from posegan.device import autocast
from posegan.losses import pose_loss
from posegan.model_file import load_generator_weights, model_payload
from posegan.models import Generator, normalize_images
from posegan.train.batches import concat_batches, mixed_batches
from posegan.train.runtime import shutdown_distributed
from posegan.train.settings import LoopSettings
from posegan.train.stage import (TrainingJob, learning_rate, new_scaler, optimizer_step, set_learning_rate,
                                 start_stage)


def pretrain_depth(settings: LoopSettings, job: TrainingJob, init_path: str | Path) -> dict[str, Any]:
    """Train the generator from the 2D module in `init_path`; write the job's outputs and return the metrics."""
    run = start_stage(job, settings)
    loss, outputs = job.loss, job.outputs
    generator = Generator.build(job.model)
    load_generator_weights(init_path, generator, only_2d=True)
    generator.to(run.device)
    net = run.wrap(generator)
    optimizer = torch.optim.RMSprop([p for p in generator.parameters() if p.requires_grad], lr=settings.lr)
    scaler = new_scaler(run)

    session = run.session("pretrain_depth", settings, outputs, job.fingerprint, job.progress)
    start = session.resume({"generator": generator}, {"optimizer": optimizer})
    validate = run.validator(generator, settings)
    batches = mixed_batches(run.data["lab_train"], run.data["wild_train"], settings, job.seed, start, run.dist)

    generator.train()
    for iteration in range(start, settings.iterations):
        with session.waiting_for_data():
            lab, wild = next(batches)
        tic = time.perf_counter()
        set_learning_rate(optimizer, learning_rate(settings, iteration))
        batch = concat_batches(lab, wild, device=run.device)
        with autocast(run.device, run.amp):
            out = net(normalize_images(batch["image"]))
        terms = pose_loss(out.heatmaps, out.depth, batch["heatmaps"], batch["depth"],
                          joint_mask=batch["annotated"], has_3d=batch["has_3d"], reduction=loss.reduction,
                          depth_weight=loss.depth_weight)
        session.check_finite(iteration, loss=terms.total)
        optimizer_step(optimizer, scaler, terms.total)
        session.log(iteration, {"loss": terms.total.detach(), "loss_heatmap": terms.heatmap.detach(),
                                "loss_depth": terms.depth.detach()}, time.perf_counter() - tic, validate)

    payload = model_payload(generator, job.model, "pretrain_depth", settings.iterations,
                            run.data["lab_train"].image_size)
    metrics = session.finish(outputs.model_path, payload, outputs.metrics_path)
    shutdown_distributed(run.dist)
    return metrics
