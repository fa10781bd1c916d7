import math

import pytest
import torch

from posegan.losses import (LossSettings, PoseLoss, Reduction, adversarial_loss, adversarial_share,
                            discriminator_loss, generator_loss, pose_loss)
from posegan.settings import ParamsError, build


def hand_case():
    """B = 2 samples, P = 2 joints, 2 x 2 heatmaps, 2 stacks; sample 0 has 3D, sample 1 not."""
    target = torch.zeros(2, 2, 2, 2)
    target[:, :, 0, 0] = 1.0
    stack1 = torch.zeros(2, 2, 2, 2)          # error 1 (the missed peak) on every map
    stack2 = target.clone()
    stack2[0, 0, 1, 1] = 2.0                   # error 4 on (sample 0, joint 0)
    stack2[1, 1, 0, 1] = 3.0                   # error 9 on (sample 1, joint 1), not annotated
    pred_depth = torch.tensor([[1.0, 2.0], [5.0, 5.0]])
    target_depth = torch.tensor([[0.0, 4.0], [float("nan"), float("nan")]])
    joint_mask = torch.tensor([[True, True], [True, False]])
    has_3d = torch.tensor([True, False])
    return [stack1, stack2], pred_depth, target, target_depth, joint_mask, has_3d


def test_pose_loss_hand_values():
    heatmaps, pred_depth, target, target_depth, joint_mask, has_3d = hand_case()
    loss = pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask, has_3d, reduction="sum")
    assert isinstance(loss, PoseLoss)
    # Heatmaps: stack 1 misses 3 annotated maps by 1 each = 3; stack 2 errs 4 on (0, 0),
    # and its 9 on (1, 1) is masked: total 7.
    assert loss.heatmap.item() == pytest.approx(7.0)
    # Depth: only sample 0 has 3D: (1 - 0)^2 + (2 - 4)^2 = 5.
    assert loss.depth.item() == pytest.approx(5.0)
    assert loss.total.item() == pytest.approx(12.0)
    mean = pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask, has_3d, reduction="batch_mean")
    # batch_mean divides both terms by all B = 2 samples, 3D or not.
    assert (mean.heatmap.item(), mean.depth.item(), mean.total.item()) == pytest.approx((3.5, 2.5, 6.0))


def test_pose_loss_backbone_reduction_hand_values():
    """The backbone's code: element-mean MSE per stack, summed; depth / (W/2), mean over 3D joints, x weight."""
    heatmaps, pred_depth, target, target_depth, joint_mask, has_3d = hand_case()
    loss = pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask, has_3d)   # the default
    # B x P x H x W = 16 elements per stack: stack 1 errs 3 (annotated maps), stack 2 errs 4.
    assert loss.heatmap.item() == pytest.approx(3 / 16 + 4 / 16)
    # W = 2, so depths are divided by 1; sample 0's two joints: (1 + 4) / 2 joints x 0.1.
    assert loss.depth.item() == pytest.approx(0.1 * 5 / 2)
    assert loss.total.item() == pytest.approx(7 / 16 + 0.25)
    weighted = pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask, has_3d, depth_weight=1.0)
    assert weighted.depth.item() == pytest.approx(2.5)
    # 4 x 4 maps: W / 2 = 2, so a depth error of 2 heatmap pixels is 1 normalised unit.
    depth = pose_loss(torch.zeros(1, 1, 4, 4), torch.tensor([[2.0]]), torch.zeros(1, 1, 4, 4),
                      torch.tensor([[0.0]]), depth_weight=1.0)
    assert depth.depth.item() == pytest.approx(1.0) and depth.heatmap.item() == 0.0
    # No 3D sample at all: no depth term, no NaN.
    none = pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask, torch.tensor([False, False]))
    assert none.depth.item() == 0.0


def test_loss_settings_are_checked():
    assert LossSettings() == LossSettings(Reduction.BACKBONE, 0.1)
    read = build(LossSettings, {"reduction": "sum", "depth_weight": 0.1}, "loss", "params.yaml")
    assert read.reduction is Reduction.SUM       # parsed once, into the type the losses use
    with pytest.raises(ParamsError, match="loss.reduction must be one of backbone, batch_mean, sum, got 'mean'"):
        build(LossSettings, {"reduction": "mean", "depth_weight": 0.1}, "loss", "params.yaml")
    with pytest.raises(ValueError, match="loss.depth_weight"):
        LossSettings(Reduction.BACKBONE, -1.0)


