import pytest
import torch

from posegan.geometry import (bone_lengths, geometric_descriptor, kinematic_chain_space, limb_asymmetry,
                              torso_frame, torso_frame_bones)


def test_three_joint_case_worked_by_hand():
    joints = torch.tensor([[[0.0, 0.0, 0.0],
                            [3.0, 4.0, -1.0],
                            [1.0, -2.0, 2.0]]])
    d = geometric_descriptor(joints)
    assert d.shape == (1, 6, 3, 3)
    # Pair (i=1, j=0): dx = 3 - 0, dy = 4 - 0, dz = -1 - 0, then the squares.
    assert d[0, :, 1, 0].tolist() == [3.0, 4.0, -1.0, 9.0, 16.0, 1.0]
    # Pair (i=0, j=1): the offsets flip sign, the squares do not.
    assert d[0, :, 0, 1].tolist() == [-3.0, -4.0, 1.0, 9.0, 16.0, 1.0]
    # Pair (i=2, j=1): 1 - 3 = -2, -2 - 4 = -6, 2 - (-1) = 3.
    assert d[0, :, 2, 1].tolist() == [-2.0, -6.0, 3.0, 4.0, 36.0, 9.0]
    # Pair (i=1, j=2) and (i=2, j=0).
    assert d[0, :, 1, 2].tolist() == [2.0, 6.0, -3.0, 4.0, 36.0, 9.0]
    assert d[0, :, 2, 0].tolist() == [1.0, -2.0, 2.0, 1.0, 4.0, 4.0]
    # A joint against itself is all zeros.
    for i in range(3):
        assert d[0, :, i, i].tolist() == [0.0] * 6


def test_structure_on_random_poses():
    joints = torch.randn(4, 16, 3, generator=torch.Generator().manual_seed(0))
    d = geometric_descriptor(joints)
    assert d.shape == (4, 6, 16, 16)
    torch.testing.assert_close(d[:, :3], -d[:, :3].transpose(-1, -2))     # offsets antisymmetric
    torch.testing.assert_close(d[:, 3:], d[:, 3:].transpose(-1, -2))      # squares symmetric
    torch.testing.assert_close(d[:, 3:], d[:, :3].square())
    shifted = geometric_descriptor(joints + torch.tensor([5.0, -7.0, 2.0]))
    torch.testing.assert_close(shifted, d, atol=1e-5, rtol=1e-5)          # translation invariant


def test_leading_axes_and_gradients():
    joints = torch.randn(2, 3, 5, 3, dtype=torch.float64, requires_grad=True)
    assert geometric_descriptor(joints).shape == (2, 3, 6, 5, 5)
    assert torch.autograd.gradcheck(geometric_descriptor, (joints,))


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(\.\.\., P, 3\)"):
        geometric_descriptor(torch.zeros(2, 16, 2))
    with pytest.raises(TypeError, match="torch tensor"):
        geometric_descriptor([[0.0, 0.0, 0.0]])


def test_bone_lengths_worked_by_hand():
    """Joint j at (0, 0, 2 j): a bone (parent p, child c) is 2 |c - p| long; the first bone
    (r_knee -> r_ankle, joints 1 and 0) is then turned into a 3-4-5 triangle."""
    from posegan.skeleton import BONES

    joints = torch.zeros(16, 3)
    joints[:, 2] = 2.0 * torch.arange(16)
    joints[0] = joints[1] + torch.tensor([3.0, 4.0, 0.0])
    expected = torch.tensor([5.0] + [2.0 * abs(c - p) for p, c in BONES[1:]])
    torch.testing.assert_close(bone_lengths(joints), expected)
    # the kinematic chain space holds the same lengths, squared, on its diagonal
    diagonal = torch.tensor([sum(15 - r for r in range(i)) for i in range(15)])
    torch.testing.assert_close(kinematic_chain_space(joints)[diagonal], expected.square())
    # leading axes, and rotation changes nothing
    turn = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert bone_lengths(torch.stack([joints, joints @ turn.T])).shape == (2, 15)
    torch.testing.assert_close(bone_lengths(joints @ turn.T), expected)
    with pytest.raises(ValueError, match="must be"):
        bone_lengths(torch.zeros(16, 2))


def _standing_pose() -> torch.Tensor:
    """A person facing +z in a right-handed frame (x to the person's left, y up), knees bent: the
    shins turn back (-z) from the knees, the forearms forward (+z) from the elbows."""
    from posegan.skeleton import JOINT_NAMES

    at = {"pelvis": (0, 0, 0), "r_hip": (-1, 0, 0), "l_hip": (1, 0, 0), "thorax": (0, 5, 0),
          "upper_neck": (0, 6, 0), "head_top": (0, 7, 0), "r_shoulder": (-2, 5, 0), "l_shoulder": (2, 5, 0),
          "r_elbow": (-2, 2, 0), "l_elbow": (2, 2, 0), "r_wrist": (-2, 2, 3), "l_wrist": (2, 2, 3),
          "r_knee": (-1, -4, 1), "l_knee": (1, -4, 1), "r_ankle": (-1, -8, 0), "l_ankle": (1, -8, 0)}
    return torch.tensor([at[name] for name in JOINT_NAMES], dtype=torch.float64)


