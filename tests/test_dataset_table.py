"""The dataset table (posegan/data/sets.py): dvc.yaml agrees with it, every part reads it, and
docs/add-evaluation-dataset.md's worked example adds an evaluation set by a reader, a row and
a root alone."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from fakes import write_fake_prepared
from posegan.data import sets
from posegan.data.real import RealDataSettings
from posegan.data.schema import read_prepared
from posegan.scoring import SCORERS
from test_predict_cli import save_tiny_model

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PREPARED = yaml.safe_load((ROOT / "params.yaml").read_text())["data"]["prepared_dir"]
TRAINING_STAGES = ("pretrain_2d", "pretrain_depth", "adversarial")


def prepared_deps(stage: str) -> set[str]:
    return {d for d in DVC[stage]["deps"] if isinstance(d, str) and d.startswith(PREPARED)}


def test_training_stages_depend_on_exactly_the_training_sets():
    expected = {f"{PREPARED}/{entry.file_name}" for entry in sets.training_sets().values()}
    assert sorted(sets.training_sets()) == ["lab_train", "lab_val", "wild_train", "wild_val"]
    for stage in TRAINING_STAGES:
        assert prepared_deps(stage) == expected, stage


def test_preprocess_writes_and_evaluate_reads_the_prepared_folder():
    assert PREPARED in DVC["preprocess"]["outs"]
    assert PREPARED in DVC["evaluate"]["deps"]      # every test set, optional ones included
    readers = {entry.reader.partition(":")[0].replace(".", "/") for entry in sets.SETS if entry.reader}
    for module in readers:
        assert any(module == d.removesuffix(".py") or module.startswith(d + "/") for d in DVC["preprocess"]["deps"]), \
            f"preprocess does not depend on the reader {module}"


def test_tables_stage_depends_on_the_sets_of_its_figures():
    figures = {f"{PREPARED}/{entry.file_name}" for entry in sets.SETS if entry.figure}
    assert prepared_deps("tables") == figures
    outs = DVC["tables"]["outs"]
    assert "figures" in outs


def test_every_row_names_things_that_exist():
    assert len({entry.name for entry in sets.SETS}) == len(sets.SETS)
    assert list(sets.scored_sets()) == ["h36m", "mpii", "mpi_inf_3dhp", "mpii_3d"]   # evaluate.json's order
    assert list(sets.validation_sets()) == ["mpii", "mpi_inf_3dhp", "mpii_3d"]
    for key, entry in sets.validation_sets().items():       # scored like a test set, never a test split
        assert key in sets.scored_sets() and not entry.role.endswith("_test"), entry
    fields = {f.name for f in dataclasses.fields(RealDataSettings)}
    for entry in sets.SETS:
        assert entry.scorer is None or entry.scorer in SCORERS, entry
        if entry.reader:
            module, _, function = entry.reader.partition(":")
            assert callable(getattr(importlib.import_module(module), function)), entry
            assert set(entry.real_params) <= fields, entry
    assert sets.by_role(sets.MEAN_POSE_SOURCE).has_3d
    with pytest.raises(ValueError, match="role 'lab'"):
        sets.PreparedSet("x", "test", "lab")


def test_real_data_defaults_are_params_yaml_s():
    """RealDataSettings' constructor defaults (for library callers) cannot disagree with params.yaml."""
    from posegan.config import ParamsFile
    from posegan.data.preprocess_settings import DataSettings

    assert ParamsFile.read(ROOT / "params.yaml").section("data", DataSettings).real == RealDataSettings()


# --------------------------------------------------------------------------- the worked example

def doc_blocks(language: str) -> list[str]:
    text = (ROOT / "docs/add-evaluation-dataset.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def write_capture(root: Path, n: int = 6) -> None:
    """A small capture in the example's format: annotations.json and 160 x 120 JPEG frames."""
    rng = np.random.default_rng(3)
    (root / "frames").mkdir(parents=True)
    camera = [150.0, 150.0, 80.0, 60.0]
    frames = []
    for i in range(n):
        joints = np.array([0.0, 0.0, 4000.0]) + rng.normal(scale=[200, 300, 150], size=(16, 3))
        image = f"frames/{i:06d}.jpg"
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(root / image)
        frames.append({"image": image, "activity": ["walk", "sit"][i % 2], "joints_3d": joints.round(1).tolist(),
                       "camera": camera})
    (root / "annotations.json").write_text(json.dumps(frames))


def test_the_worked_example_adds_an_evaluation_set(tmp_path, monkeypatch):
    from posegan.evaluate import EvaluateSettings, evaluate_models
    from posegan.predict_cli import posegan
    from stages.preprocess import main as preprocess

    reader_code, row_code = doc_blocks("python")
    (params_block,) = doc_blocks("yaml")
    # 1. the reader, as the module posegan/data/real/capture.py would be
    reader = types.ModuleType("posegan.data.real.capture")
    exec(compile(reader_code, "posegan/data/real/capture.py", "exec"), reader.__dict__)
    monkeypatch.setitem(sys.modules, "posegan.data.real.capture", reader)
    # 2. the row, added to the table
    row = eval(row_code, {"PreparedSet": sets.PreparedSet})
    monkeypatch.setattr(sets, "SETS", (*sets.SETS, row))
    # 3. the root, in a params file
    write_capture(tmp_path / "my_capture")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    added = yaml.safe_load(params_block)["data"]
    params["data"].update(source=added["source"], prepared_dir=str(tmp_path / "prepared"), image_size=64)
    params["data"]["real"].update(added["real"], capture_root=str(tmp_path / "my_capture"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    result = CliRunner().invoke(preprocess, ["--params", str(tmp_path / "params.yaml"), "--contact-sheet",
                                             str(tmp_path / "sheet.png"), "--no-progress"])
    assert result.exit_code == 0, result.output
    prepared = tmp_path / "prepared"
    assert sorted(p.name for p in prepared.iterdir()) == ["capture_test.h5"]
    arrays, attrs = read_prepared(prepared / "capture_test.h5", fields=["joints_3d", "has_3d", "action"])
    assert attrs["dataset"] == "capture" and attrs["action_names"] == ["sit", "walk"]
    assert attrs["params"]["capture_root"] == str(tmp_path / "my_capture") and arrays["has_3d"].all()
    assert arrays["action"].tolist() == [1, 0, 1, 0, 1, 0]

    # posegan evaluate scores it alone ...
    model = save_tiny_model(tmp_path / "adversarial.pt")
    result = CliRunner().invoke(posegan, ["evaluate", str(model), "--set", "capture", "--prepared-dir", str(prepared)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["set"] == "capture" and scores["samples"] == 6 and set(scores["pck"]) == {"total", "sit", "walk"}

    # ... and the evaluate stage's scoring beside the other test sets
    write_fake_prepared(prepared, n=4, size=64)
    metrics, predictions = evaluate_models({"final": model}, prepared, EvaluateSettings(batch_size=4))
    assert round(metrics["capture"]["pck"]["total"], 2) == scores["pck"]["total"]      # the same scorer
    assert "plausibility" in metrics["capture"] and "capture" in metrics["mean_pose"]
    assert "final_capture" in predictions
