"""`posegan predict / export / evaluate` as a new user runs them (issue 20): outputs outside DVC's,
folder runs that go on past a bad image, doubtful inputs, argument checks before any work."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakes import write_fake_prepared
from posegan.predict_cli import DEFAULT_OUT, posegan
from test_predict_cli import save_tiny_model, write_image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("model") / "adversarial.pt")


def run(*args):
    return CliRunner().invoke(posegan, [str(a) for a in args], catch_exceptions=False)


def lines_of(text: str) -> list[str]:
    """Lines as a terminal shows them (a progress bar redraws itself after a carriage return)."""
    return [line.split("\r")[-1] for line in text.splitlines()]


# --------------------------------------------------------------------------- DVC outputs

def test_default_out_is_owned_by_no_stage_and_is_ignored_by_git():
    from posegan.output_paths import owning_output

    assert DEFAULT_OUT == "outputs/predict"
    assert owning_output(ROOT / DEFAULT_OUT) is None
    assert owning_output(ROOT / "predictions" / "photos") is not None
    assert "/outputs/" in (ROOT / ".gitignore").read_text().splitlines()


def test_every_writing_command_refuses_a_dvc_output(model, tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages:\n  evaluate:\n    cmd: x\n    outs:\n      - predictions\n"
                                       "    metrics:\n      - metrics/evaluate.json:\n          cache: false\n")
    monkeypatch.chdir(tmp_path)
    image = write_image(tmp_path / "a.png")
    cases = [("predict", model, image, "--out", "predictions/photos"),
             ("export", model, "--format", "torchscript", "--out", "predictions/m.ts.pt"),
             ("evaluate", model, "--out", "metrics/evaluate.json")]
    for args in cases:
        result = run(*args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "an output of the DVC stage 'evaluate'" in lines[0], result.output
        assert "dvc repro deletes" in lines[0] and lines[0].startswith("error: --out ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "dvc.yaml"]
    written = run("predict", model, image, "--no-figure")        # the default folder is fine
    assert written.exit_code == 0, written.output
    assert (tmp_path / DEFAULT_OUT / "a_0.json").exists()


# --------------------------------------------------------------------------- folder runs

@pytest.fixture()
def folder_with_a_bad_image(tmp_path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png")
    (folder / "b.jpg").write_text("a text file named .jpg")
    write_image(folder / "c.png")
    return folder


def test_folder_run_reports_a_bad_image_and_goes_on(model, tmp_path, folder_with_a_bad_image):
    result = CliRunner().invoke(posegan, ["predict", str(model), str(folder_with_a_bad_image), "--out",
                                          str(tmp_path / "o"), "--no-figure", "--progress"])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a_0.json", "c_0.json"]
    shown = lines_of(result.stderr)
    assert any(line.startswith("error: ") and "b.jpg: not a readable image" in line for line in shown), shown
    assert shown[-1].startswith("error: 1 of 3 image(s) failed"), shown
    assert "3/3" in result.stderr                                   # the bar went through every image


def test_stop_on_error_stops_at_the_first(model, tmp_path, folder_with_a_bad_image):
    result = run("predict", model, folder_with_a_bad_image, "--out", tmp_path / "o", "--no-figure",
                 "--stop-on-error")
    assert result.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a_0.json"]
    assert "stopped there: --stop-on-error" in result.output


def test_image_missing_from_coco_is_skipped(model, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png")
    write_image(folder / "b.png")
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [{"file_name": "b.png", "id": 1}],
                                "annotations": [{"id": 5, "image_id": 1, "bbox": [10, 10, 40, 50]}]}))
    result = run("predict", model, folder, "--coco", coco, "--out", tmp_path / "o", "--no-figure")
    assert result.exit_code == 1
    assert "a.png: not listed in" in result.output and "skipped" in result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["b_0.json"]


def test_no_empty_output_folder_when_nothing_succeeds(model, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("no image")
    result = run("predict", model, bad, "--out", tmp_path / "new" / "o")
    assert result.exit_code == 1
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- doubtful inputs

def test_tiny_image_and_tiny_box_are_refused(model, tmp_path):
    tiny = write_image(tmp_path / "tiny.png", 8, 8)
    result = run("predict", model, tiny, "--out", tmp_path / "o")
    assert result.exit_code == 1 and "image is 8 x 8 pixels; expected at least 32" in result.output
    image = write_image(tmp_path / "a.png")
    result = run("predict", model, image, "--box", "10,10,1,1", "--out", tmp_path / "o")
    assert result.exit_code == 1 and "is 1 x 1 pixels; expected at least 4" in result.output


def test_small_crop_and_other_image_size_warn(model, tmp_path):
    image = write_image(tmp_path / "a.png")
    result = run("predict", model, image, "--box", "10,10,8,12", "--out", tmp_path / "o", "--no-figure")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "upsampled to 128" in result.output
    other = run("predict", model, image, "--image-size", "256", "--out", tmp_path / "o", "--no-figure")
    assert other.exit_code == 0
    assert "warning: --image-size 256" in other.output and "trained on 128-px crops" in other.output


def test_no_3d_from_a_model_without_a_trained_depth_regressor(tmp_path):
    model = save_tiny_model(tmp_path / "pretrain_2d.pt", stage="pretrain_2d")
    result = run("predict", model, write_image(tmp_path / "a.png"), "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "depth regressor is untrained" in result.output
    record = json.loads((tmp_path / "o" / "a_0.json").read_text())
    assert record["joints_3d_mm"] is None and "pretrain_2d" in record["note"]
    assert len(record["joints_2d"]) == 16 and (tmp_path / "o" / "a_0.png").exists()


# --------------------------------------------------------------------------- smaller items

def test_prediction_records_the_model_hash(model, tmp_path):
    run("predict", model, write_image(tmp_path / "a.png"), "--out", tmp_path / "o", "--no-figure")
    record = json.loads((tmp_path / "o" / "a_0.json").read_text())
    assert record["model"]["md5"] == hashlib.md5(model.read_bytes()).hexdigest()


def test_onnx_without_onnx_names_the_extra(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)          # import onnx fails as if not installed
    result = run("export", model, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert result.exit_code == 1
    assert "pip install -e '.[export]'" in result.output and "export extra" in result.output
    assert not list(tmp_path.iterdir())


HOLD_A_TEMPORARY_FILE = """
import sys, time
from posegan.atomic_files import exit_on_sigterm, replacing
exit_on_sigterm()
with replacing(sys.argv[1]) as tmp:
    tmp.write_text("half")
    print("ready", flush=True)
    time.sleep(60)
