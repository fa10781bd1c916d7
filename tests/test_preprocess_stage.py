"""The preprocess stage: the click command, its parameter checks, and `dvc repro preprocess`."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from dvc_repo import make_dvc_repo
from fakes import DEFAULT_REAL
from posegan.data.schema import read_prepared, validate
from stages.preprocess import main

TINY_DATA = {
    "source": "synthetic",
    "image_size": 32,
    "synthetic": {"seed": 1, "lab_train_per_subject": 4, "lab_test_per_subject": 4, "wild_train": 5,
                  "wild_valid": 3, "cross_test": 7, "cross_valid": 4, "workers": 1},
    "real": DEFAULT_REAL,
}
FILES = ["h36m_train.h5", "h36m_test.h5", "mpii_train.h5", "mpii_valid.h5", "mpii_valid3d.h5",
         "mpi_inf_3dhp_test.h5", "mpi_inf_3dhp_valid.h5"]


def _params(tmp_path, **changes) -> tuple[str, dict]:
    data = yaml.safe_load(yaml.safe_dump(TINY_DATA))
    data["prepared_dir"] = str(tmp_path / "data" / "prepared")
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"seed": 0, "data": data}))
    return str(path), data


def _run(tmp_path, params_path):
    sheet = tmp_path / "reports" / "contact_sheet.png"
    return CliRunner().invoke(main, ["--params", params_path, "--contact-sheet", str(sheet), "--no-progress"]), sheet


def test_stage_writes_every_file_and_a_contact_sheet(tmp_path):
    params_path, data = _params(tmp_path)
    result, sheet = _run(tmp_path, params_path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "data" / "prepared"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    sizes = {}
    for name in FILES:
        attrs = validate(out / name)
        assert attrs["source"] == "synthetic" and attrs["image_size"] == 32
        assert attrs["params"]["synthetic"] == data["synthetic"]
        sizes[name] = attrs["num_samples"]
    assert sizes == {"h36m_train.h5": 20, "h36m_test.h5": 8, "mpii_train.h5": 5, "mpii_valid.h5": 3,
                     "mpii_valid3d.h5": 3, "mpi_inf_3dhp_test.h5": 7, "mpi_inf_3dhp_valid.h5": 4}
    arrays, _ = read_prepared(out / "mpii_train.h5")
    assert np.isnan(arrays["joints_3d"]).all() and not arrays["has_3d"].any()
    # The wild validation set's evaluation-only 3D: the same images and 2D labels, with the true 3D.
    fields = ["images", "joints_2d", "joints_3d", "has_3d"]
    wild, _ = read_prepared(out / "mpii_valid.h5", fields=fields)
    wild3d, _ = read_prepared(out / "mpii_valid3d.h5", fields=fields)
    np.testing.assert_array_equal(wild3d["images"], wild["images"])
    np.testing.assert_array_equal(wild3d["joints_2d"], wild["joints_2d"])
    assert wild3d["has_3d"].all() and np.isfinite(wild3d["joints_3d"]).all() and not wild["has_3d"].any()
    with Image.open(sheet) as image:  # 5 rows of 8 tiles at twice the crop size, plus a title bar each
        assert image.size == (8 * 64, 5 * (64 + 18))
    assert not list(tmp_path.glob("**/*.tmp")) and not list((tmp_path / "data").glob(".*"))


@pytest.mark.parametrize("change, message", [
    ({"source": "imagenet"}, "data.source must be one of synthetic, real, got 'imagenet'"),
    ({"source": "real"}, "none of data.real.h36m_root, data.real.mpii_root, data.real.mpi_inf_3dhp_root is set"),
    ({"synthetic.wild_train": 0}, "data.synthetic.wild_train must be >= 1, got 0"),
    ({"synthetic.lab_train_per_subject": -5}, "data.synthetic.lab_train_per_subject must be >= 1, got -5"),
    ({"image_size": 0}, "data.image_size must be >= 16, got 0"),
    ({"synthetic.workers": "two"}, "data.synthetic.workers must be an integer"),
])
def test_bad_params_fail_clearly_without_output(tmp_path, change, message):
    params_path, _ = _params(tmp_path, **change)
    result, sheet = _run(tmp_path, params_path)
    assert result.exit_code != 0
    assert message in result.output and "params.yaml" in result.output
    assert not (tmp_path / "data" / "prepared").exists() and not sheet.exists()


def test_unwritable_output_folder_fails_clearly(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    params_path, _ = _params(tmp_path, prepared_dir=str(blocker / "prepared"))
    result, sheet = _run(tmp_path, params_path)
    assert result.exit_code != 0
    assert "data.prepared_dir: cannot write to the folder" in result.output
    assert blocker.read_text() == "a file where a folder should be" and not sheet.exists()
    if os.geteuid() != 0:  # root may write anywhere: only a permission check as a normal user
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        params_path, _ = _params(tmp_path, prepared_dir=str(locked / "prepared"))
        result, _ = _run(tmp_path, params_path)
        assert result.exit_code != 0 and "data.prepared_dir" in result.output


def test_missing_params_file_fails_clearly(tmp_path):
    result, _ = _run(tmp_path, str(tmp_path / "nowhere.yaml"))
    assert result.exit_code != 0 and "params file not found" in result.output


@pytest.mark.slow
def test_dvc_repro_preprocess_in_a_fresh_repository(tmp_path):
    repo = make_dvc_repo(tmp_path, params={"data": {**TINY_DATA, "prepared_dir": "data/prepared"}})
    repo.dvc("repro", "preprocess")
    out = repo.path / "data" / "prepared"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name in FILES:
        validate(out / name)
    assert (repo.path / "reports" / "contact_sheet.png").exists()
    lock = yaml.safe_load((repo.path / "dvc.lock").read_text())
    outs = {o["path"] for o in lock["stages"]["preprocess"]["outs"]}
    assert outs == {"data/prepared", "reports/contact_sheet.png"}
    assert "data.synthetic" in lock["stages"]["preprocess"]["params"]["params.yaml"]
    # Up to date now; a data parameter change makes the stage stale again.
    assert "didn't change" in repo.dvc("repro", "preprocess").stdout
    repo.set_params({"data": {"synthetic": {"seed": 2}}})
    assert "preprocess" in repo.dvc("status", "preprocess").stdout


def test_contact_sheet_draws_sides_in_their_colours():
    from posegan.report.contact_sheet import LEFT_COLOR, RIGHT_COLOR, draw_skeleton
    from posegan.skeleton import JOINT_NAMES

    j = {name: i for i, name in enumerate(JOINT_NAMES)}
    joints = np.full((16, 2), 5.0)
    joints[j["r_hip"]], joints[j["r_knee"]] = (4.0, 4.0), (4.0, 28.0)      # a vertical right thigh
    joints[j["l_hip"]], joints[j["l_knee"]] = (26.0, 4.0), (26.0, 28.0)    # a vertical left thigh
    annotated = np.zeros(16, bool)
    annotated[[j["r_hip"], j["r_knee"], j["l_hip"], j["l_knee"]]] = True
    canvas = np.asarray(draw_skeleton(np.zeros((32, 32, 3), np.uint8), joints, annotated, annotated, scale=2))
    assert tuple(canvas[32, 8]) == RIGHT_COLOR and tuple(canvas[32, 52]) == LEFT_COLOR  # (row, col) at 2x
    annotated[j["l_knee"]] = False  # a bone to a joint without a label is not drawn
    canvas = np.asarray(draw_skeleton(np.zeros((32, 32, 3), np.uint8), joints, annotated, annotated, scale=2))
    assert tuple(canvas[32, 52]) == (0, 0, 0)
