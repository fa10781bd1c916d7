"""Stage 3: adversarial learning (section 4.2), alternating D and G updates.

Each iteration draws a lab (3D) and a wild (2D-only) minibatch and runs the generator on
both. Then:

1. `d_steps` discriminator updates with Eq. 3 on a half-real, half-fake minibatch: real =
   the lab images with their ground-truth heatmaps and depths; fake = the generator's
   (detached) predictions on as many images, taken from both domains.
2. one generator update with Eq. 5, L_G = lambda * L_adv + L_pose: L_pose on every sample
   (depth on the 3D ones), L_adv on the predictions for every sample of both domains. Only
   the generator's optimizer steps, so the discriminator does not change.

`enabled: false` is the paper's Baseline: the same schedule with lambda = 0 and no
discriminator, so the only difference to the adversarial variants is adversarial learning.
`init: pretrain_2d` is "w/o pretrain": start from the 2D module with a fresh regressor.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from posegan.device import autocast, compiled
from posegan.losses import adversarial_loss, adversarial_share, discriminator_loss, generator_loss, pose_loss
from posegan.model_file import load_generator_weights, model_payload
from posegan.models import Generator, MultiSourceDiscriminator, normalize_images
from posegan.models.discriminator import DiscriminatorSettings
from posegan.train.batches import concat_batches, mixed_batches, split_batch
from posegan.train.runtime import shutdown_distributed
from posegan.train.settings import AdversarialSettings
from posegan.train.stage import (TrainingJob, learning_rate, new_scaler, optimizer_step, set_learning_rate,
                                 start_stage)


def fake_selection(n_lab: int, n_wild: int, n_real: int) -> torch.Tensor:
    """Indices (into the lab+wild batch) of the n_real predictions shown to D as fakes.

    Half from each domain where possible, so that D sees wild predictions as often as lab ones.
    """
    from_wild = min(n_wild, n_real // 2)
    from_lab = min(n_lab, n_real - from_wild)
    from_wild = min(n_wild, n_real - from_lab)
    return torch.cat([torch.arange(from_lab), n_lab + torch.arange(from_wild)])


def adversarial(settings: AdversarialSettings, discriminator_settings: DiscriminatorSettings, job: TrainingJob,
                init_path: str | Path) -> dict[str, Any]:
    """Adversarial training from the model file `init_path` (for `settings.init`: pretrain_2d
    loads its 2D module only, under a fresh depth regressor); write the job's outputs and
    return the metrics. With `settings.enabled` false: the Baseline (no discriminator)."""
    run = start_stage(job, settings)
    loss, outputs = job.loss, job.outputs
    enabled = settings.enabled
    lam = settings.lambda_ if enabled else 0.0

    generator = Generator.build(job.model)
    load_generator_weights(init_path, generator, only_2d=settings.init == "pretrain_2d")
    generator.to(run.device)
    g_net = run.wrap(generator)
    g_opt = torch.optim.RMSprop([p for p in generator.parameters() if p.requires_grad], lr=settings.lr)
    g_scaler = new_scaler(run)
    models, optimizers = {"generator": generator}, {"generator": g_opt}

    discriminator = d_net = d_opt = d_scaler = None
    if enabled:
        lab_set = run.data["lab_train"]
        discriminator = MultiSourceDiscriminator.build(discriminator_settings, 16, lab_set.image_size,
                                                       lab_set.heatmap_size).to(run.device)
        d_net = run.wrap(discriminator)
        d_forward = compiled(discriminator, run.compile)   # the G step's D: plain (no DDP: D is not updated)
        d_opt = torch.optim.Adam(discriminator.parameters(), lr=settings.lr_d, betas=(0.5, 0.999))
        d_scaler = new_scaler(run)
        models["discriminator"], optimizers["discriminator"] = discriminator, d_opt

    session = run.session("adversarial", settings, outputs, job.fingerprint, job.progress)
    start = session.resume(models, optimizers)
    validate = run.validator(generator, settings)
    batches = mixed_batches(run.data["lab_train"], run.data["wild_train"], settings, job.seed, start, run.dist)
    n_lab, n_wild = split_batch(settings.batch_size, settings.lab_fraction)
    if enabled and n_lab == 0:
        raise ValueError("adversarial.lab_fraction is 0: the discriminator needs real (3D) samples")
    fakes = fake_selection(n_lab, n_wild, n_lab).to(run.device)

    generator.train()
    for iteration in range(start, settings.iterations):
        with session.waiting_for_data():
            lab, wild = next(batches)
        tic = time.perf_counter()
        set_learning_rate(g_opt, learning_rate(settings, iteration))
        batch = concat_batches(lab, wild, device=run.device)
        images = normalize_images(batch["image"])
        with autocast(run.device, run.amp):
            out = g_net(images)
        logs = {}

        if enabled:
            # 1. Discriminator: real lab poses against the generator's (detached) predictions.
            real = slice(0, n_lab)
            fake_heatmaps, fake_depth = out.heatmaps[-1].detach()[fakes], out.depth.detach()[fakes]
            for _ in range(settings.d_steps):
                with autocast(run.device, run.amp):
                    real_logits = d_net(images[real], batch["heatmaps"][real], batch["depth"][real])
                    fake_logits = d_net(images[fakes], fake_heatmaps.float(), fake_depth.float())
                d_loss = discriminator_loss(real_logits, fake_logits, loss.reduction)
                session.check_finite(iteration, d_loss=d_loss)
                optimizer_step(d_opt, d_scaler, d_loss)
            logs.update(d_loss=d_loss.detach(),
                        d_acc_real=(real_logits.detach() > 0).float().mean(),
                        d_acc_fake=(fake_logits.detach() < 0).float().mean())

        # 2. Generator: Eq. 5 on every sample of both domains; D is not stepped.
        p_loss = pose_loss(out.heatmaps, out.depth, batch["heatmaps"], batch["depth"],
                           joint_mask=batch["annotated"], has_3d=batch["has_3d"], reduction=loss.reduction,
                           depth_weight=loss.depth_weight)
        if enabled:
            # The plain module, not its DDP wrapper: D is not updated here, so nothing to sync.
            discriminator.requires_grad_(False)
            with autocast(run.device, run.amp):
                g_logits = d_forward(images, out.heatmaps[-1].float(), out.depth.float())
            g_loss = generator_loss(g_logits, p_loss, lam, loss.reduction)
            discriminator.requires_grad_(True)
            logs["g_adv"] = adversarial_loss(g_logits.detach(), loss.reduction)
            logs["adv_share"] = adversarial_share(lam, logs["g_adv"], p_loss.total.detach())
        else:
            g_loss = p_loss.total
        session.check_finite(iteration, g_loss=g_loss)
        optimizer_step(g_opt, g_scaler, g_loss)
        logs.update(g_loss=g_loss.detach(), loss_pose=p_loss.total.detach(), loss_depth=p_loss.depth.detach())
        session.log(iteration, logs, time.perf_counter() - tic, validate)

    payload = model_payload(generator, job.model, "adversarial", settings.iterations,
                            run.data["lab_train"].image_size, discriminator)
    metrics = session.finish(outputs.model_path, payload, outputs.metrics_path)
    shutdown_distributed(run.dist)
    return metrics
