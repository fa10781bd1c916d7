"""Prepare what you have: data.source real with only some dataset roots set (issue 14, item 3)."""

import json

import pytest
import yaml
from click.testing import CliRunner

import real_specimens as rs
from posegan.data.dataset import PoseDataset
from fakes import DEFAULT_REAL
from posegan.data.real import RealDataError, datasets_with_roots, prepare_real
from posegan.predict_cli import posegan
from stages.preprocess import main
from test_predict_cli import save_tiny_model

SEQUENCES = {"TS1": {"valid": [1, 1, 0, 1], "activity": [1, 2, 2, 3], "camera": [150.0, 150.0, 80.0, 60.0],
                     "size": (160, 120)}}


def only_3dhp_params(tmp_path, image_size=64):
    rs.write_3dhp(tmp_path / "3dhp", SEQUENCES)
    data = {"source": "real", "prepared_dir": str(tmp_path / "prepared"), "image_size": image_size,
            "real": {**DEFAULT_REAL, "mpi_inf_3dhp_root": str(tmp_path / "3dhp"),
                     "workers": 1, "mpi_inf_3dhp_sequences": ["TS1"],
                     "mpi_inf_3dhp_intrinsics": {"TS1": SEQUENCES["TS1"]["camera"]}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 0, "data": data}))
    return path, data


def test_datasets_with_roots():
    assert datasets_with_roots({"mpi_inf_3dhp_root": "/data/3dhp"}) == ["mpi_inf_3dhp"]
    assert datasets_with_roots({"h36m_root": "a", "mpii_root": "b"}) == ["h36m", "mpii"]
    assert datasets_with_roots({}) == []
    with pytest.raises(RealDataError, match="none of data.real"):
        prepare_real({}, "unused", 64)


def test_preprocess_prepares_only_3dhp_then_evaluate_on_it(tmp_path):
    params, data = only_3dhp_params(tmp_path)
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "h36m_test.h5").write_text("stale file from an earlier synthetic run")
    result = CliRunner().invoke(main, ["--params", str(params), "--contact-sheet",
                                       str(tmp_path / "reports/sheet.png"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in prepared.iterdir()) == ["mpi_inf_3dhp_test.h5"]
    assert "removed" in result.output and "h36m_root is not set" in result.output
    assert "not prepared (root not set): h36m, mpii" in result.output

    # a stage needing a missing dataset says which file and which root
    with pytest.raises(FileNotFoundError, match=r"h36m_test.h5: prepared file not found .*data.real.h36m_root"):
        PoseDataset(prepared / "h36m_test.h5")

    model = save_tiny_model(tmp_path / "adversarial.pt")
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(posegan, ["evaluate", str(model), "--set", "mpi_inf_3dhp", "--prepared-dir",
                                          str(prepared), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["set"] == "mpi_inf_3dhp" and scores["samples"] == 3
    assert 0 <= scores["pck"]["total"] <= 100 and 0 <= scores["auc"]["total"] <= 100
    assert scores["mpjpe"] > 0 and scores["model"]["stage"] == "adversarial"

    missing = CliRunner().invoke(posegan, ["evaluate", str(model), "--set", "h36m", "--prepared-dir",
                                           str(prepared)])
    assert missing.exit_code != 0
    assert "h36m_test.h5" in missing.output and "data.real.h36m_root" in missing.output


def test_preprocess_with_no_root_set_fails_clearly(tmp_path):
    data = {"source": "real", "prepared_dir": str(tmp_path / "prepared"), "image_size": 64,
            "real": DEFAULT_REAL}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 0, "data": data}))
    result = CliRunner().invoke(main, ["--params", str(tmp_path / "params.yaml"), "--contact-sheet",
                                       str(tmp_path / "sheet.png"), "--no-progress"])
    assert result.exit_code != 0
    assert "none of data.real.h36m_root, data.real.mpii_root, data.real.mpi_inf_3dhp_root is set" in result.output
