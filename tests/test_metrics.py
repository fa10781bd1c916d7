from pathlib import Path

import numpy as np
import pytest

from posegan import metrics as m
from posegan.skeleton import JOINT_NAMES

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "mpii"


def random_rotations(rng, n):
    """(n, 3, 3) proper rotations (det +1) from QR of Gaussian matrices."""
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q


def random_poses(rng, n):
    """(n, 16, 3) mm, a person-sized cloud around a root 4 m in front of the camera."""
    poses = rng.normal(scale=300.0, size=(n, 16, 3))
    poses[:, :, 2] += 4000.0
    return poses


# --------------------------------------------------------------------------- Protocol #1

def test_mpjpe_hand_case_subtracts_each_poses_root():
    gt = np.zeros((2, 16, 3))
    pred = np.zeros((2, 16, 3))
    # Sample 0: every joint moved by (10, 0, 0), so the root too; r_ankle also by (0, 30, 40).
    # Root-centred, only r_ankle is off: |(0, 30, 40)| = 50 mm, so 50 / 16 = 3.125 mm.
    pred[0] += [10.0, 0.0, 0.0]
    pred[0, 0] += [0.0, 30.0, 40.0]
    # Sample 1: a pure translation, 0 mm once root-centred.
    pred[1] += [-500.0, 20.0, 3000.0]
    assert m.mpjpe(pred, gt) == pytest.approx((3.125 + 0.0) / 2)
    errors = m.joint_errors(pred, gt)
    assert errors.shape == (2, 16)
    assert errors[0, 0] == pytest.approx(50.0) and errors[0, 1:].max() == pytest.approx(0.0)
    # Without root centring sample 0 is off by 10 mm at 15 joints and |(10,30,40)| = 50.99 at one;
    # sample 1 by |(-500, 20, 3000)| = 3041.447 mm everywhere.
    expected = ((15 * 10.0 + np.sqrt(10**2 + 30**2 + 40**2)) / 16 + np.sqrt(500**2 + 20**2 + 3000**2)) / 2
    assert m.mpjpe(pred, gt, root=None) == pytest.approx(expected)
    assert type(m.mpjpe(pred, gt)) is float


def test_per_joint_and_per_limb_breakdowns():
    # Joint j has error j^2 mm in every sample.
    errors = np.tile(np.arange(16.0) ** 2, (3, 1))
    joints = m.per_joint(errors)
    assert list(joints) == JOINT_NAMES
    assert joints["l_wrist"] == 225.0 and joints["pelvis"] == 36.0
    limbs = m.per_limb(errors)
    # Upper arms: elbows 11, 14 -> (121 + 196) / 2; lower arms: wrists 10, 15 -> (100 + 225) / 2;
    # upper legs: knees 1, 4 -> (1 + 16) / 2; lower legs: ankles 0, 5 -> (0 + 25) / 2;
    # mean: all 16 joints (the paper's Mean column), sum j^2 for j < 16 = 1240, / 16 = 77.5.
    assert limbs == {"upper_arms": 158.5, "lower_arms": 162.5, "upper_legs": 8.5,
                     "lower_legs": 12.5, "mean": 77.5}
    with pytest.raises(ValueError, match=r"errors: expected .*\(N>0, 16\)"):
        m.per_limb(np.zeros((3, 17)))


