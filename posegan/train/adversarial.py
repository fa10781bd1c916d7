"""Stage 3: adversarial learning (section 4.2), alternating D and G updates.

Each iteration draws a lab (3D) and a wild (2D-only) minibatch and runs the generator on
both. Then:

1. `d_steps` discriminator updates with Eq. 3 on a half-real, half-fake minibatch: real =
   the lab images with their ground-truth heatmaps and depths; fake = the generator's
   (detached) predictions on as many images, taken from both domains.
2. one generator update with Eq. 5, L_G = lambda * L_adv + L_pose: L_pose on every sample
   (depth on the 3D ones), L_adv on the predictions for every sample of both domains. Only
   the generator's optimizer steps, so the discriminator does not change.

With `fake_2d: truth` (an option beyond the paper) the fakes carry the ground-truth 2D joints
and the predicted depths, in both steps.

`enabled: false` is the paper's Baseline: the same schedule with lambda = 0 and no
discriminator, so the only difference to the adversarial variants is adversarial learning.
`init: pretrain_2d` is "w/o pretrain": start from the 2D module with a fresh regressor.

What every loop sets up and calls (the data, the learning rate, the optimiser step, the
session) is in posegan/train/loop_setup.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch

from posegan.device import autocast, compiled
from posegan.heatmaps import soft_argmax
from posegan.losses import (adversarial_loss, adversarial_share, discriminator_loss, generator_loss,
                            interpolation_penalty, pose_loss, r1_penalty, symmetry_penalty)
from posegan.model_file import load_generator_weights, model_payload
from posegan.models import Generator, MultiSourceDiscriminator, normalize_images
from posegan.models.discriminator import DiscriminatorSettings
from posegan.settings import setting
from posegan.train.loop_setup import (LoopSettings, TrainingRun, concat_batches, learning_rate, mixed_batches,
                                      optimizer_step, set_learning_rate, set_up_loop, split_batch)


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
    moves: "pose" (the paper: heatmaps and depths), "depth" (the heatmaps reach D detached,
    so D can only reshape the depths; its gradient still reaches the 2D module's features
    through the depth regressor, which reads them), "regressor" (as "depth", and L_adv's
    gradient is taken with respect to the depth regressor's parameters alone, so it trains
    the regressor and never the 2D module; L_pose trains both as before) or "heatmaps" (the
    depths reach D detached, so L_adv moves the 2D joints only and leaves the depths to the
    3D loss).
    fake_2d: the 2D joints of the fakes D judges: "predicted" (the paper: the generator's
    heatmaps) or "truth" (the ground-truth heatmaps of the sample, the prediction's only where
    a joint is not annotated, detached): each fake is then the true 2D pose with the
    generator's depths, so D learns how deep joints are given where they are, and L_adv
    reaches the depths only.
    adversarial_samples: the samples whose predictions L_adv judges in the generator update:
    "all" (the paper: Eq. 5 on every sample of both domains), "wild" (the 2D-labelled
    in-the-wild samples only, whose depths nothing else constrains; the lab samples keep their
    3D loss alone) or "lab" (the lab samples only, whose predicted depths the 3D loss keeps near
    the truth; docs/adversarial.md, round 8, says what it does). The loss is then a mean over those
    samples (twice each one's weight at the default half-lab minibatch). D trains as before, on
    fakes from both domains.
    conflict: what the generator update does where L_adv's gradient (with respect to the
    parameters it reaches) points against L_pose's: "add" (the paper: the gradient of Eq. 5 as
    it is) or "project" (that gradient's component along L_pose's gradient is removed when their
    dot product is negative, so that to first order L_adv cannot raise L_pose; gradient surgery,
    Yu et al. 2020, "PCGrad"): the pull of the critic is kept to the directions in which the
    labels of the minibatch do not say otherwise. The step then logs the two gradients' cosine
    before the projection (`adv_pose_cosine`), as it does with `adversarial_gradient: regressor`.
    symmetry_weight: a control beyond the paper, not adversarial: the weight of a hand-coded
    symmetry rule added to the generator's loss (`losses.symmetry_penalty`: the squared
    right-minus-left length of the six limb pairs of the predicted 3D pose, x, y by the heatmaps'
    soft-argmax and the depths, in heatmap pixels), on the samples `adversarial_samples` names,
    moving what `adversarial_gradient` names ("pose", "depth" or "heatmaps"; not "regressor").
    0: off (the paper). With `enabled: false` it is the rule alone, without a discriminator: a
    prior that knows exactly what a symmetric body is, to measure what symmetry costs or buys
    on a benchmark whatever a critic learns. Under `conflict: project` it counts with L_pose.
    """

    enabled: bool = True
    init: Literal["pretrain_depth", "pretrain_2d"] = "pretrain_depth"
    lambda_: float = setting(1e-4, minimum=0, key="lambda")
    lr_d: float = setting(1e-4, minimum=0)
    d_steps: int = setting(1, minimum=1)
    d_warmup: int = setting(0, minimum=0)
    adversarial_gradient: Literal["pose", "depth", "regressor", "heatmaps"] = "pose"
    fake_2d: Literal["predicted", "truth"] = "predicted"
    adversarial_samples: Literal["all", "wild", "lab"] = "all"
    conflict: Literal["add", "project"] = "add"
    symmetry_weight: float = setting(0.0, minimum=0)

    def __post_init__(self):
        if self.symmetry_weight > 0 and self.adversarial_gradient == "regressor":
            raise ValueError("symmetry_weight > 0 needs adversarial_gradient pose, depth or heatmaps (the rule "
                             "has no parameter-restricted form)")