"""


def test_sigterm_removes_the_temporary_file(tmp_path):
    target = tmp_path / "result.json"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_A_TEMPORARY_FILE, str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert (tmp_path / "result.json.tmp").exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert not list(tmp_path.iterdir())


def test_a_sigterm_whose_exception_was_lost_stops_the_folder_run(model, tmp_path, monkeypatch):
    """Python ignores an exception raised in a finaliser, so a SIGTERM handled there is only
    remembered; the folder loop stops at the next image, leaving no empty output folder."""
    from posegan import atomic_files

    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png")
    write_image(folder / "b.png")
    monkeypatch.setattr(atomic_files, "_terminated", [128 + signal.SIGTERM])
    result = CliRunner().invoke(posegan, ["predict", str(model), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 128 + signal.SIGTERM
    assert not (tmp_path / "o").exists()


def test_predict_cli_entry_point_handles_sigterm():
    source = (ROOT / "posegan" / "predict_cli.py").read_text()
    assert "exit_on_sigterm()" in source.split("def main()")[1]


# --------------------------------------------------------------------------- evaluate

@pytest.fixture()
def prepared(tmp_path) -> Path:
    folder = tmp_path / "prepared"
    write_fake_prepared(folder, n=4)
    return folder


@pytest.fixture()
def no_inference(monkeypatch):
    import posegan.predict

    def refuse(*args, **kwargs):
        raise AssertionError("inference ran before the arguments were checked")

    monkeypatch.setattr(posegan.predict, "predict", refuse)


@pytest.mark.parametrize("size", ["0", "-3"])
def test_evaluate_batch_size(model, prepared, no_inference, size):
    result = run("evaluate", model, "--prepared-dir", prepared, "--batch-size", size)
    assert result.exit_code == 1 and result.output.strip() == f"error: --batch-size {size}: expected an integer >= 1"


def test_evaluate_out_under_a_file(model, prepared, no_inference, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run("evaluate", model, "--prepared-dir", prepared, "--out", tmp_path / "afile" / "s.json")
    assert result.exit_code == 1 and "afile is a file, not a folder" in result.output


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_unwritable_out_is_refused_before_the_work(model, prepared, no_inference, tmp_path):
    """/proc takes no new files, whoever runs the tests (a chmod'ed folder would not stop root)."""
    result = run("evaluate", model, "--prepared-dir", prepared, "--out", "/proc/posegan-test/s.json")
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: --out /proc/posegan-test/s.json: cannot be written here")
    image = write_image(tmp_path / "a.png")
    result = run("predict", model, image, "--out", "/proc/posegan-test", "--no-figure")
    assert result.exit_code == 1 and "cannot be written here" in result.output


def test_the_writability_probe_leaves_nothing_behind(tmp_path):
    from posegan.output_paths import check_output_path

    check_output_path(tmp_path / "new" / "deeper" / "s.json", "--out")
    check_output_path(tmp_path / "folder" / "o", "--out", folder=True)
    assert list(tmp_path.iterdir()) == []


def test_evaluate_checks_the_files_dataset(model, prepared, no_inference):
    os.replace(prepared / "h36m_test.h5", prepared / "mpi_inf_3dhp_test.h5")
    result = run("evaluate", model, "--prepared-dir", prepared, "--set", "mpi_inf_3dhp")
    assert result.exit_code == 1
    assert "mpi_inf_3dhp_test.h5: its attributes say dataset 'h36m'" in result.output


def test_evaluate_still_scores(model, prepared, tmp_path):
    out = tmp_path / "scores.json"
    result = run("evaluate", model, "--prepared-dir", prepared, "--set", "h36m", "--out", out)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["samples"] == 4 and scores["model"]["md5"] == hashlib.md5(model.read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared", "scores.json"]
