"""Plausibility measures: limb symmetry, bone lengths, knee and elbow bends, on hand-built poses."""

import numpy as np
import pytest

from posegan.data.synthetic.body import A, ANGLE_LOWER, ANGLE_UPPER, NUM_ANGLES, BodyProportions, forward_kinematics
from posegan.plausibility import (bone_length_errors, elbow_bend, hyperextended_elbows, hyperextended_knees,
                                  knee_bend, limb_symmetry, plausibility_scores)
from posegan.scoring import score_decomposition
from posegan.camera import depth_target, project
from posegan.skeleton import JOINT_NAMES

J = {name: i for i, name in enumerate(JOINT_NAMES)}


def standing(n=1):
    """n average people standing straight (body frame: x left, y up, z forward), mm."""
    return np.repeat(forward_kinematics(np.zeros(NUM_ANGLES), BodyProportions.average(), include_root=False)[None],
                     n, axis=0)


def test_symmetry_of_a_pose_with_one_longer_shin_by_hand():
    poses = standing(2)
    shin = poses[1, J["r_ankle"]] - poses[1, J["r_knee"]]
    length = np.linalg.norm(shin)                                           # 0.246 x 1750 = 430.5 mm
    assert length == pytest.approx(430.5)
    poses[1, J["r_ankle"]] += shin * (120.0 / length)                       # right shin 120 mm longer
    absolute, relative = limb_symmetry(poses)
    assert absolute.shape == (2, 6) and np.allclose(absolute[0], 0)
    assert absolute[1, 0] == pytest.approx(120.0) and np.allclose(absolute[1, 1:], 0, atol=1e-9)
    assert relative[1, 0] == pytest.approx(120.0 / 490.5)                   # 24.5% of the pair's mean
    scores = plausibility_scores(poses, standing(2))
    assert scores["symmetry_error"] == pytest.approx(120.0 / 12)            # one pair of the twelve
    assert scores["symmetry_error_relative"] == pytest.approx(100.0 * 120.0 / 490.5 / 12)
    assert scores["symmetry_by_pair"]["shin"] == pytest.approx(60.0)
    assert scores["asymmetric_pairs"] == pytest.approx(100.0 / 12)          # 24.5% > 20%: one pair of twelve
    assert scores["bone_length_error"] == pytest.approx(120.0 / 15 / 2)     # one bone of 30 off by 120 mm
    poses[1, J["r_ankle"]] -= shin * (40.0 / length)                        # 80 mm: 17% < 20%
    assert plausibility_scores(poses)["asymmetric_pairs"] == 0.0


def test_bone_length_errors_are_per_bone():
    gt = standing(1)
    pred = gt * 1.1                                                         # everything 10% larger
    lengths = np.linalg.norm(gt[0, [c for c in range(16) if c != 6]] - gt[0, [1, 2, 6, 6, 3, 4, 6, 7, 8, 11, 12, 7,
                                                                                 7, 13, 14]], axis=-1)
    np.testing.assert_allclose(bone_length_errors(pred, gt)[0], 0.1 * lengths, rtol=1e-9)


def test_a_knee_bent_forwards_is_hyperextended():
    poses = standing(3)
    knee, hip = poses[:, J["r_knee"]], poses[:, J["r_hip"]]
    shin = np.linalg.norm(poses[0, J["r_ankle"]] - knee[0])
    for k, degrees in enumerate((30.0, -5.0, -25.0)):                     # flexed, slightly back, far forward
        a = np.radians(degrees)
        # flexion turns the shin backwards (-z, the body faces +z) about the left axis (+x)
        poses[k, J["r_ankle"]] = knee[k] + shin * np.array([0.0, -np.cos(a), -np.sin(a)])
    bends = knee_bend(poses)
    np.testing.assert_allclose(bends[:, 0], [30.0, -5.0, -25.0], atol=1e-9)
    np.testing.assert_allclose(bends[:, 1], 0.0, atol=1e-9)
    assert hyperextended_knees(poses)[:, 0].tolist() == [False, False, True]
    assert (hip[:, 1] > knee[:, 1]).all()


def test_an_elbow_bent_backwards_is_hyperextended():
    poses = standing(3)
    elbow = poses[:, J["l_elbow"]]
    forearm = np.linalg.norm(poses[0, J["l_wrist"]] - elbow[0])
    for k, direction in enumerate(([0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0])):   # front, out, back
        a = np.radians(60.0)
        poses[k, J["l_wrist"]] = elbow[k] + forearm * (np.cos(a) * np.array([0.0, -1.0, 0.0]) + np.sin(a) * np.array(direction))
    flexion, rotation = elbow_bend(poses)
    np.testing.assert_allclose(flexion[:, 1], 60.0, atol=1e-9)
    # hanging arm, ISB frame: the forearm bends forwards at rotation 0, outwards (left) at 90 external
    np.testing.assert_allclose(rotation[:, 1], [0.0, -90.0, 180.0], atol=1e-9)
    assert hyperextended_elbows(poses)[:, 1].tolist() == [False, False, True]
    assert not hyperextended_elbows(poses)[:, 0].any()                      # the right arm hangs straight


def test_synthetic_people_are_plausible_and_their_angles_are_recovered():
    """Every pose the synthetic body can take scores 0, and the bends read back the joint angles."""
    rng = np.random.default_rng(0)
    angles = rng.uniform(ANGLE_LOWER, ANGLE_UPPER, size=(500, NUM_ANGLES))
    poses = forward_kinematics(angles, BodyProportions.average(1600.0))
    scores = plausibility_scores(poses, poses)
    assert scores["symmetry_error"] < 1e-9 and scores["bone_length_error"] == 0.0
    assert scores["knee_hyperextension"] == 0.0 and scores["elbow_hyperextension"] == 0.0
    np.testing.assert_allclose(knee_bend(poses), np.clip(angles[:, [A["r_knee"], A["l_knee"]]], 0, 150), atol=1e-6)
    flexion, rotation = elbow_bend(poses)
    bent = flexion > 10
    true_rotation = np.clip(angles[:, [A["r_sh_rot"], A["l_sh_rot"]]], -60, 90)
    np.testing.assert_allclose(rotation[bent], true_rotation[bent], atol=1e-6)


def test_decomposition_puts_the_error_where_it_is():
    gt = standing(2) + np.array([0.0, 0.0, 4000.0])
    gt[..., 1] *= -1                                                        # camera y points down
    camera = np.tile([250.0, 250.0, 63.5, 63.5], (2, 1))
    labels = {"joints_3d": gt, "joints_2d": project(gt, camera), "camera": camera, "root_depth": gt[:, 6, 2],
              "has_3d": np.ones(2, bool)}
    true_depth = depth_target(gt, camera, 4)
    wrong_depth = true_depth.copy()
    wrong_depth[:, 0] += 2.0                                                # r_ankle 2 heatmap px deeper
    parts = score_decomposition(labels["joints_2d"], wrong_depth, labels, 4)
    dz = 2.0 * 4000.0 * 4 / 250.0                       # 2 px x root depth x stride / fx = 128 mm deeper
    ankle = gt[0, J["r_ankle"]]
    moved = dz * np.linalg.norm(ankle / ankle[2])       # along the ankle's ray through the camera centre
    assert parts["pred_2d_true_depth"] == pytest.approx(0.0, abs=1e-6)
    assert parts["true_2d_pred_depth"] == pytest.approx(parts["both"])
    assert parts["both"] == pytest.approx(moved / 16, rel=1e-6)