def test_reduction_from_a_library_caller():
    assert Reduction("batch_mean") is Reduction.BATCH_MEAN and Reduction.SUM == "sum"
    assert f"{Reduction.SUM}" == str(Reduction.SUM) == "sum"
    with pytest.raises(ValueError, match="reduction must be one of backbone, batch_mean, sum, got 'mean'"):
        Reduction("mean")
    with pytest.raises(ValueError, match="reduction must be one of"):
        adversarial_loss(torch.zeros(2), reduction="mean")


def test_lambda_balance_hand_case():
    """lambda x L_adv against L_pose on a case worked by hand, in the backbone's units."""
    pred = torch.zeros(1, 1, 4, 4)
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1, 2] = 1.0                                   # one missed peak: 1 / 16 elements
    loss = pose_loss([pred], torch.tensor([[2.0]]), target, torch.tensor([[0.0]]))
    assert loss.total.item() == pytest.approx(1 / 16 + 0.1 * 1.0)   # 0.1625
    fake = torch.zeros(1)                                      # D undecided: L_adv = log 2
    total = generator_loss(fake, loss, lam=1e-4)
    assert total.item() == pytest.approx(1e-4 * math.log(2) + 0.1625, rel=1e-6)
    assert adversarial_share(1e-4, adversarial_loss(fake), loss.total) == pytest.approx(1e-4 * math.log(2) / 0.1625)
    # The same case under the literal sums: L_pose = 1 + 4 = 5, so lambda weighs 30 times less.
    summed = pose_loss([pred], torch.tensor([[2.0]]), target, torch.tensor([[0.0]]), reduction="sum")
    assert summed.total.item() == pytest.approx(5.0)
    assert adversarial_share(1.0, 2.0, 0.0) == 0.0


def test_pose_loss_masks_and_nan_targets_give_finite_gradients():
    heatmaps, pred_depth, target, target_depth, joint_mask, has_3d = hand_case()
    pred_depth.requires_grad_(True)
    loss = pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask, has_3d, reduction="batch_mean")
    loss.total.backward()
    assert torch.isfinite(pred_depth.grad).all()
    # d/dz of (z - t)^2 / B: 2 * (1 - 0) / 2 = 1 and 2 * (2 - 4) / 2 = -2; sample 1 gets nothing.
    torch.testing.assert_close(pred_depth.grad, torch.tensor([[1.0, -2.0], [0.0, 0.0]]))
    # Without has_3d a finite target counts; a NaN target never does.
    partial = target_depth.clone()
    partial[1, 0] = 3.0
    loss = pose_loss(heatmaps, pred_depth.detach(), target, partial, joint_mask, None, reduction="sum")
    assert loss.depth.item() == pytest.approx(5.0 + 4.0)


def test_pose_loss_without_depth_and_single_tensor():
    heatmaps, _, target, _, _, _ = hand_case()
    loss = pose_loss(heatmaps[0], None, target, reduction="sum")
    assert loss.heatmap.item() == pytest.approx(4.0)    # 4 maps, each misses its peak by 1
    assert loss.depth.item() == 0.0 and loss.total.item() == pytest.approx(4.0)


def test_pose_loss_rejects_bad_input():
    heatmaps, pred_depth, target, target_depth, joint_mask, has_3d = hand_case()
    with pytest.raises(ValueError, match="stack 1"):
        pose_loss([heatmaps[0], heatmaps[1][:, :1]], pred_depth, target)
    with pytest.raises(ValueError, match="joint_mask"):
        pose_loss(heatmaps, pred_depth, target, target_depth, joint_mask[:, :1])
    with pytest.raises(ValueError, match="reduction"):
        pose_loss(heatmaps, pred_depth, target, reduction="mean")
    with pytest.raises(ValueError, match="empty"):
        pose_loss([], pred_depth, target)


