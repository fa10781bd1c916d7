"""The paper's losses: L_pose (Eq. 2), L_D (Eq. 3) and L_G (Eq. 5).

Reduction. The paper writes every loss as a sum over the samples of the minibatch (and over
joints and heatmap pixels), but its lambda = 1e-4 (Eq. 5) and its learning rates were tuned
in code of the backbone's lineage (Zhou et al.'s pytorch-pose-hg-3d, branch hg3d, and
bearpaw/pytorch-pose), where the sums are means. Three reductions are offered, with the same
meaning in every function here:

- "backbone" (default): the reduction of that code, so that lambda = 1e-4 means what it
  meant there:
    heatmap term = for each stack, the mean squared error over all B x P x H x W heatmap
      elements (PyTorch's default `MSELoss`; unannotated joints count as zero error),
      summed over the stacks;
    depth term = depth_weight x the mean, over the annotated joints of the 3D samples, of
      the squared depth error in normalised units depth_px / (W / 2), W the heatmap side
      (about [-1, 1] on the heatmap grid; the code's `regWeight`, 0.1 in its recipe);
    classification terms = binary cross entropy averaged over the samples.
- "batch_mean": the paper's per-sample sums (over stacks, joints and pixels) averaged over
  the batch; the depth term in heatmap pixels, unweighted.
- "sum": the paper's sums, literally.

The balance of Eq. 5. With "backbone" at the paper's size (2 stacks of 16 x 64 x 64 maps)
the pose term is the "batch_mean" one divided by P x H x W = 65536 (16384 at the CPU
default's 32 x 32 maps), while L_adv stays a per-sample mean: lambda x L_adv is then of the
order of a tenth of L_pose when the discriminator wins, instead of 1e-5 of it under the
literal sums. "batch_mean" and "sum" give the same balance (both terms are divided by the
same B), so lambda has the same meaning in those two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from posegan.geometry import limb_asymmetry
from posegan.settings import setting


class Reduction(str, Enum):
    """How a loss is reduced over the minibatch (see the module docstring). A str, so that
    `Reduction.SUM == "sum"`; `Reduction("mean")` raises ValueError naming the choices."""

    BACKBONE = "backbone"
    BATCH_MEAN = "batch_mean"
    SUM = "sum"

    def __str__(self) -> str:       # the file's word in messages and logs, not "Reduction.SUM"
        return self.value

    @classmethod
    def _missing_(cls, value):
        raise ValueError(f"reduction must be one of {', '.join(m.value for m in cls)}, got {value!r}")



@dataclass(frozen=True)
class LossSettings:
    """How the training losses are reduced (see the module docstring).

    reduction: backbone | batch_mean | sum, checked (and turned into a Reduction) where the
    section is read. depth_weight: the depth term's weight under
    "backbone" (Zhou et al.'s regWeight); the other reductions are the paper's unweighted Eq. 2.
    """

    reduction: Reduction = Reduction.BACKBONE
    depth_weight: float = setting(0.1, minimum=0)

    def __post_init__(self):
        if not self.depth_weight >= 0:
            raise ValueError(f"loss.depth_weight must be a non-negative number, got {self.depth_weight!r}")


class PoseLoss(NamedTuple):
    """Eq. 2 and its two parts (scalars, reduced the same way): total = heatmap + depth."""

    total: Tensor
    heatmap: Tensor
    depth: Tensor


def _reduce(per_sample_sum: Tensor, count: int, reduction: Reduction) -> Tensor:
    """The sum ("sum") or the mean over `count` samples (otherwise)."""
    return per_sample_sum if reduction is Reduction.SUM else per_sample_sum / max(count, 1)


def pose_loss(pred_heatmaps: Sequence[Tensor] | Tensor, pred_depth: Tensor | None,
              target_heatmaps: Tensor, target_depth: Tensor | None = None,
              joint_mask: Tensor | None = None, has_3d: Tensor | None = None,
              reduction: Reduction | str = Reduction.BACKBONE, depth_weight: float = 0.1) -> PoseLoss:
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
    reduction: "backbone" (element means, depth normalised by half the heatmap side and
        weighted by depth_weight; see the module docstring), "batch_mean" (sums / B, B = all
        samples, 2D and 3D alike, so the two terms keep the proportions of Eq. 2) or "sum"
        (the paper's literal sums).
    depth_weight: the depth term's weight under "backbone" (ignored otherwise).
    Returns PoseLoss(total, heatmap, depth), scalars, computed in float32.
    """
    reduction = Reduction(reduction)    # a caller's string; ValueError naming the choices
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
        if reduction is Reduction.BACKBONE:
            half_side = target_heatmaps.shape[-1] / 2.0
            depth = depth_weight * depth / (half_side ** 2) / valid.sum().clamp(min=1)

    if reduction is Reduction.BACKBONE:
        heatmap = heatmap / target_heatmaps.numel()     # mean over B x P x H x W, per stack
    else:
        heatmap, depth = _reduce(heatmap, b, reduction), _reduce(depth, b, reduction)
    return PoseLoss(heatmap + depth, heatmap, depth)


def _bce(logits: Tensor, label: float) -> Tensor:
    """Per-sample binary cross entropy L_cls(sigmoid(logits), label), float32, numerically stable."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label), reduction="none")


OBJECTIVES = ("bce", "wasserstein")


def _heads(logits: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Logits as (N, K) (a 1-D tensor is one head) and the (N, K) float mask of the samples
    each head judges (all of them when mask is None)."""
    logits = logits.float()
    if logits.ndim == 1:
        logits = logits[:, None]
    if mask is None:
        return logits, torch.ones_like(logits)
    mask = mask.to(logits.device, torch.float32)
    if mask.ndim == 1:
        mask = mask[:, None]
    return logits, mask.expand_as(logits)


def _reduce_heads(terms: Tensor, mask: Tensor, reduction: Reduction | str) -> Tensor:
    """Sum over the heads of each head's sum ("sum") or mean (otherwise) over its samples.
    The one place the classification losses take `reduction` from their caller."""
    total = (terms * mask).sum(dim=0)
    if Reduction(reduction) is Reduction.SUM:     # a caller's string; ValueError naming the choices
        return total.sum()
    return (total / mask.sum(dim=0).clamp_min(1.0)).sum()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, reduction: Reduction | str = Reduction.BACKBONE,
                       objective: str = "bce", real_mask: Tensor | None = None,
                       fake_mask: Tensor | None = None) -> Tensor:
    """Eq. 3: real (ground-truth 3D) samples labelled 1, generated samples labelled 0.

    real_logits: (N_real,) or (N_real, K) raw logits, K heads (D's score is their sigmoid);
    fake_logits likewise. real_mask / fake_mask: (N, K) or (N,) bool, the samples each head
    judges (None: all). Each head's loss is computed on its own samples and the heads' losses
    add up. objective "bce" (the paper): "sum": sum_real L_cls(., 1) + sum_fake L_cls(., 0);
    "batch_mean" and "backbone": the mean over the real ones + the mean over the fake ones (=
    the sum / n when both halves hold n samples, the paper's half-real, half-fake minibatch).
    objective "wasserstein" (a critic, as RepNet trains it): mean fake score - mean real score
    (sums under "sum"); add `interpolation_penalty` to keep it 1-Lipschitz.
    """
    real, real_mask = _heads(real_logits, real_mask)
    fake, fake_mask = _heads(fake_logits, fake_mask)
    if objective == "bce":
        real_terms, fake_terms = _bce(real, 1.0), _bce(fake, 0.0)
    elif objective == "wasserstein":
        real_terms, fake_terms = -real, fake
    else:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return _reduce_heads(real_terms, real_mask, reduction) + _reduce_heads(fake_terms, fake_mask, reduction)


