"""The left/right diagnostic: hand-computed correlations and orders, and the script end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from fakes import write_fake_prepared
from posegan.model_file import model_payload
from posegan.models import Generator
from posegan.models.generator import ModelSettings
from posegan.left_right import (left_right_order, left_right_summary, paired_channel_correlation,
                                       seen_from_front)
from posegan.skeleton import FLIP_PAIRS, FLIP_PERMUTATION, JOINT_NAMES

ROOT = Path(__file__).resolve().parents[1]
J = {name: i for i, name in enumerate(JOINT_NAMES)}


def test_paired_channel_correlation_hand_computed():
    maps = np.zeros((2, 16, 4, 4))
    for r, l in FLIP_PAIRS:
        maps[0, r, 1, 1] = maps[0, l, 1, 1] = 2.0   # sample 0: the same peak in both channels
        maps[1, r, 0, 0], maps[1, l, 3, 2] = 1.0, 1.0  # sample 1: one-pixel peaks in different places
    corr = paired_channel_correlation(maps)
    assert corr.shape == (2, len(FLIP_PAIRS))
    np.testing.assert_allclose(corr[0], 1.0)
    # Deviations from the mean 1/16: products sum to 2 (15/16)(-1/16) + 14/256 = -1/16,
    # each squared norm is (15/16)^2 + 15/256 = 15/16: correlation -1/15.
    np.testing.assert_allclose(corr[1], -1.0 / 15.0)


def _people(front: bool, n: int = 4) -> np.ndarray:
    """(n, 16, 2): every right joint at x = 10 and left one at x = 30 (seen from the front), or mirrored."""
    joints = np.full((n, 16, 2), 20.0)
    for r, l in FLIP_PAIRS:
        joints[:, r, 0], joints[:, l, 0] = (10.0, 30.0) if front else (30.0, 10.0)
    return joints


def test_left_right_summary_pools_the_pairs_by_hand():
    true = np.concatenate([_people(True), _people(False)])        # 4 front, 4 back views
    side_rule = np.concatenate([_people(True), _people(True)])      # right in front, wrong in back
    pred = side_rule.copy()
    pred[0, J["l_wrist"], 0] = 5.0                                  # one front wrist pair now wrong
    corr = np.tile(np.linspace(0.1, 0.6, 6), (8, 1))
    corr[:4, 5] = 0.9                                               # median of column 5: (0.6 + 0.9) / 2
    summary = left_right_summary(pred, true, corr)
    # 8 samples x 6 pairs = 48 counted; 24 front of which 23 right, 24 back all wrong.
    assert summary["order_right"] == 23 / 48
    assert summary["order_right_front"] == 23 / 24 and summary["order_right_back"] == 0.0
    assert summary["max_pair_correlation"] == np.float64(0.75)
    wrists = summary["pairs"]["wrists"]
    assert wrists["order_right_front"] == 3 / 4 and wrists["samples"] == 8
    assert set(summary["pairs"]) == {"ankles", "knees", "hips", "wrists", "elbows", "shoulders"}


def test_front_and_back_and_the_order_shares():
    true = np.concatenate([_people(True), _people(False)])
    np.testing.assert_array_equal(seen_from_front(true), [True] * 4 + [False] * 4)

    right = left_right_order(true, true)
    assert list(right["samples"]) == [8] * 6
    assert (right["order_right"] == 1).all() and (right["collapsed"] == 0).all()

    mirrored = left_right_order(true[:, FLIP_PERMUTATION], true)   # every pair swapped
    assert (mirrored["order_right"] == 0).all()

    # The network that always answers "left on the image's right" (front view): right from
    # the front, wrong from the back.
    side_rule = left_right_order(np.concatenate([_people(True), _people(True)]), true)
    assert (side_rule["order_right_front"] == 1).all() and (side_rule["order_right_back"] == 0).all()
    assert (side_rule["order_right"] == 0.5).all()

    collapsed = true.copy()
    for r, l in FLIP_PAIRS:
        collapsed[:, l, 0] = collapsed[:, r, 0] + 1.0   # both on the same limb
    table = left_right_order(collapsed, true)
    assert (table["collapsed"] == 1).all()

    # Pairs whose true joints are close in x are not counted.
    close = true.copy()
    close[:, J["l_wrist"], 0] = close[:, J["r_wrist"], 0] + 2.0
    wrists = left_right_order(close, close).set_index("pair").loc["wrists"]
    assert wrists["samples"] == 0 and np.isnan(wrists["order_right"])


def test_script_prints_a_row_per_pair(tmp_path):
    write_fake_prepared(tmp_path / "prepared", n=6, size=64)
    model = ModelSettings(num_stacks=1, num_blocks=1, num_features=16, depth_pooling="grid")
    generator = Generator.build(model)
    torch.save(model_payload(generator, model, "pretrain_2d", 0, 64), tmp_path / "model.pt")
    result = subprocess.run([sys.executable, str(ROOT / "scripts/diagnose_left_right.py"), str(tmp_path / "model.pt"),
                             str(tmp_path / "prepared/h36m_test.h5"), "--samples", "4"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "4 samples" in lines[0]
    assert lines[1].split() == ["pair", "samples", "heatmap_correlation", "order_right", "collapsed",
                                "order_right_front", "order_right_back"]
    assert [line.split()[0] for line in lines[2:]] == ["ankles", "knees", "hips", "wrists", "elbows", "shoulders"]