# Offset of the D warm-up's data stream from the training seed (its own minibatches, so that the
# generator's are the Baseline's).
WARMUP_STREAM = 7919


def fake_selection(n_lab: int, n_wild: int, n_real: int) -> torch.Tensor:
    """Indices (into the lab+wild batch) of the n_real predictions shown to D as fakes.

    Half from each domain where possible, so that D sees wild predictions as often as lab ones.
    """
    from_wild = min(n_wild, n_real // 2)
    from_lab = min(n_lab, n_real - from_wild)
    from_wild = min(n_wild, n_real - from_lab)
    return torch.cat([torch.arange(from_lab), n_lab + torch.arange(from_wild)])


def adversarial(settings: AdversarialSettings, discriminator_settings: DiscriminatorSettings, run: TrainingRun,
                init_path: str | Path) -> dict[str, Any]:
    """Adversarial training from the model file `init_path` (for `settings.init`: pretrain_2d
    loads its 2D module only, under a fresh depth regressor); write the run's outputs and
    return the metrics. With `settings.enabled` false: the Baseline (no discriminator)."""
    setup = set_up_loop(run, settings)
    loss, outputs = run.loss, run.outputs
    enabled = settings.enabled
    lam = settings.lambda_ if enabled else 0.0
    d_set = discriminator_settings
    warmup = settings.d_warmup if enabled else 0     # D-only steps before the first G step

    generator = Generator.build(run.model)
    load_generator_weights(init_path, generator, only_2d=settings.init == "pretrain_2d")
    generator.to(setup.device)
    g_net = setup.wrap(generator)
    g_opt = torch.optim.RMSprop([p for p in generator.parameters() if p.requires_grad], lr=settings.lr)
    g_scaler = setup.grad_scaler()
    models, optimizers = {"generator": generator}, {"generator": g_opt}

    discriminator = d_net = d_opt = d_scaler = None
    if enabled:
        lab_set = setup.data["lab_train"]
        discriminator = MultiSourceDiscriminator.build(d_set, 16, lab_set.image_size,
                                                       lab_set.heatmap_size).to(setup.device)
        d_net = setup.wrap(discriminator)
        d_forward = compiled(discriminator, setup.compile)   # the G step's D: plain (no DDP: D is not updated)
        d_opt = torch.optim.Adam(discriminator.parameters(), lr=settings.lr_d, betas=(0.5, 0.999))
        d_scaler = setup.grad_scaler()
        models["discriminator"], optimizers["discriminator"] = discriminator, d_opt

    schedule = replace(settings, iterations=warmup + settings.iterations)   # what the session counts
    session = setup.session("adversarial", schedule, run)
    start = session.resume(models, optimizers)
    validate = setup.validator(generator, settings)
    batches = mixed_batches(setup.data["lab_train"], setup.data["wild_train"], settings, run.seed,
                            max(start - warmup, 0), setup.dist)
    warmup_batches = mixed_batches(setup.data["lab_train"], setup.data["wild_train"],
                                   replace(settings, iterations=max(warmup, 1)), run.seed + WARMUP_STREAM,
                                   min(start, warmup), setup.dist)
    n_lab, n_wild = split_batch(settings.batch_size, settings.lab_fraction)
    if enabled and n_lab == 0:
        raise ValueError("adversarial.lab_fraction is 0: the discriminator needs real (3D) samples")
    fakes = fake_selection(n_lab, n_wild, n_lab).to(setup.device)
    is_lab = torch.arange(n_lab + n_wild, device=setup.device) < n_lab
    # The samples L_adv (and the symmetry rule) judge in the generator step.
    judged = {"all": torch.ones_like(is_lab), "wild": ~is_lab, "lab": is_lab}[settings.adversarial_samples]
    if enabled:
        # Which of D's heads judges which sample (the image head only lab ones with image_samples: lab).
        real_mask = discriminator.head_mask(torch.ones(n_lab, dtype=torch.bool, device=setup.device),
                                            d_set.image_samples)
        fake_mask = discriminator.head_mask(fakes < n_lab, d_set.image_samples)
        g_mask = discriminator.head_mask(is_lab, d_set.image_samples) & judged[:, None]
    # adversarial_gradient: regressor: L_adv's gradient is taken for these parameters only.
    # conflict: project: L_adv's gradient is taken apart from L_pose's, for every parameter it can reach.
    adversarial_params = None
    if enabled and settings.adversarial_gradient == "regressor":
        adversarial_params = [p for p in generator.depth_regressor.parameters() if p.requires_grad]
    elif enabled and settings.conflict == "project":
        adversarial_params = [p for p in generator.parameters() if p.requires_grad]

    for step in range(start, warmup + settings.iterations):
        iteration = step - warmup             # the generator's iteration (negative in the D warm-up)
        with session.waiting_for_data():
            lab, wild = next(warmup_batches if iteration < 0 else batches)
        tic = time.perf_counter()
        batch = concat_batches(lab, wild, device=setup.device)
        images = normalize_images(batch["image"])
        # In the warm-up G is frozen: eval mode, so that its BatchNorm statistics stay the pretrained ones.
        generator.train(iteration >= 0)
        with autocast(setup.device, setup.amp), torch.set_grad_enabled(iteration >= 0):
            out = g_net(images)
        logs = {}

        if enabled:
            # 1. Discriminator: real lab poses against the generator's (detached) predictions.
            real = slice(0, n_lab)
            judged_heatmaps = fake_heatmaps_2d(out.heatmaps[-1].float(), batch, settings.fake_2d)
            fake_heatmaps, fake_depth = judged_heatmaps.detach()[fakes], out.depth.detach()[fakes]
            for _ in range(settings.d_steps):
                with autocast(setup.device, setup.amp):
                    real_inputs = discriminator.encode(images[real], batch["heatmaps"][real], batch["depth"][real])
                    fake_inputs = discriminator.encode(images[fakes], fake_heatmaps.float(), fake_depth.float())
                    real_logits = d_net(encoded=real_inputs)
                    fake_logits = d_net(encoded=fake_inputs)
                d_loss = discriminator_loss(real_logits, fake_logits, loss.reduction, d_set.objective,
                                            real_mask, fake_mask)
                if d_set.gradient_penalty > 0:
                    score = lambda inputs: d_net(encoded=inputs)   # noqa: E731
                    if d_set.objective == "bce":
                        penalty = r1_penalty(score, real_inputs, real_mask)
                    else:
                        # Interpolation points from a per-step stream, so that a resumed run draws the same ones.
                        points = torch.Generator().manual_seed(run.seed * 1_000_003 + step)
                        penalty = interpolation_penalty(score, real_inputs, fake_inputs, fake_mask, points)
                    d_loss = d_loss + d_set.gradient_penalty * penalty
                    logs["d_penalty"] = penalty.detach()
                session.check_finite(step, d_loss=d_loss)
                optimizer_step(d_opt, d_scaler, d_loss)
            logs.update(d_loss=d_loss.detach(), **critic_statistics(real_logits.detach(), fake_logits.detach(),
                                                                   real_mask, fake_mask, fakes < n_lab))

        if iteration >= 0:
            # 2. Generator: Eq. 5 on every sample of both domains; D is not stepped.
            set_learning_rate(g_opt, learning_rate(settings, iteration))
            p_loss = pose_loss(out.heatmaps, out.depth, batch["heatmaps"], batch["depth"],
                               joint_mask=batch["annotated"], has_3d=batch["has_3d"], reduction=loss.reduction,
                               depth_weight=loss.depth_weight)
            main_loss = p_loss.total        # what the generator minimises besides lambda x L_adv
            if settings.symmetry_weight > 0:
                rule = symmetry_penalty(rule_pose(out.heatmaps[-1].float(), out.depth.float(),
                                                  settings.adversarial_gradient), judged)
                main_loss = main_loss + settings.symmetry_weight * rule
                logs["symmetry_penalty"] = rule.detach()
            if enabled:
                # The plain module, not its DDP wrapper: D is not updated here, so nothing to sync.
                discriminator.requires_grad_(False)
                heatmaps, depth = judged_heatmaps, out.depth.float()
                if settings.adversarial_gradient in ("depth", "regressor"):
                    heatmaps = heatmaps.detach()      # the 2D joints get the pose loss only
                elif settings.adversarial_gradient == "heatmaps":
                    depth = depth.detach()            # the depths get the pose loss only
                with autocast(setup.device, setup.amp):
                    g_logits = d_forward(images, heatmaps, depth)
                g_loss = generator_loss(g_logits, main_loss, lam, loss.reduction, d_set.objective, g_mask)
                discriminator.requires_grad_(True)
                logs["g_adv"] = adversarial_loss(g_logits.detach(), loss.reduction, d_set.objective, g_mask)
                logs["adv_share"] = adversarial_share(lam, logs["g_adv"], p_loss.total.detach())
            else:
                g_loss = main_loss
            session.check_finite(step, g_loss=g_loss)
            if adversarial_params is None:
                optimizer_step(g_opt, g_scaler, g_loss)
            else:
                adv_term = lam * adversarial_loss(g_logits, loss.reduction, d_set.objective, g_mask)
                logs["adv_pose_cosine"] = split_optimizer_step(
                    g_opt, g_scaler, main_loss, adv_term, adversarial_params, setup.dist.enabled,
                    project_conflict=settings.conflict == "project")
            logs.update(g_loss=g_loss.detach(), loss_pose=p_loss.total.detach(), loss_depth=p_loss.depth.detach())
        session.log(step, logs, time.perf_counter() - tic, validate if iteration >= 0 else None)

    payload = model_payload(generator, run.model, "adversarial", settings.iterations,
                            setup.data["lab_train"].image_size, discriminator)
    metrics = session.finish(outputs.model_path, payload, outputs.metrics_path)
    setup.leave_process_group()
    return metrics


def split_optimizer_step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: torch.Tensor,
                         restricted_loss: torch.Tensor, restricted_to: list[torch.Tensor],
                         distributed: bool = False, project_conflict: bool = False) -> torch.Tensor:
    """One update on `loss + restricted_loss` in which `restricted_loss` moves only the parameters
    `restricted_to` (`adversarial_gradient: regressor`: L_adv trains the depth regressor, not
    the 2D module it reads; `conflict: project`: every trainable parameter). The restricted
    gradient is taken first with `torch.autograd.grad`, which leaves .grad and data-parallel hooks
    alone, averaged over the ranks when distributed, and added to the gradients of `loss` before
    the step. With `project_conflict`, where the two gradients (over `restricted_to`, as vectors)
    have a negative dot product, the restricted one loses its component along the other's first.
    Returns their cosine before any projection (0 where either is zero)."""
    optimizer.zero_grad(set_to_none=True)
    restricted = torch.autograd.grad(scaler.scale(restricted_loss), restricted_to, retain_graph=True,
                                     allow_unused=True)
    scaler.scale(loss).backward()
    pairs = []
    for param, grad in zip(restricted_to, restricted):
        if grad is None:
            continue
        if distributed:
            torch.distributed.all_reduce(grad)
            grad /= torch.distributed.get_world_size()
        pairs.append((param, grad))
    # The common loss scale cancels in the cosine and in the projection's coefficient.
    zero = torch.zeros((), device=loss.device)
    dot = sum(((g * p.grad).sum() for p, g in pairs if p.grad is not None), zero)
    main_sq = sum(((p.grad * p.grad).sum() for p, _ in pairs if p.grad is not None), zero)
    restricted_sq = sum(((g * g).sum() for _, g in pairs), zero)
    norms = (main_sq * restricted_sq).sqrt()
    cosine = torch.where(norms > 0, dot / norms.clamp_min(1e-30), zero)
    coefficient = dot / main_sq if project_conflict and dot < 0 and main_sq > 0 else None
    for param, grad in pairs:
        if coefficient is not None and param.grad is not None:
            grad = grad - coefficient * param.grad
        param.grad = grad if param.grad is None else param.grad + grad
    scaler.step(optimizer)
    scaler.update()
    return cosine.detach()


