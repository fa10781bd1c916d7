"""Evaluation: scores on hand-worked cases, the PCKh pixel units, the end-to-end run and its outputs."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from fakes import write_fake_prepared
from posegan.data.dataset import PoseDataset
from posegan.data.schema import prepared_path, read_prepared
from posegan.data.sets import scored_sets, training_sets
from posegan.evaluate import (HEADLINE, EvaluateSettings, evaluate_models, headline_metrics, load_predictions,
                              write_evaluation)
from posegan.metrics_json import rounded
from posegan.model_file import ModelFileError, load_model, model_payload
from posegan.models.generator import ModelSettings
from posegan.scoring import mean_pose, mean_pose_predictions, score_cross, score_lab, score_wild
from posegan.settings import ParamsError, build
from posegan.subsets import evenly_spaced
from posegan.heatmaps import decode_heatmaps, heatmap_to_crop
from posegan.metrics import mpjpe, p_mpjpe
from posegan.models import Generator
from posegan.predict import predict

MODEL = ModelSettings(num_stacks=1, num_blocks=1, num_features=16)
SETTINGS = EvaluateSettings(batch_size=4, max_samples=6)


def random_poses(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([0.0, 0.0, 4000.0]) + rng.normal(scale=300.0, size=(n, 16, 3))


def lab_labels(gt, actions):
    return {"joints_3d": gt, "has_3d": np.ones(len(gt), bool), "action": np.asarray(actions, np.int32)}


# --------------------------------------------------------------------------- hand-worked scores

def test_score_lab_limbs_and_actions_by_hand():
    gt = random_poses(4)
    pred = gt + np.array([100.0, -50.0, 20.0])       # a moved pose: Protocol #1 aligns the root
    pred[:2, 11, 0] += 30.0                          # r_elbow 30 mm off in the two action-0 samples
    scores = score_lab(pred, lab_labels(gt, [0, 0, 1, 1]), ["Walking", "Sitting"])
    assert scores["samples"] == 4
    assert scores["mpjpe"] == pytest.approx(30.0 / 16 / 2)
    assert scores["limbs"] == pytest.approx({"upper_arms": 30.0 / 2 / 2, "lower_arms": 0.0, "upper_legs": 0.0,
                                             "lower_legs": 0.0, "mean": 30.0 / 16 / 2})
    assert scores["mpjpe_by_action"] == pytest.approx({"Walking": 30.0 / 16, "Sitting": 0.0})
    assert scores["joints"]["r_elbow"] == pytest.approx(15.0)
    assert scores["joints"]["l_elbow"] == pytest.approx(0.0, abs=1e-9)
    assert scores["p_mpjpe_by_action"]["Sitting"] == pytest.approx(0.0, abs=1e-9)
    assert scores["p_mpjpe"] == pytest.approx(p_mpjpe(pred, gt))


def test_score_lab_skips_samples_without_3d_and_unlabelled_actions():
    gt = random_poses(3)
    labels = lab_labels(gt, [0, -1, 1])
    labels["has_3d"][2] = False
    labels["joints_3d"] = labels["joints_3d"].copy()
    labels["joints_3d"][2] = np.nan
    pred = gt.copy()
    pred[1, 0] += [0.0, 160.0, 0.0]
    scores = score_lab(pred, labels, ["A", "B"])
    assert scores["samples"] == 2
    assert scores["mpjpe"] == pytest.approx(160.0 / 16 / 2)
    assert scores["mpjpe_by_action"] == {"A": 0.0}      # sample 1 has no action, sample 2 no 3D


def test_score_lab_rejects_predictions_without_camera():
    gt = random_poses(2)
    pred = gt.copy()
    pred[1] = np.nan                                   # what predict() gives without camera/root_depth
    with pytest.raises(ValueError, match="h36m_test.h5: 1 sample.*camera or root_depth"):
        score_lab(pred, lab_labels(gt, [0, 0]), ["A"], source="h36m_test.h5")


def test_score_cross_pck_and_auc_by_hand():
    gt = random_poses(4, seed=1)
    pred = gt.copy()
    pred[:, [0, 1, 10, 11]] += [200.0, 0.0, 0.0]        # 4 of the 14 protocol joints 200 mm off
    pred[:2, 12] += [0.0, 0.0, 100.0]                  # in activity 0 one more joint 100 mm off
    scores = score_cross(pred, lab_labels(gt, [0, 0, 1, 1]), ["Sports", "Sitting"], threshold=150.0)
    pck_0, pck_1 = 10 / 14 * 100, 10 / 14 * 100
    assert scores["pck"] == pytest.approx({"total": (pck_0 + pck_1) / 2, "Sports": pck_0, "Sitting": pck_1})
    # AUC: an exact joint is within 30 of the 31 thresholds (0 mm fails: strict <), a 100 mm one
    # within 10 (105..150), a 200 mm one within none.
    auc_1 = 10 * 30 / 31 / 14 * 100
    auc_0 = (9 * 30 / 31 + 10 / 31) / 14 * 100
    assert scores["auc"] == pytest.approx({"total": (auc_0 + auc_1) / 2, "Sports": auc_0, "Sitting": auc_1})
    assert list(scores["pck"])[0] == "total"
    assert scores["mpjpe"] == pytest.approx(mpjpe(pred, gt))


def wild_labels(n=2, image_size=64, crop_size=256.0, head_size=20.0):
    rng = np.random.default_rng(3)
    return {
        "joints_2d": rng.uniform(10, 50, size=(n, 16, 2)),
        "annotated": np.ones((n, 16), bool),
        "head_size": np.full(n, head_size, np.float32),
        "crop_center": np.tile([700.0, 350.0], (n, 1)),
        "crop_size": np.full(n, crop_size, np.float32),
    }


def test_score_wild_compares_in_original_pixels():
    # 64-px crops of 256 original pixels: 1 crop px = 4 original px; head size 20 original px,
    # so PCKh@0.5 accepts 10 original px = 2.5 crop px.
    labels = wild_labels()
    pred = labels["joints_2d"].copy()
    pred[:, :8, 0] += 2.0        # 8 original px: correct
    pred[:, 8:, 1] -= 3.0        # 12 original px: wrong (in crop pixels 3 < 10 would pass)
    scores = score_wild(pred, labels, image_size=64, threshold=0.5)
    assert scores["samples"] == 2
    pck = scores["pckh"]
    assert list(pck) == ["mean", "Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"]
    assert pck["Ankle"] == pck["Knee"] == pck["Hip"] == 100.0
    assert pck["Head"] == pck["Shoulder"] == pck["Elbow"] == pck["Wrist"] == 0.0
    assert pck["mean"] == pytest.approx(6 / 14 * 100)   # joints 0-5 of the 14 (pelvis, thorax left out)


def test_score_wild_needs_head_size_and_crop():
    labels = wild_labels()
    labels["head_size"][1] = np.nan
    with pytest.raises(ValueError, match="mpii_valid.h5: field 'head_size'.*index 1"):
        score_wild(labels["joints_2d"], labels, 64, source="mpii_valid.h5")
    labels = wild_labels()
    labels["crop_size"][0] = 0.0
    with pytest.raises(ValueError, match="'crop_size'"):
        score_wild(labels["joints_2d"], labels, 64)


def test_mean_pose_predictor_by_hand():
    a = np.zeros((16, 3))
    a[:, 0] = np.arange(16)
    b = a * 3
    poses = np.stack([a, b, a]) + np.array([[[0, 0, 4000.0]], [[10, 0, 5000.0]], [[0, 0, 0]]])
    pose = mean_pose(poses, has_3d=[True, True, False])
    expected = (a - a[6] + b - b[6]) / 2
    np.testing.assert_allclose(pose, expected)
    gt = random_poses(3)
    pred = mean_pose_predictions(pose, gt)
    np.testing.assert_allclose(pred[:, 6], gt[:, 6])
    np.testing.assert_allclose(pred - pred[:, 6:7], np.broadcast_to(expected, (3, 16, 3)))
    with pytest.raises(ValueError, match="no sample has a 3D pose"):
        mean_pose(poses, has_3d=[False, False, False])


def test_settings_and_helpers():
    complete = {"batch_size": 32, "workers": 0, "max_samples": None, "pck_threshold": 150, "pckh_threshold": 0.5}
    assert build(EvaluateSettings, complete, "evaluate", "params.yaml") == EvaluateSettings()
    for block, key in (({"batch_size": 0}, "evaluate.batch_size"), ({"max_samples": 2.5}, "evaluate.max_samples"),
                       ({"pck_threshold": -1}, "evaluate.pck_threshold"), ({"bogus": 1}, "evaluate.bogus")):
        with pytest.raises(ParamsError, match=key):
            build(EvaluateSettings, {**complete, **block}, "evaluate", "params.yaml")
    assert rounded({"a": np.float32(1.23456), "b": [float("nan"), np.int64(3)], "c": True}) == \
        {"a": 1.23, "b": [None, 3], "c": True}


# --------------------------------------------------------------------------- end to end

def save_model(path, seed):
    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model_payload(Generator.build(MODEL), MODEL, path.stem, 1, 64), path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    write_fake_prepared(root / "data/prepared", n=12, size=64)
    save_model(root / "models/adversarial.pt", 0)
    save_model(root / "models/pretrain_depth.pt", 1)
    return root


def test_load_generator_checks_the_file(run_dir, tmp_path):
    generator, info = load_model(run_dir / "models/adversarial.pt")
    assert info["model_params"] == MODEL.as_dict() and info["image_size"] == 64 and not generator.training
    with pytest.raises(ModelFileError, match="missing.pt: model file not found"):
        load_model(tmp_path / "missing.pt")
    torch.save({"weights": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match="foreign.pt: holds a dict with keys"):
        load_model(tmp_path / "foreign.pt")


def test_evaluate_models_and_outputs(run_dir, tmp_path):
    models = {"final": run_dir / "models/adversarial.pt", "pretrained": run_dir / "models/pretrain_depth.pt"}
    metrics, predictions = evaluate_models(models, run_dir / "data/prepared", SETTINGS)
    assert list(metrics) == ["h36m", "mpii", "mpi_inf_3dhp", "mpii_3d", "pretrained", "mean_pose", "truth"]
    assert list(metrics["h36m"])[:3] == ["mpjpe", "p_mpjpe", "limbs"]
    assert metrics["h36m"]["samples"] == 6 and metrics["mpii"]["samples"] == 6
    assert metrics["h36m"]["limbs"]["mean"] == pytest.approx(metrics["h36m"]["mpjpe"])
    assert set(metrics["h36m"]["mpjpe_by_action"]) == {"A", "B"}
    assert 0 <= metrics["mpii"]["pckh"]["mean"] <= 100
    assert set(metrics["mpi_inf_3dhp"]["pck"]) == {"total", "A", "B"}
    assert list(metrics["pretrained"]) == ["h36m", "mpii", "mpi_inf_3dhp", "mpii_3d"]
    assert metrics["pretrained"]["h36m"]["mpjpe"] != metrics["h36m"]["mpjpe"]     # two different networks
    assert list(metrics["mean_pose"]) == ["h36m", "mpi_inf_3dhp", "mpii_3d"]
    assert list(metrics["truth"]) == ["h36m", "mpi_inf_3dhp", "mpii_3d"]
    for key in ("h36m", "mpi_inf_3dhp", "mpii_3d"):
        for scores in (metrics[key], metrics["pretrained"][key]):
            assert scores["plausibility"]["symmetry_error"] >= 0
            assert scores["decomposition"]["both"] == pytest.approx(scores["mpjpe"], rel=1e-5)
        assert metrics["truth"][key]["plausibility"]["bone_length_error"] == 0.0
    assert set(metrics["mpii_3d"]) >= {"mpjpe", "p_mpjpe", "pck", "auc", "samples"}
    assert "joints" in metrics["h36m"] and "joints" not in metrics["pretrained"]["h36m"]
    for scores in (metrics["h36m"], metrics["pretrained"]["h36m"]):     # final and pretrained
        lr = scores["left_right"]
        assert {"order_right", "order_right_front", "order_right_back", "max_pair_correlation", "pairs"} <= set(lr)
        assert len(lr["pairs"]) == 6 and -1.0 <= lr["max_pair_correlation"] <= 1.0
        assert all(0.0 <= p["order_right"] <= 1.0 for p in lr["pairs"].values() if np.isfinite(p["order_right"]))

    # the mean-pose floor, recomputed directly
    train, _ = read_prepared(prepared_path(run_dir / "data/prepared", "h36m", "train"))
    test, _ = read_prepared(prepared_path(run_dir / "data/prepared", "h36m", "test"))
    index = evenly_spaced(12, 6)
    gt = test["joints_3d"][index]
    floor = mpjpe(np.broadcast_to(mean_pose(train["joints_3d"]), gt.shape), gt)
    assert metrics["mean_pose"]["h36m"]["mpjpe"] == pytest.approx(floor)

    # the 3D predictions are the ones scored
    pred = predictions["final_h36m"]
    np.testing.assert_array_equal(pred["index"], index)
    assert metrics["h36m"]["mpjpe"] == pytest.approx(mpjpe(pred["joints_3d"], gt), rel=1e-5)

    out = tmp_path / "out"
    (out / "predictions").mkdir(parents=True)
    (out / "predictions/stale.npz").write_bytes(b"old")
    write_evaluation(metrics, predictions, out / "metrics/evaluate.json", out / "predictions")
    assert sorted(p.name for p in (out / "predictions").iterdir()) == sorted(
        f"{m}_{s}.npz" for m in ("final", "pretrained") for s in ("h36m", "mpii", "mpi_inf_3dhp", "mpii_3d"))
    saved = load_predictions(out / "predictions", "pretrained_mpii")
    np.testing.assert_array_equal(saved["joints_2d"], predictions["pretrained_mpii"]["joints_2d"])
    written = json.loads((out / "metrics/evaluate.json").read_text())
    assert written["h36m"]["mpjpe"] == round(metrics["h36m"]["mpjpe"], 2)
    assert list(written) == list(metrics)
    assert not list(out.glob("**/*.tmp"))


def test_the_wild_3d_set_is_optional(run_dir, tmp_path):
    """Real MPII has no 3D: without the evaluation-only file the stage scores the rest and says so."""
    (tmp_path / "prepared").mkdir()
    for item in (run_dir / "data/prepared").iterdir():
        if item.name != "mpii_valid3d.h5":
            (tmp_path / "prepared" / item.name).symlink_to(item)
    notes = []
    metrics, predictions = evaluate_models({"final": run_dir / "models/adversarial.pt"}, tmp_path / "prepared",
                                           SETTINGS, log=notes.append)
    assert "mpii_3d" not in metrics and "mpii_3d" not in metrics["mean_pose"] and "final_mpii_3d" not in predictions
    assert any("mpii_3d: skipped" in note and "real MPII has no 3D" in note for note in notes)


def test_headline_metrics_pick_the_final_models_figures():
    metrics = {"h36m": {"mpjpe": 90.0, "p_mpjpe": 70.0, "limbs": {"upper_arms": 1.0, "lower_arms": 2.0},
                        "left_right": {"order_right": 0.9, "max_pair_correlation": 0.3}},
               "mpii": {"pckh": {"mean": 60.0}}, "pretrained": {"h36m": {"mpjpe": 99.0}}}
    headline = headline_metrics(metrics)
    assert headline["lab_mpjpe"] == 90.0 and headline["lab_lower_arms"] == 2.0 and headline["wild_pckh"] == 60.0
    assert headline["lab_left_right_order"] == 0.9 and headline["lab_max_pair_correlation"] == 0.3
    assert headline["lab_upper_legs"] is None and headline["cross_pck"] is None      # absent: null


def write_params(folder, prepared="data/prepared"):
    params = {"data": {"prepared_dir": prepared, "image_size": 64},
              "runtime": {"device": "cpu", "amp": False, "threads": 0},
              "evaluate": {"batch_size": 4, "workers": 0, "max_samples": 4, "pck_threshold": 150.0,
                           "pckh_threshold": 0.5}}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def run_stage(folder):
    from stages.evaluate import main

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(main, [], catch_exceptions=False)
    finally:
        os.chdir(cwd)


def test_stage_writes_metrics_and_predictions(run_dir, tmp_path):
    for name in ("data", "models"):
        (tmp_path / name).symlink_to(run_dir / name)
    write_params(tmp_path)
    result = run_stage(tmp_path)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics/evaluate.json").read_text())
    assert metrics["h36m"]["samples"] == 4
    assert len(list((tmp_path / "predictions").glob("*.npz"))) == 8
    headline = json.loads((tmp_path / "metrics/headline.json").read_text())
    assert list(headline) == [name for name, _ in HEADLINE]
    assert headline["lab_mpjpe"] == metrics["h36m"]["mpjpe"] and headline["cross_pck"] == metrics["mpi_inf_3dhp"]["pck"]["total"]
    assert headline["lab_left_right_order"] == metrics["h36m"]["left_right"]["order_right"]
    assert "h36m MPJPE" in result.output


@pytest.mark.parametrize("missing, named", [("models/pretrain_depth.pt", "models/pretrain_depth.pt"),
                                            ("data/prepared/mpi_inf_3dhp_test.h5", "mpi_inf_3dhp_test.h5"),
                                            ("data/prepared/h36m_train.h5", "h36m_train.h5")])
def test_stage_missing_input_fails_cleanly(run_dir, tmp_path, missing, named):
    for folder in ("data/prepared", "models"):
        (tmp_path / folder).mkdir(parents=True)
        for item in (run_dir / folder).iterdir():
            if Path(folder, item.name).as_posix() != missing:
                (tmp_path / folder / item.name).symlink_to(item)
    write_params(tmp_path)
    result = run_stage(tmp_path)
    assert result.exit_code == 1
    assert named in result.output and "not found" in result.output
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "predictions").exists()


def test_predict_returns_the_heatmaps_it_decoded_on_request(tmp_path):
    write_fake_prepared(tmp_path, n=5, size=64)
    dataset = PoseDataset(prepared_path(tmp_path, "h36m", "test"))
    torch.manual_seed(0)
    generator = Generator.build(MODEL)
    plain = predict(generator, dataset, np.array([0, 2, 4]), batch_size=2)
    assert "heatmaps" not in plain
    full = predict(generator, dataset, np.array([0, 2, 4]), batch_size=2, with_heatmaps=True)
    assert full["heatmaps"].shape == (3, 16, 16, 16)
    np.testing.assert_allclose(heatmap_to_crop(decode_heatmaps(full["heatmaps"])[0], 4), full["joints_2d"], atol=1e-4)
    for key in plain:
        np.testing.assert_array_equal(plain[key], full[key])


def test_no_training_stage_reads_the_wild_3d_file(tmp_path):
    """The wild validation set's true 3D is for evaluation only: neither the training loops'
    datasets nor any dvc.yaml stage but evaluate (and tables, downstream) may read it."""
    import yaml

    from posegan.data.dataset import Augmentation
    from posegan.train.loop_setup import training_data

    write_fake_prepared(tmp_path, n=4, size=64)
    assert "mpii_valid3d" in [s.name for s in scored_sets().values()]
    assert "mpii_valid3d" not in [s.name for s in training_sets().values()]
    opened = {dataset.path.name for dataset in training_data(tmp_path, Augmentation()).values()}
    assert opened and "mpii_valid3d.h5" not in opened
    stages = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        deps = [d for d in stage["deps"] if isinstance(d, str)]
        if name in ("evaluate", "tables"):
            continue
        assert not any("valid3d" in d or d.rstrip("/") == "data/prepared" for d in deps), name