def adversarial_loss(fake_logits: Tensor, reduction: Reduction | str = Reduction.BACKBONE, objective: str = "bce",
                     mask: Tensor | None = None) -> Tensor:
    """Eq. 4: sum_n L_cls(D(I_n, E(G(I_n))), 1) over generated samples (the mean unless "sum"),
    summed over D's heads, each over the samples its `mask` gives it; "wasserstein": -score."""
    fake, mask = _heads(fake_logits, mask)
    if objective == "bce":
        terms = _bce(fake, 1.0)
    elif objective == "wasserstein":
        terms = -fake
    else:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return _reduce_heads(terms, mask, reduction)


def generator_loss(fake_logits: Tensor, pose_loss: Tensor | PoseLoss, lam: float = 1e-4,
                   reduction: Reduction | str = Reduction.BACKBONE, objective: str = "bce", mask: Tensor | None = None) -> Tensor:
    """Eq. 5: L_G = lam * L_adv + L_pose.

    fake_logits: (B,) or (B, K) D's logits on the generator's predictions for the same B
    samples the pose loss was computed on (mask: which head judges which sample). pose_loss:
    `pose_loss(...)` (or its .total) with the SAME reduction. lam: the paper's lambda (1e-4
    under "backbone"; see the module docstring).
    """
    total = pose_loss.total if isinstance(pose_loss, PoseLoss) else pose_loss
    return lam * adversarial_loss(fake_logits, reduction, objective, mask) + total