def rule_pose(heatmaps: torch.Tensor, depth: torch.Tensor, adversarial_gradient: str) -> torch.Tensor:
    """(B, P, 3) predicted pose that the symmetry rule judges: the soft-argmax of the last
    stack's heatmaps (B, P, H, W) and the depths (B, P), heatmap pixels, with the part that
    `adversarial_gradient` keeps out of the rule's reach detached ("depth": the 2D joints,
    "heatmaps": the depths)."""
    xy = soft_argmax(heatmaps.detach() if adversarial_gradient == "depth" else heatmaps)
    depth = depth.detach() if adversarial_gradient == "heatmaps" else depth
    return torch.cat([xy, depth[..., None]], dim=-1)


def fake_heatmaps_2d(predicted: torch.Tensor, batch: dict[str, torch.Tensor], fake_2d: str) -> torch.Tensor:
    """The heatmaps (B, P, H, W) that D sees for the generator's predictions: the predicted ones
    ("predicted", the paper), or ("truth") the batch's ground-truth heatmaps wherever a joint is
    annotated and the detached prediction where it is not, so that D judges the predicted depths
    of the true 2D pose and its gradient reaches the depths only."""
    if fake_2d == "predicted":
        return predicted
    annotated = batch["annotated"].to(torch.bool)[..., None, None]
    return torch.where(annotated, batch["heatmaps"].to(predicted.dtype), predicted.detach())


