"""The paper's losses: L_pose (Eq. 2), L_D (Eq. 3) and L_G (Eq. 5).

Reduction. The paper writes every loss as a sum over the samples of the minibatch (and over
joints and heatmap pixels). Two reductions are offered, with the same meaning everywhere:

- "sum": the paper's sums, literally;
- "batch_mean" (default): those sums divided by the number of samples they run over, i.e.
  the per-sample sum (over stacks, joints and pixels) averaged over the batch.

Lambda (Eq. 5, paper: 1e-4). With the generator's pose loss and adversarial loss computed
on the same B samples,

    L_G(sum)  = lambda * sum_n L_cls(n) + sum_n L_pose(n)
    L_G(batch_mean) = L_G(sum) / B = lambda * mean_n L_cls(n) + mean_n L_pose(n)

so both terms are divided by the same B and the paper's lambda = 1e-4 keeps its meaning
unchanged in "batch_mean": the gradient has the same direction and is B times smaller
(Adam is invariant to that scale; with SGD multiply the learning rate by B to match).
For comparison: with PyTorch's default element-mean MSE (mean over B * P * H * W heatmap
pixels, as in most hourglass code) the pose term would be P * H * W = 16 * 64 * 64 = 65536
times smaller than per-sample sums at the paper's size, and lambda would have to shrink to
1e-4 / 65536 ~ 1.5e-9 to give the same balance. That is why this module never averages
over pixels or joints. Because the Gaussian targets have sigma 1 heatmap pixel, the
per-sample heatmap sum does not depend on the heatmap size, so lambda also carries over
to the smaller CPU configurations (the depth term, in heatmap pixels, scales with the
heatmap side: at 32 px maps it is a quarter of its value at 64 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

REDUCTIONS = ("batch_mean", "sum")


class PoseLoss(NamedTuple):
    """Eq. 2 and its two parts (scalars, reduced the same way): total = heatmap + depth."""

    total: Tensor
    heatmap: Tensor
    depth: Tensor


def _reduce(per_sample_sum: Tensor, count: int, reduction: str) -> Tensor:
    if reduction == "sum":
        return per_sample_sum
    if reduction == "batch_mean":
        return per_sample_sum / max(count, 1)
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def pose_loss(pred_heatmaps: Sequence[Tensor] | Tensor, pred_depth: Tensor | None,
              target_heatmaps: Tensor, target_depth: Tensor | None = None,
              joint_mask: Tensor | None = None, has_3d: Tensor | None = None,
              reduction: str = "batch_mean") -> PoseLoss:
    """Eq. 2: squared heatmap error of every sample and stack + squared depth error of 3D samples.

    pred_heatmaps: one (B, P, H, W) tensor or a list of them, one per stack; every stack is
        supervised against the same target (intermediate supervision) and the errors add up.
    pred_depth: (B, P) heatmap pixels, or None (2D-only training: no depth term).
    target_heatmaps: (B, P, H, W) Gaussian targets.
    target_depth: (B, P) heatmap pixels; may hold NaN where there is no 3D label.
    joint_mask: (B, P) bool (or 0/1 float), True where the joint is annotated; masked joints
        contribute to neither term. None: all joints.
    has_3d: (B,) bool, True for samples with 3D labels (N_3D); None: derived from whether
        target_depth is finite for the joint. The depth term counts a joint only where
        has_3d, joint_mask and a finite target all hold.
    reduction: "batch_mean" (sums / B, B = all samples, 2D and 3D alike, so the two terms
        keep the proportions of Eq. 2) or "sum" (the paper's literal sums).
    Returns PoseLoss(total, heatmap, depth), scalars, computed in float32.
    """
    if isinstance(pred_heatmaps, Tensor):
        pred_heatmaps = [pred_heatmaps]
    if len(pred_heatmaps) == 0:
        raise ValueError("pose_loss: pred_heatmaps is empty")
    target_heatmaps = target_heatmaps.float()
    b, p = target_heatmaps.shape[:2]
    for i, pred in enumerate(pred_heatmaps):
        if pred.shape != target_heatmaps.shape:
            raise ValueError(f"pose_loss: heatmaps of stack {i} are {tuple(pred.shape)}, "
                             f"targets are {tuple(target_heatmaps.shape)}")
    mask = (torch.ones(b, p, device=target_heatmaps.device) if joint_mask is None
            else joint_mask.to(target_heatmaps.device, torch.float32))
    if mask.shape != (b, p):
        raise ValueError(f"pose_loss: joint_mask must be ({b}, {p}), got {tuple(mask.shape)}")

    heatmap = sum(((pred.float() - target_heatmaps).square().sum(dim=(-2, -1)) * mask).sum()
                  for pred in pred_heatmaps)

    depth = target_heatmaps.new_zeros(())
    if pred_depth is not None and target_depth is not None:
        if pred_depth.shape != (b, p) or target_depth.shape != (b, p):
            raise ValueError(f"pose_loss: pred_depth and target_depth must be ({b}, {p}), got "
                             f"{tuple(pred_depth.shape)} and {tuple(target_depth.shape)}")
        target_depth = target_depth.to(target_heatmaps.device, torch.float32)
        valid = torch.isfinite(target_depth) & (mask > 0)
        if has_3d is not None:
            if has_3d.shape != (b,):
                raise ValueError(f"pose_loss: has_3d must be ({b},), got {tuple(has_3d.shape)}")
            valid = valid & has_3d.to(valid.device, torch.bool)[:, None]
        # where(), not multiplication, so NaN targets give neither NaN values nor NaN gradients.
        error = torch.where(valid, pred_depth.float() - torch.where(valid, target_depth, 0.0), 0.0)
        depth = (error.square() * mask).sum()

    heatmap, depth = _reduce(heatmap, b, reduction), _reduce(depth, b, reduction)
    return PoseLoss(heatmap + depth, heatmap, depth)


def _bce(logits: Tensor, label: float) -> Tensor:
    """Per-sample binary cross entropy L_cls(sigmoid(logits), label), float32, numerically stable."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label), reduction="none")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, reduction: str = "batch_mean") -> Tensor:
    """Eq. 3: real (ground-truth 3D) samples labelled 1, generated samples labelled 0.

    real_logits: (N_real,), fake_logits: (N_fake,) raw logits (D's score is their sigmoid).
    "sum": sum_real L_cls(., 1) + sum_fake L_cls(., 0);
    "batch_mean": mean over the real ones + mean over the fake ones (= the sum / n when
    both halves hold n samples, the paper's half-real, half-fake minibatch).
    """
    real, fake = _bce(real_logits, 1.0), _bce(fake_logits, 0.0)
    return _reduce(real.sum(), real.numel(), reduction) + _reduce(fake.sum(), fake.numel(), reduction)


def adversarial_loss(fake_logits: Tensor, reduction: str = "batch_mean") -> Tensor:
    """Eq. 4: sum_n L_cls(D(I_n, E(G(I_n))), 1) over generated samples (mean for "batch_mean")."""
    fake = _bce(fake_logits, 1.0)
    return _reduce(fake.sum(), fake.numel(), reduction)


def generator_loss(fake_logits: Tensor, pose_loss: Tensor | PoseLoss, lam: float = 1e-4,
                   reduction: str = "batch_mean") -> Tensor:
    """Eq. 5: L_G = lam * L_adv + L_pose.

    fake_logits: (B,) D's logits on the generator's predictions for the same B samples the
    pose loss was computed on. pose_loss: `pose_loss(...)` (or its .total) with the SAME
    reduction. lam: the paper's lambda (1e-4); see the module docstring for why it needs no
    rescaling under "batch_mean".
    """
    total = pose_loss.total if isinstance(pose_loss, PoseLoss) else pose_loss
    return lam * adversarial_loss(fake_logits, reduction) + total