def test_torso_frame_worked_by_hand():
    """The standing pose's frame is the coordinate axes (left = +x, up = +y, forward = +x cross +y
    = +z), so each bone reads as its own vector; a tilted spine is made orthogonal to left."""
    from posegan.skeleton import BONES, JOINT_NAMES

    pose = _standing_pose()
    torch.testing.assert_close(torso_frame(pose), torch.eye(3, dtype=torch.float64))
    j = {name: i for i, name in enumerate(JOINT_NAMES)}
    shin = BONES.index((j["r_knee"], j["r_ankle"]))
    forearm = BONES.index((j["l_elbow"], j["l_wrist"]))
    local = torso_frame_bones(pose)
    assert local.shape == (15, 3)
    assert local[shin].tolist() == [0.0, -4.0, -1.0] and local[forearm].tolist() == [0.0, 0.0, 3.0]
    leaning = pose.clone()
    leaning[j["thorax"]] = torch.tensor([1.0, 5.0, 0.0])      # spine leaning to the left: up stays +y
    torch.testing.assert_close(torso_frame(leaning), torch.eye(3, dtype=torch.float64))


def test_torso_frame_bones_see_a_mirror_image_that_the_kcs_does_not():
    """Turning the pose changes nothing; mirroring it (z -> -z: every depth the other way) leaves
    the KCS as it was but flips the forward component of every bone: the knees bend forwards."""
    pose = _standing_pose()
    angle = torch.tensor(0.7, dtype=torch.float64)
    c, s = torch.cos(angle), torch.sin(angle)
    turn = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64) @ \
        torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=torch.float64)
    torch.testing.assert_close(torso_frame_bones(pose @ turn.T + 3.0), torso_frame_bones(pose))
    mirrored = pose * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(kinematic_chain_space(mirrored), kinematic_chain_space(pose))
    flipped = torso_frame_bones(pose) * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(torso_frame_bones(mirrored), flipped)
    assert not torch.allclose(torso_frame_bones(mirrored), torso_frame_bones(pose))


def test_torso_frame_bones_gradients():
    joints = (_standing_pose() + 0.1 * torch.randn(2, 16, 3, dtype=torch.float64,
                                                    generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    assert torch.autograd.gradcheck(torso_frame_bones, (joints,))


def test_limb_asymmetry_worked_by_hand():
    """Joint j at (0, 0, 2 j) again: the right shin (r_knee 1 -> r_ankle 0) is 2 long, the left
    (l_knee 4 -> l_ankle 5) 2 long; moving the right ankle to r_knee + (3, 4, 0) makes the right
    shin 5, so shin asymmetry 5 - 2 = 3. The right hip (pelvis 6 -> r_hip 2) is 8 long, the left
    (6 -> 3) 6: +2. Thigh: r_hip 2 -> r_knee 1 is 2, l_hip 3 -> l_knee 4 is 2: 0. Forearm:
    r_elbow 11 -> r_wrist 10 2, l_elbow 14 -> l_wrist 15 2: 0. Upper arm: r_shoulder 12 -> 11 2,
    l_shoulder 13 -> 14 2: 0. Shoulder: thorax 7 -> 12 is 10, 7 -> 13 is 12: -2."""
    joints = torch.zeros(16, 3)
    joints[:, 2] = 2.0 * torch.arange(16)
    joints[0] = joints[1] + torch.tensor([3.0, 4.0, 0.0])
    torch.testing.assert_close(limb_asymmetry(joints), torch.tensor([3.0, 0.0, 0.0, 0.0, 2.0, -2.0]))
    # a mirror image through x = 0 of a pose whose sides are each other's mirror is symmetric
    body = torch.randn(16, 3)
    from posegan.skeleton import FLIP_PAIRS
    for r, l in FLIP_PAIRS:
        body[l] = body[r] * torch.tensor([-1.0, 1.0, 1.0])
    for j in (6, 7, 8, 9):
        body[j, 0] = 0.0
    torch.testing.assert_close(limb_asymmetry(body), torch.zeros(6), atol=1e-5, rtol=0)
    assert limb_asymmetry(torch.randn(2, 5, 16, 3)).shape == (2, 5, 6)
    with pytest.raises(ValueError, match="must be"):
        limb_asymmetry(torch.zeros(16, 2))