def critic_statistics(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_mask: torch.Tensor,
                      fake_mask: torch.Tensor, fake_is_lab: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the stage logs about D (device tensors): d_acc_real / d_acc_fake (shares of the real and
    fake samples every applicable head classifies right: logit > 0 is "real"; for a Wasserstein
    critic, whose scores have no fixed zero, read d_score_gap), d_acc_fake_lab / d_acc_fake_wild
    (the fakes by domain), and d_score_gap (mean real minus mean fake logit over the heads)."""
    real_right = torch.where(real_mask, real_logits > 0, True).all(dim=1).float()
    fake_right = torch.where(fake_mask, fake_logits < 0, True).all(dim=1).float()
    lab = fake_is_lab.float()
    gap = ((real_logits * real_mask).sum(0) / real_mask.sum(0).clamp_min(1)
           - (fake_logits * fake_mask).sum(0) / fake_mask.sum(0).clamp_min(1)).mean()
    return {"d_acc_real": real_right.mean(), "d_acc_fake": fake_right.mean(),
            "d_acc_fake_lab": (fake_right * lab).sum() / lab.sum().clamp_min(1),
            "d_acc_fake_wild": (fake_right * (1 - lab)).sum() / (1 - lab).sum().clamp_min(1),
            "d_score_gap": gap}
