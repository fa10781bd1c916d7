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
from posegan.train.loop_setup import (LoopSettings, TrainingRun, concat_batches, learning_rate, mixed_batches,
                                      optimizer_step, set_learning_rate, set_up_loop)


def pretrain_depth(settings: LoopSettings, run: TrainingRun, init_path: str | Path) -> dict[str, Any]:
    """Train the generator from the 2D module in `init_path`; write the run's outputs and return the metrics."""
    setup = set_up_loop(run, settings)
    loss, outputs = run.loss, run.outputs
    generator = Generator.build(run.model)
    load_generator_weights(init_path, generator, only_2d=True)
    generator.to(setup.device)
    net = setup.wrap(generator)
    optimizer = torch.optim.RMSprop([p for p in generator.parameters() if p.requires_grad], lr=settings.lr)
    scaler = setup.grad_scaler()

    session = setup.session("pretrain_depth", settings, run)
    start = session.resume({"generator": generator}, {"optimizer": optimizer})
    validate = setup.validator(generator, settings)
    batches = mixed_batches(setup.data["lab_train"], setup.data["wild_train"], settings, run.seed, start, setup.dist)

    generator.train()
    for iteration in range(start, settings.iterations):
        with session.waiting_for_data():
            lab, wild = next(batches)
        tic = time.perf_counter()
        set_learning_rate(optimizer, learning_rate(settings, iteration))
        batch = concat_batches(lab, wild, device=setup.device)
        with autocast(setup.device, setup.amp):
            out = net(normalize_images(batch["image"]))
        terms = pose_loss(out.heatmaps, out.depth, batch["heatmaps"], batch["depth"],
                          joint_mask=batch["annotated"], has_3d=batch["has_3d"], reduction=loss.reduction,
                          depth_weight=loss.depth_weight)
        session.check_finite(iteration, loss=terms.total)
        optimizer_step(optimizer, scaler, terms.total)
        session.log(iteration, {"loss": terms.total.detach(), "loss_heatmap": terms.heatmap.detach(),
                                "loss_depth": terms.depth.detach()}, time.perf_counter() - tic, validate)

    payload = model_payload(generator, run.model, "pretrain_depth", settings.iterations,
                            setup.data["lab_train"].image_size)
    metrics = session.finish(outputs.model_path, payload, outputs.metrics_path)
    setup.leave_process_group()
    return metrics