def test_group_mean_per_action():
    values = np.array([1.0, 2.0, 3.0, 10.0])
    labels = np.array([0, 0, 2, 2])
    # a: (1 + 2) / 2; b: no samples, left out; c: (3 + 10) / 2.
    assert m.group_mean(values, labels, ["a", "b", "c"]) == {"a": 1.5, "c": 6.5}
    with pytest.raises(ValueError, match="labels: expected ids in"):
        m.group_mean(values, np.array([0, -1, 1, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="equal shapes"):
        m.group_mean(values, labels[:3], ["a", "b", "c"])


# --------------------------------------------------------------------------- Protocol #2

def test_p_mpjpe_hand_case_on_a_line():
    # gt: joints 0-7 at x = -100, joints 8-15 at x = +100 (centroid 0).
    gt = np.zeros((1, 16, 3))
    gt[0, :8, 0], gt[0, 8:, 0] = -100.0, 100.0
    # pred: x = -100 (8 joints), 0 (4 joints), 200 (4 joints); centroid (-800 + 800) / 16 = 0.
    pred = np.zeros((1, 16, 3))
    pred[0, :8, 0], pred[0, 8:12, 0], pred[0, 12:, 0] = -100.0, 0.0, 200.0
    # Best scale s = <pred, gt> / |pred|^2 = (8*100^2 + 4*200*100) / (8*100^2 + 4*200^2) = 16/24 = 2/3,
    # so pred becomes -66.7 (err 33.3 x 8), 0 (err 100 x 4), 133.3 (err 33.3 x 4):
    # (8 * 100/3 + 4 * 100 + 4 * 100/3) / 16 = 50 mm.
    assert m.p_mpjpe(pred, gt) == pytest.approx(50.0)
    # Rotating, scaling and moving the prediction changes nothing.
    rotation = random_rotations(np.random.default_rng(0), 1)[0]
    assert m.p_mpjpe(3.0 * pred @ rotation + [5.0, -7.0, 900.0], gt) == pytest.approx(50.0)
    # A prediction collapsed to one point aligns to gt's centroid: every joint 100 mm off.
    assert m.p_mpjpe(np.full((1, 16, 3), 42.0), gt) == pytest.approx(100.0)


def test_p_mpjpe_is_invariant_to_a_similarity_of_the_prediction():
    rng = np.random.default_rng(1)
    gt = random_poses(rng, 64)
    pred = gt + rng.normal(scale=40.0, size=gt.shape)
    before = m.p_joint_errors(pred, gt)
    scale = rng.uniform(0.2, 5.0, size=(64, 1, 1))
    moved = scale * pred @ random_rotations(rng, 64) + rng.normal(scale=1000.0, size=(64, 1, 3))
    np.testing.assert_allclose(m.p_joint_errors(moved, gt), before, rtol=1e-9, atol=1e-8)
    assert m.p_mpjpe(moved, gt) == pytest.approx(m.p_mpjpe(pred, gt))
    assert m.mpjpe(moved, gt) > 2 * m.mpjpe(pred, gt)  # Protocol #1 does see the transform
    # The ground truth under a similarity aligns exactly.
    exact = scale * gt @ random_rotations(rng, 64) + 100.0
    assert m.p_mpjpe(exact, gt) == pytest.approx(0.0, abs=1e-8)


def test_procrustes_matches_an_independent_per_sample_solution():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(2)
    gt = random_poses(rng, 5)
    pred = 0.8 * gt + rng.normal(scale=80.0, size=gt.shape)
    aligned = m.procrustes_align(pred, gt)
    for i in range(5):  # one sample at a time: Kabsch from scipy (rotations only), then the scale
        p0, g0 = pred[i] - pred[i].mean(0), gt[i] - gt[i].mean(0)
        rotation, _ = Rotation.align_vectors(g0, p0)
        rotated = rotation.apply(p0)
        scale = (rotated * g0).sum() / (p0**2).sum()
        np.testing.assert_allclose(aligned[i], scale * rotated + gt[i].mean(0), atol=1e-6)


def test_a_reflected_prediction_is_not_aligned_by_a_reflection():
    rng = np.random.default_rng(3)
    gt = random_poses(rng, 8)
    mirrored = gt * [-1.0, 1.0, 1.0]  # x -> -x: a reflection, not a rotation
    error = m.p_joint_errors(mirrored, gt)
    assert error.mean(axis=1).min() > 50.0  # no proper similarity undoes it

    # An alignment that allowed reflections would undo it exactly (checked here with plain
    # orthogonal Procrustes), so the exclusion is what keeps the error above zero.
    p0, g0 = mirrored - mirrored.mean(1, keepdims=True), gt - gt.mean(1, keepdims=True)
    u, s, vt = np.linalg.svd(p0.transpose(0, 2, 1) @ g0)
    reflecting = p0 @ (u @ vt) * (s.sum(1) / (p0**2).sum((1, 2)))[:, None, None]
    np.testing.assert_allclose(reflecting, g0, atol=1e-6)


# --------------------------------------------------------------------------- 3D PCK / AUC

def test_pck3d_is_strict_at_the_threshold():
    gt = np.zeros((1, 16, 3))
    pred = np.zeros((1, 16, 3))
    pred[0, 0:3, 0] = 150.0  # exactly at 150 mm: not counted (strict <)
    pred[0, 3, 1] = 149.0    # just inside
    # 14 scored joints (all but pelvis 6 and thorax 7): 11 of 14 correct = 78.571 %.
    assert m.pck3d(pred, gt) == pytest.approx(100.0 * 11 / 14)
    assert m.pck3d(pred, gt, threshold=150.001) == pytest.approx(100.0)
    # Over all 16 joints: 13 of 16 = 81.25 %.
    assert m.pck3d(pred, gt, joints=range(16)) == pytest.approx(81.25)
    # Root-centred: moving the whole pose changes nothing.
    assert m.pck3d(pred + [0.0, 0.0, 5000.0], gt) == pytest.approx(100.0 * 11 / 14)


def test_auc3d_hand_case():
    assert len(m.AUC_THRESHOLDS_MM) == 31 and m.AUC_THRESHOLDS_MM[-1] == 150.0
    gt = np.zeros((1, 16, 3))
    # A perfect prediction is counted at every threshold but 0 (0 < 0 is false): 30/31.
    assert m.auc3d(gt, gt) == pytest.approx(100.0 * 30 / 31)
    pred = np.zeros((1, 16, 3))
    scored = m.PCK3D_JOINTS
    pred[0, scored[:7], 2] = 12.0   # 7 joints at 12 mm: inside from 15 mm on, 28 thresholds (15..150)
    pred[0, scored[7:], 2] = 100.0  # 7 joints at 100 mm: inside from 105 mm on, 10 thresholds
    # PCK is 50 % per joint half: (28 * 50 + 10 * 50) / 31 = 1900 / 31 = 61.29 %.
    assert m.auc3d(pred, gt) == pytest.approx(1900.0 / 31)
    np.testing.assert_allclose(m.auc3d_per_sample(pred, gt), [1900.0 / 31])


def test_pck_auc_by_group_pools_the_total():
    gt = np.zeros((3, 16, 3))
    pred = np.zeros((3, 16, 3))
    pred[1, :, 0] = 200.0  # every joint of sample 1 200 mm off, the root included ...
    labels = np.array([0, 1, 1])
    result = m.pck_auc_by_group(pred, gt, labels, ["walk", "sit"], root=None)  # ... so not root-centred
    # walk: 100 % PCK; sit: samples at 0 % and 100 % -> 50 %; total (0 + 100 + 100) / 3.
    assert result["PCK"] == pytest.approx({"walk": 100.0, "sit": 50.0, "total": 200.0 / 3})
    perfect = 100.0 * 30 / 31
    assert result["AUC"] == pytest.approx({"walk": perfect, "sit": perfect / 2, "total": 2 * perfect / 3})
    # Root-centred (the default), sample 1 is perfect again.
    assert m.pck_auc_by_group(pred, gt, labels, ["walk", "sit"])["PCK"]["sit"] == 100.0
    assert m.group_mean(np.array([]), np.array([]), ["walk"]) == {}


# --------------------------------------------------------------------------- PCKh

def test_pckh_hand_case():
    gt = np.zeros((2, 16, 2))
    pred = np.zeros((2, 16, 2))
    head_size = np.array([10.0, 20.0])  # threshold 0.5 -> 5 px and 10 px
    annotated = np.ones((2, 16), bool)
    pred[0, 9] = [3.0, 4.0]      # head top 5 px off in sample 0: at the threshold, wrong (strict <)
    pred[0, 12] = [4.9, 0.0]     # r_shoulder 4.9 px: right
    pred[0, 0] = [30.0, 0.0]     # r_ankle: wrong
    pred[1, 9] = [0.0, 5.0]      # head top 5 px in sample 1 (10 px allowed): right
    pred[1, 13] = [6.0, 8.0]     # l_shoulder 10 px: wrong
    pred[1, 5] = [30.0, 0.0]     # l_ankle: wrong
    pred[1, 6] = [1000.0, 0.0]   # pelvis: wrong, but not in any part nor in the mean
    annotated[1, 0] = False      # r_ankle of sample 1 not annotated: ignored, even with NaN gt
    gt[1, 0] = np.nan
    pred[1, 0] = [1000.0, 0.0]
    per_joint = m.pckh_per_joint(pred, gt, head_size, annotated)
    assert per_joint[0] == 0.0 and per_joint[6] == 50.0 and per_joint[9] == 50.0
    result = m.pckh(pred, gt, head_size, annotated)
    # Head: 1 of 2. Shoulder: r 2/2, l 1/2 -> (100 + 50) / 2. Ankle: r 0/1, l 1/2 -> (0 + 50) / 2.
    # Mean over the 14 joints but pelvis/thorax: 14 * 100 - 100 (r_ankle) - 50 (l_ankle)
    # - 50 (head top) - 50 (l_shoulder) = 1150, / 14 = 82.143.
    assert result == pytest.approx({"Head": 50.0, "Shoulder": 75.0, "Elbow": 100.0, "Wrist": 100.0,
                                    "Hip": 100.0, "Knee": 100.0, "Ankle": 25.0, "mean": 1150.0 / 14})
    # A larger threshold accepts the 5 px head top of sample 0.
    assert m.pckh(pred, gt, head_size, annotated, threshold=0.51)["Head"] == 100.0


def test_metrics_reject_bad_input_with_clear_messages():
    poses = np.zeros((4, 16, 3))
    with pytest.raises(ValueError, match="shapes differ"):
        m.mpjpe(poses, np.zeros((5, 16, 3)))
    with pytest.raises(ValueError, match="gt: expected 16 joints"):
        m.p_mpjpe(poses, np.zeros((4, 17, 3)))
    with pytest.raises(ValueError, match=r"pred: expected shape \(N, 16, 3\)"):
        m.pck3d(np.zeros((16, 3)), np.zeros((16, 3)))
    nan_gt = poses.copy()
    nan_gt[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match="gt: 1 sample.*index 2.*has_3d"):
        m.mpjpe(poses, nan_gt)
    with pytest.raises(ValueError, match="root: expected"):
        m.mpjpe(poses, poses, root=16)
    pred2d = np.zeros((4, 16, 2))
    with pytest.raises(ValueError, match="head_size: expected shape"):
        m.pckh(pred2d, pred2d, np.ones(3), np.ones((4, 16), bool))
    with pytest.raises(ValueError, match="head_size: expected finite values > 0"):
        m.pckh(pred2d, pred2d, np.zeros(4), np.ones((4, 16), bool))
    with pytest.raises(ValueError, match="annotated: expected shape"):
        m.pckh(pred2d, pred2d, np.ones(4), np.ones((4, 15), bool))
    with pytest.raises(ValueError, match=r"pred: expected shape \(N, 16, 2\)"):
        m.pckh(poses, poses, np.ones(4), np.ones((4, 16), bool))


# Published PCKh@0.5 of bearpaw/pytorch-pose hourglass models on MPII validation
# (docs/conventions.md, "Reference numbers").
PUBLISHED = {
    2: ([95.80, 94.57, 88.12, 83.31, 86.24, 80.88, 77.44], 86.76),
    8: ([96.79, 95.19, 90.08, 85.32, 87.48, 84.26, 80.73], 88.64),
}


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures/mpii is absent (a user's clone)")
@pytest.mark.parametrize("stacks", [2, 8])
def test_pckh_reproduces_the_published_mpii_numbers(stacks):
    from scipy.io import loadmat

    reference = loadmat(FIXTURES / "detections_our_format.mat")
    gt = reference["pos_gt_src"].transpose(2, 0, 1)                        # (N, 16, 2)
    annotated = reference["jnt_missing"].T == 0                             # (N, 16)
    boxes = reference["headboxes_src"].transpose(2, 0, 1)                  # (N, corner, xy)
    head_size = 0.6 * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)
    pred = loadmat(FIXTURES / "reference_predictions" / f"bearpaw-hg_s{stacks}_b1.mat")["preds"]
    assert pred.shape == gt.shape == (2958, 16, 2)

    result = m.pckh(pred, gt, head_size, annotated)
    parts, mean = PUBLISHED[stacks]
    names = ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"]
    assert [round(result[k], 2) for k in names] == parts
    assert round(result["mean"], 2) == mean
