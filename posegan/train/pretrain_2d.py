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
from posegan.train.loop_setup import (LoopSettings, TrainingRun, concat_batches, learning_rate, mixed_batches,
                                      optimizer_step, set_learning_rate, set_up_loop)


def pretrain_2d(settings: LoopSettings, run: TrainingRun) -> dict[str, Any]:
    """Train the 2D module; write models/pretrain_2d.pt and the stage's metrics. Returns the metrics."""
    setup = set_up_loop(run, settings)
    loss, outputs = run.loss, run.outputs
    model = replace(run.model, fix_2d=False)   # "fix 2D" is about the later stages
    generator = Generator.build(model).to(setup.device)
    net = setup.wrap(generator.pose_2d)
    optimizer = torch.optim.RMSprop(generator.pose_2d.parameters(), lr=settings.lr)
    scaler = setup.grad_scaler()

    session = setup.session("pretrain_2d", settings, run)
    start = session.resume({"generator": generator}, {"optimizer": optimizer})
    validate = setup.validator(generator, settings, with_3d=False)
    batches = mixed_batches(setup.data["lab_train"], setup.data["wild_train"], settings, run.seed, start, setup.dist)

    generator.train()
    for iteration in range(start, settings.iterations):
        with session.waiting_for_data():
            lab, wild = next(batches)
        tic = time.perf_counter()
        set_learning_rate(optimizer, learning_rate(settings, iteration))
        batch = concat_batches(lab, wild, device=setup.device)
        with autocast(setup.device, setup.amp):
            heatmaps = net(normalize_images(batch["image"])).heatmaps
        total = pose_loss(heatmaps, None, batch["heatmaps"], joint_mask=batch["annotated"],
                          reduction=loss.reduction).total
        session.check_finite(iteration, loss=total)
        optimizer_step(optimizer, scaler, total)
        session.log(iteration, {"loss": total.detach()}, time.perf_counter() - tic, validate)

    payload = model_payload(generator, model, "pretrain_2d", settings.iterations,
                            setup.data["lab_train"].image_size)
    metrics = session.finish(outputs.model_path, payload, outputs.metrics_path)
    setup.leave_process_group()
    return metrics
