"""The share of people facing the camera: hand-computed, real MPII, and the synthetic sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posegan.data.synthetic.benchmark import SyntheticConfig, generate_samples, split_specs, wild_labels
from posegan.report.facing import chest_faces_camera, facing_mask, facing_share
from posegan.skeleton import JOINT_NAMES

J = {name: i for i, name in enumerate(JOINT_NAMES)}
MPII_VALID = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "mpii" / "valid.h5"
MPII_SHOULDER_SHARE = 0.725  # docs/benchmark.md


def test_hand_computed_share():
    joints = np.zeros((4, 16, 2))
    annotated = np.ones((4, 16), bool)
    joints[0, J["l_shoulder"], 0], joints[0, J["r_shoulder"], 0] = 60.0, 40.0   # facing
    joints[1, J["l_shoulder"], 0], joints[1, J["r_shoulder"], 0] = 30.0, 50.0   # back view
    joints[2, J["l_shoulder"], 0], joints[2, J["r_shoulder"], 0] = 70.0, 20.0   # facing
    joints[3, J["l_shoulder"], 0], joints[3, J["r_shoulder"], 0] = 90.0, 10.0   # not counted:
    annotated[3, J["r_shoulder"]] = False
    joints[3, J["r_shoulder"]] = np.nan
    assert facing_share(joints, annotated) == pytest.approx(2 / 3)
    facing, counted = facing_mask(joints, annotated)
    assert facing.tolist() == [True, False, True, False] and counted.tolist() == [True, True, True, False]
    joints[:, J["l_hip"], 0], joints[:, J["r_hip"], 0] = 1.0, 2.0
    assert facing_share(joints, annotated, ("l_hip", "r_hip")) == 0.0
    assert np.isnan(facing_share(joints[3:], annotated[3:]))
    with pytest.raises(ValueError):
        facing_share(joints[:, :, 0], annotated)


def test_chest_faces_camera_hand_computed():
    pose = np.zeros((2, 16, 3))
    pose[:, :, 2] = 3000.0
    pose[:, J["thorax"], 1] = -500.0                          # up is -y in camera coordinates
    pose[0, J["l_shoulder"], 0], pose[0, J["r_shoulder"], 0] = 200.0, -200.0   # left on the right: facing
    pose[1, J["l_shoulder"], 0], pose[1, J["r_shoulder"], 0] = -200.0, 200.0
    assert chest_faces_camera(pose).tolist() == [True, False]


@pytest.fixture(scope="module")
def mpii_share():
    if not MPII_VALID.exists():
        pytest.skip("../shared fixtures are absent")
    from posegan.data.real.mpii import read_mpii_hourglass
    people = read_mpii_hourglass(MPII_VALID)
    return people


def test_real_mpii_share(mpii_share):
    people = mpii_share
    _, counted = facing_mask(people.joints, people.annotated)
    assert counted.sum() == 2932
    assert facing_share(people.joints, people.annotated) == pytest.approx(0.7251, abs=5e-4)
    assert facing_share(people.joints, people.annotated, ("l_hip", "r_hip")) == pytest.approx(0.7279, abs=5e-4)


CONFIG = SyntheticConfig(image_size=64, seed=0, wild_train=400, wild_valid=400, cross_test=300, cross_valid=6)


@pytest.mark.parametrize("name", ["mpii_train", "mpii_valid", "mpi_inf_3dhp_test"])
def test_synthetic_wild_share_matches_mpii(name):
    """Measured as on MPII, on the labels the generator stores (computed without rendering);
    the reference is MPII's measured share where the fixtures are present, else its value."""
    spec = {s.dataset + "_" + s.split: s for s in split_specs(CONFIG)}[name]
    labels = wild_labels(spec, 0, spec.num_samples, CONFIG.image_size, CONFIG.seed)
    reference = MPII_SHOULDER_SHARE
    if MPII_VALID.exists():
        from posegan.data.real.mpii import read_mpii_hourglass
        people = read_mpii_hourglass(MPII_VALID)
        reference = facing_share(people.joints, people.annotated)
    assert abs(facing_share(labels["joints_2d"], labels["annotated"]) - reference) < 0.03
    assert abs(facing_share(labels["joints_2d"], labels["annotated"], ("l_hip", "r_hip")) - reference) < 0.03


def test_wild_labels_are_the_generated_labels():
    """wild_labels draws the same person, camera and crop as the rendered samples."""
    for spec in split_specs(SyntheticConfig(image_size=32, seed=5, wild_train=6, wild_valid=3, cross_test=6, cross_valid=3))[2:]:
        rendered = generate_samples(spec, 0, spec.num_samples, 32, 5)
        labels = wild_labels(spec, 0, spec.num_samples, 32, 5)
        np.testing.assert_array_equal(labels["joints_2d"], rendered["joints_2d"])
        np.testing.assert_array_equal(labels["annotated"], rendered["annotated"])
        if spec.domain == "cross":
            np.testing.assert_array_equal(labels["joints_3d"], rendered["joints_3d"])


def test_lab_views_stay_balanced():
    """The lab's four cameras see every subject from all around: about half face the camera."""
    spec = split_specs(SyntheticConfig(image_size=16, seed=0, lab_train_per_subject=60))[0]
    s = generate_samples(spec, 0, spec.num_samples, 16, 0)
    assert 0.35 < facing_share(s["joints_2d"], s["annotated"]) < 0.65
