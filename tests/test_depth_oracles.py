import numpy as np
import pytest
import torch

from posegan.camera import depth_target, project
from posegan.report.depth_oracles import bones_from_root, depth_oracles, rebuilt_depths
from posegan.skeleton import BONES, NUM_JOINTS, ROOT


def test_bones_from_root_places_every_parent_first():
    order = bones_from_root()
    assert sorted(order) == sorted(BONES) and len(order) == 15
    placed = {ROOT}
    for parent, child in order:
        assert parent in placed
        placed.add(child)


def test_rebuilt_depths_by_hand():
    """Pelvis 6 -> r_hip 2 -> r_knee 1 -> r_ankle 0: true extents +1, -2, +3; predicted -4, +5, -6.
    Magnitudes from the prediction with the true signs: +4, -5, +6 -> depths 4, -1, 5."""
    true = np.zeros((1, NUM_JOINTS))
    true[0, [2, 1, 0]] = [1.0, -1.0, 2.0]
    pred = np.zeros((1, NUM_JOINTS))
    pred[0, [2, 1, 0]] = [-4.0, 1.0, -5.0]
    depths = rebuilt_depths(true, pred)
    np.testing.assert_allclose(depths[0, [6, 2, 1, 0]], [0.0, 4.0, -1.0, 5.0])
    np.testing.assert_allclose(rebuilt_depths(pred, true)[0, [6, 2, 1, 0]], [0.0, -1.0, 1.0, -2.0])


def _labels(n=4, seed=0):
    """People 4-5 m in front of a 600 px camera, 500 mm limbs in random directions."""
    rng = np.random.default_rng(seed)
    joints = np.zeros((n, NUM_JOINTS, 3))
    for parent, child in bones_from_root():
        step = rng.normal(size=(n, 3))
        joints[:, child] = joints[:, parent] + 500.0 * step / np.linalg.norm(step, axis=1, keepdims=True)
    joints[..., 2] += rng.uniform(4000, 5000, size=(n, 1))
    camera = np.tile([600.0, 600.0, 64.0, 64.0], (n, 1))
    return {"joints_3d": joints, "camera": camera, "root_depth": joints[:, ROOT, 2],
            "joints_2d": project(joints, camera)}


def test_depth_oracles_on_the_truth_and_its_mirror():
    labels = _labels()
    true = depth_target(labels["joints_3d"], labels["camera"], 4)
    exact = depth_oracles(true, labels, 4)
    assert exact["predicted"] == pytest.approx(0, abs=1e-6)
    assert exact["wrong_direction_percent"] == 0
    assert exact["flat"] > 100                       # 500 mm limbs in random directions
    # every bone turned the other way: the right lengths, all directions wrong
    mirrored = depth_oracles(-true, labels, 4)
    assert mirrored["wrong_direction_percent"] == 100
    assert mirrored["true_magnitudes_predicted_signs"] == pytest.approx(mirrored["predicted"])
    assert mirrored["predicted_magnitudes_true_signs"] == pytest.approx(0, abs=1e-6)
    assert mirrored["predicted"] > exact["flat"]


def test_script_prints_one_row_per_model_and_validation_split(tmp_path):
    import subprocess
    import sys

    from fakes import REPO, write_fake_prepared
    from posegan.model_file import model_payload
    from posegan.models import Generator
    from test_discriminator_probe import MODEL

    write_fake_prepared(tmp_path / "prepared", n=8, size=64)
    torch.manual_seed(0)
    torch.save(model_payload(Generator.build(MODEL), MODEL, "pretrain_depth", 1, 64), tmp_path / "g.pt")
    result = subprocess.run([sys.executable, str(REPO / "scripts/depth_oracles.py"), "g.pt",
                             "--prepared-dir", "prepared"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and "wrong_direction_percent" in lines[0]   # the fake data's only 3D validation split
    assert "mpii_3d" in lines[1] and "g.pt" in lines[1]
    empty = subprocess.run([sys.executable, str(REPO / "scripts/depth_oracles.py"), "g.pt", "--prepared-dir", "nowhere"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert empty.returncode != 0 and "nowhere: no prepared validation split" in empty.stderr