def adversarial_share(lam: float, adv_loss: Tensor | float, pose_loss_total: Tensor | float) -> Tensor | float:
    """lambda x L_adv / L_pose: how much of the generator's loss is adversarial (0 when L_pose is 0).

    A tensor (on the losses' device, computed without a host synchronisation) when either
    loss is one; a float for floats."""
    if isinstance(adv_loss, Tensor) or isinstance(pose_loss_total, Tensor):
        adv = torch.as_tensor(adv_loss).float()
        pose = torch.as_tensor(pose_loss_total, device=adv.device).float()
        return torch.where(pose > 0, lam * adv / pose.clamp_min(torch.finfo(torch.float32).tiny), torch.zeros_like(pose))
    pose = float(pose_loss_total)
    return lam * float(adv_loss) / pose if pose > 0 else 0.0


def symmetry_penalty(joints: Tensor, mask: Tensor | None = None) -> Tensor:
    """The hand-coded symmetry rule (`adversarial.symmetry_weight`, a control beyond the paper):
    for each pose the mean, over the six left/right bone pairs, of the squared difference of
    their lengths (`geometry.limb_asymmetry`), then the mean over the poses that `mask` (B,)
    selects (all when None; 0 when it selects none).

    joints: (B, P, 3) predicted poses, x, y and depth in one unit (heatmap pixels in the
    adversarial stage). Returns a scalar in that unit squared. Unlike a critic it knows exactly
    what a symmetric body is and nothing else about poses."""
    per_pose = limb_asymmetry(joints).square().mean(dim=-1)
    if mask is None:
        return per_pose.mean()
    mask = mask.to(per_pose.dtype)
    return (per_pose * mask).sum() / mask.sum().clamp_min(1)


def _head_gradient_norms(score: Callable[[dict[str, Tensor]], Tensor], inputs: dict[str, Tensor]) -> Tensor:
    """(N, K): the norm of each head's input gradient at each sample (a graph for double backprop)."""
    inputs = {k: v.detach().float().requires_grad_(True) for k, v in inputs.items()}
    logits = score(inputs)
    if logits.ndim == 1:
        logits = logits[:, None]
    norms = []
    for k in range(logits.shape[1]):
        grads = torch.autograd.grad(logits[:, k].sum(), list(inputs.values()), create_graph=True, allow_unused=True)
        squares = sum(g.flatten(1).square().sum(1) for g in grads if g is not None)
        norms.append((squares + 1e-12).sqrt())
    return torch.stack(norms, dim=1)


def r1_penalty(score: Callable[[dict[str, Tensor]], Tensor], real_inputs: dict[str, Tensor],
               mask: Tensor | None = None) -> Tensor:
    """R1 (Mescheder et al. 2018): 1/2 E_real |grad_x D(x)|^2 of each head, summed over heads.

    score: the discriminator's `score` (encoded inputs -> (N, K) logits); real_inputs: the
    encoded real samples. It keeps D's surface flat at the real poses, so that its gradient
    at a fake one points along the way to them rather than along whatever separates the two
    sets best (a BCE classifier left alone grows sharp walls)."""
    norms = _head_gradient_norms(score, real_inputs)
    _, mask = _heads(norms, mask)
    return _reduce_heads(0.5 * norms.square(), mask, "batch_mean")


def interpolation_penalty(score: Callable[[dict[str, Tensor]], Tensor], real_inputs: dict[str, Tensor],
                          fake_inputs: dict[str, Tensor], mask: Tensor | None = None,
                          generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E (|grad D(x_hat)| - 1)^2 at random points x_hat on the
    segments from real sample i to fake sample i (the same N of each), per head, summed over
    heads (mask: (N, K), the pairs each head judges)."""
    any_input = next(iter(real_inputs.values()))
    n = any_input.shape[0]
    eps = torch.rand(n, generator=generator, device="cpu").to(any_input.device)
    mixed = {k: torch.lerp(fake_inputs[k].detach().float(), v.detach().float(),
                           eps.view(-1, *[1] * (v.ndim - 1))) for k, v in real_inputs.items()}
    norms = _head_gradient_norms(score, mixed)
    _, mask = _heads(norms, mask)
    return _reduce_heads((norms - 1.0).square(), mask, "batch_mean")