def test_discriminator_loss_hand_values():
    log2 = math.log(2.0)
    zero = torch.zeros(3)
    # Logit 0 -> score 0.5 -> L_cls = log 2 for either label.
    assert discriminator_loss(zero, torch.zeros(3), "sum").item() == pytest.approx(6 * log2)
    assert discriminator_loss(zero, torch.zeros(3)).item() == pytest.approx(2 * log2)
    # Real logit 2: -log sigmoid(2); fake logit 1: -log(1 - sigmoid(1)) = log(1 + e).
    real, fake = torch.tensor([2.0]), torch.tensor([1.0])
    expected = -math.log(1 / (1 + math.exp(-2.0))) + math.log(1 + math.e)
    assert discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)
    # From logits, stable where a sigmoid would saturate.
    assert math.isfinite(discriminator_loss(torch.tensor([-200.0]), torch.tensor([200.0])).item())


def test_generator_loss_is_lambda_times_adversarial_plus_pose():
    fake = torch.tensor([0.0, 2.0])
    adv = (math.log(2.0) + math.log(1 + math.exp(-2.0))) / 2        # mean of -log sigmoid(logit)
    assert adversarial_loss(fake).item() == pytest.approx(adv, rel=1e-6)
    assert adversarial_loss(fake, "sum").item() == pytest.approx(2 * adv, rel=1e-6)
    pose = torch.tensor(3.0)
    assert generator_loss(fake, pose, lam=0.5).item() == pytest.approx(0.5 * adv + 3.0, rel=1e-6)
    assert generator_loss(fake, pose).item() == pytest.approx(1e-4 * adv + 3.0, rel=1e-6)
    pl = PoseLoss(pose, pose - 1, torch.tensor(1.0))
    assert generator_loss(fake, pl, lam=0.5).item() == pytest.approx(0.5 * adv + 3.0, rel=1e-6)


def test_batch_mean_keeps_the_papers_lambda():
    """Eq. 5 with sums, divided by B, is Eq. 5 with batch means and the same lambda."""
    gen = torch.Generator().manual_seed(0)
    b = 6
    heatmaps = [torch.rand(b, 16, 8, 8, generator=gen) for _ in range(2)]
    target = torch.rand(b, 16, 8, 8, generator=gen)
    depth, target_depth = torch.randn(b, 16, generator=gen), torch.randn(b, 16, generator=gen)
    fake_logits = torch.randn(b, generator=gen)
    summed = generator_loss(fake_logits, pose_loss(heatmaps, depth, target, target_depth, reduction="sum"),
                            1e-4, reduction="sum")
    mean = generator_loss(fake_logits, pose_loss(heatmaps, depth, target, target_depth, reduction="batch_mean"), 1e-4,
                          reduction="batch_mean")
    assert mean.item() == pytest.approx(summed.item() / b, rel=1e-6)


def test_symmetry_penalty_worked_by_hand():
    """The pose of test_limb_asymmetry_worked_by_hand has asymmetries (3, 0, 0, 0, 2, -2): mean
    square (9 + 4 + 4) / 6; a symmetric pose has 0. The mean is over the poses the mask selects."""
    from posegan.losses import symmetry_penalty
    from posegan.skeleton import FLIP_PAIRS

    skewed = torch.zeros(16, 3)
    skewed[:, 2] = 2.0 * torch.arange(16)
    skewed[0] = skewed[1] + torch.tensor([3.0, 4.0, 0.0])
    symmetric = torch.randn(16, 3)
    for r, l in FLIP_PAIRS:
        symmetric[l] = symmetric[r] * torch.tensor([-1.0, 1.0, 1.0])
    symmetric[[6, 7, 8, 9], 0] = 0.0
    poses = torch.stack([skewed, symmetric])
    assert float(symmetry_penalty(poses)) == pytest.approx(17 / 6 / 2, rel=1e-5)
    assert float(symmetry_penalty(poses, torch.tensor([True, False]))) == pytest.approx(17 / 6, rel=1e-5)
    assert float(symmetry_penalty(poses, torch.tensor([False, True]))) == pytest.approx(0.0, abs=1e-6)
    assert float(symmetry_penalty(poses, torch.tensor([False, False]))) == 0.0
    # its gradient shortens the long right shin: the ankle moves towards the knee
    skewed.requires_grad_(True)
    symmetry_penalty(skewed[None]).backward()
    direction = skewed.detach()[0] - skewed.detach()[1]
    assert float(skewed.grad[0] @ direction) > 0      # descent (minus the gradient) points back along the shin
