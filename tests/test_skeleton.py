import numpy as np
import pytest

from posegan import skeleton as sk


def test_joint_table_is_the_mpii_order():
    assert sk.NUM_JOINTS == 16
    assert sk.JOINT_NAMES[0] == "r_ankle" and sk.JOINT_NAMES[15] == "l_wrist"
    assert sk.ROOT == 6 and sk.JOINT_NAMES[sk.ROOT] == "pelvis"


def test_parents_form_a_tree_rooted_at_the_pelvis():
    assert len(sk.PARENTS) == 16 and sk.PARENTS.count(-1) == 1
    for joint in range(16):
        seen, j = set(), joint
        while sk.PARENTS[j] != -1:  # every joint reaches the root without a cycle
            assert j not in seen
            seen.add(j)
            j = sk.PARENTS[j]
        assert j == sk.ROOT
    assert len(sk.BONES) == 15
    names = {(sk.JOINT_NAMES[p], sk.JOINT_NAMES[c]) for p, c in sk.BONES}
    assert ("r_knee", "r_ankle") in names and ("l_shoulder", "l_elbow") in names
    assert ("upper_neck", "head_top") in names and ("pelvis", "thorax") in names


def test_flip_pairs_swap_right_and_left_of_the_same_part():
    for r, l in sk.FLIP_PAIRS:
        assert sk.JOINT_NAMES[r].startswith("r_") and sk.JOINT_NAMES[l].startswith("l_")
        assert sk.JOINT_NAMES[r][2:] == sk.JOINT_NAMES[l][2:]
    perm = sk.FLIP_PERMUTATION
    assert sorted(perm) == list(range(16))
    assert [perm[p] for p in perm] == list(range(16))  # an involution
    assert perm[6] == 6 and perm[9] == 9


def test_flip_joints_mirrors_x_and_swaps_sides():
    joints = np.zeros((16, 2), np.float32)
    joints[:, 0] = np.arange(16)
    joints[:, 1] = 100 + np.arange(16)
    flipped = sk.flip_joints(joints, width=64)
    # The new r_ankle is the old l_ankle (index 5) mirrored: x = 63 - 5.
    assert flipped[0].tolist() == [58.0, 105.0]
    np.testing.assert_array_equal(sk.flip_joints(flipped, width=64), joints)


def test_limb_groups_are_the_joints_that_end_each_segment():
    named = {k: sorted(sk.JOINT_NAMES[j] for j in v) for k, v in sk.LIMB_GROUPS.items()}
    assert named == {
        "upper_arms": ["l_elbow", "r_elbow"], "lower_arms": ["l_wrist", "r_wrist"],
        "upper_legs": ["l_knee", "r_knee"], "lower_legs": ["l_ankle", "r_ankle"],
    }


def test_h36m_and_3dhp_maps_agree_on_joint_names():
    # Zhou et al.'s maps take H36M's spine for the thorax, its thorax for the upper
    # neck and its head for the head top (neck_nose is dropped).
    alias = {"spine": "thorax", "thorax": "upper_neck", "head": "head_top"}
    h36m = [alias.get(n, n) for n in sk.H36M17_NAMES]
    assert [h36m[i] for i in sk.H36M17_TO_MPII16] == sk.JOINT_NAMES
    # 3DHP has no thorax joint: Zhou et al.'s map takes its spine joint for it.
    mpi_alias = {"neck": "upper_neck", "spine": "thorax"}
    mpi = [mpi_alias.get(n, n) for n in sk.MPI3DHP17_NAMES]
    assert [mpi[i] for i in sk.MPI3DHP17_TO_MPII16] == sk.JOINT_NAMES


def test_conversion_functions_take_the_listed_indices():
    h36m = np.arange(17 * 3, dtype=float).reshape(17, 3)
    out = sk.h36m17_to_mpii16(h36m)
    assert out.shape == (16, 3)
    np.testing.assert_array_equal(out[:, 0], np.array(sk.H36M17_TO_MPII16) * 3)
    batch = np.random.default_rng(0).normal(size=(5, 17, 2))
    np.testing.assert_array_equal(sk.mpi3dhp17_to_mpii16(batch), batch[:, sk.MPI3DHP17_TO_MPII16])
    with pytest.raises(ValueError, match="17"):
        sk.h36m17_to_mpii16(np.zeros((16, 3)))
