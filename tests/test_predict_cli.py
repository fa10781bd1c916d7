"""`posegan predict` (posegan/predict_cli.py, posegan/predict_images.py) on tiny models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from posegan import predict_images as pi
from posegan.model_file import ModelFileError, load_model, model_payload
from posegan.models import Generator
from posegan.models.generator import ModelSettings
from posegan.predict_cli import posegan
from posegan.skeleton import BONES, JOINT_NAMES, ROOT
from posegan.train.checkpoint import atomic_save

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "images"
PHOTO = SHARED / "000000000785.jpg"
COCO = SHARED / "person_keypoints_000000000785.json"
TINY = ModelSettings(num_stacks=1, num_blocks=1, num_features=8, depth_pooling="grid")
IMAGE_SIZE = 128


def save_tiny_model(path: Path, stage: str = "adversarial", iteration: int = 7) -> Path:
    torch.manual_seed(0)
    atomic_save(model_payload(Generator.build(TINY), TINY, stage, iteration, IMAGE_SIZE), path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("model") / "adversarial.pt")


def write_image(path: Path, width: int = 96, height: int = 80) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def run(*args):
    return CliRunner().invoke(posegan, [str(a) for a in args], catch_exceptions=False)


def check_record(record: dict, model: Path) -> None:
    assert record["joint_names"] == JOINT_NAMES
    j2 = np.array(record["joints_2d"])
    j3 = np.array(record["joints_3d_mm"])
    assert j2.shape == (16, 2) and j3.shape == (16, 3)
    assert np.isfinite(j2).all() and np.isfinite(j3).all()
    assert np.allclose(j3[ROOT], 0.0)                        # root-relative
    bones = [np.linalg.norm(j3[c] - j3[p]) for p, c in BONES]
    assert np.mean(bones) == pytest.approx(pi.reference_bone_mm(), rel=2e-3)   # adult-sized, in mm
    assert 200 < pi.reference_bone_mm() < 400
    assert record["root_depth"] == "unknown" and "unknown" in record["note"]
    assert record["model"]["path"] == str(model)
    assert record["model"]["stage"] == "adversarial" and record["model"]["iteration"] == 7


@pytest.mark.skipif(not PHOTO.exists() or not COCO.exists(), reason="../shared fixtures absent")
def test_predict_real_photo_with_coco_box(model, tmp_path):
    result = run("predict", model, PHOTO, "--coco", COCO, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "000000000785_0.json").read_text())
    check_record(record, model)
    box = json.loads(COCO.read_text())["annotations"][0]["bbox"]
    assert record["box"] == pytest.approx(box, abs=0.01)
    assert (record["image_width"], record["image_height"]) == (640, 425)
    # 2D joints lie inside the crop: the square around the COCO box (margin 1.25) that the network saw
    x, y, w, h = box
    side = 1.25 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    j2 = np.array(record["joints_2d"])
    assert record["crop"]["side"] == pytest.approx(side, abs=0.01)
    assert (j2[:, 0] >= cx - side / 2 - 0.5).all() and (j2[:, 0] <= cx + side / 2).all()
    assert (j2[:, 1] >= cy - side / 2 - 0.5).all() and (j2[:, 1] <= cy + side / 2).all()
    png = tmp_path / "out" / "000000000785_0.png"
    assert png.stat().st_size > 10_000
    with Image.open(png) as img:
        assert img.size[0] > img.size[1]                    # overlay beside the 3D skeleton
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_box_maps_back_to_original_pixels(model):
    """A crop point maps to the box's original pixels: a joint decoded at the crop's centre
    lies at the box's centre."""
    center, side = pi.box_crop((100.0, 50.0, 40.0, 80.0))
    assert side == pytest.approx(100.0)
    from posegan.camera import crop_to_original
    mid = crop_to_original(np.array([[63.5, 63.5]]), center, side, 128)[0]
    assert mid == pytest.approx([100 + 20 - 0.5, 50 + 40 - 0.5])   # the box centre in pixel-centre coordinates


def test_predict_folder_box_and_whole_image(model, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png")
    write_image(folder / "b.jpg", 64, 128)
    (folder / "notes.txt").write_text("not an image")
    result = run("predict", model, folder, "--box", "10,5,40,60", "--box", "0,0,20,20", "--out", tmp_path / "o",
                 "--no-progress")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["a_0.json", "a_0.png", "a_1.json", "a_1.png", "b_0.json", "b_0.png", "b_1.json", "b_1.png"]
    record = json.loads((tmp_path / "o" / "a_0.json").read_text())
    check_record(record, model)
    assert record["box_source"] == "--box"
    whole = run("predict", model, folder / "b.jpg", "--out", tmp_path / "w", "--no-figure")
    assert whole.exit_code == 0, whole.output
    record = json.loads((tmp_path / "w" / "b_0.json").read_text())
    assert record["box"] == [0.0, 0.0, 64.0, 128.0] and record["box_source"] == "whole image"
    assert not (tmp_path / "w" / "b_0.png").exists()


def test_progress_bar_for_folders(model, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    write_image(folder / "a.png")
    result = CliRunner().invoke(posegan, ["predict", str(model), str(folder), "--out", str(tmp_path / "o"),
                                          "--no-figure"])
    assert result.exit_code == 0, result.output
    assert "1/1" in result.stderr and "image" in result.stderr     # tqdm's bar goes to stderr


# --------------------------------------------------------------------------- bad inputs

def assert_fails(result, *fragments):
    """Exit status 1 and an 'error: ' line holding every fragment (a failed image's line, or the
    one line of a failure before any image)."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.strip().splitlines() if line.startswith("error: ")]
    assert any(all(f in line for f in fragments) for line in errors), result.output


def test_unreadable_image(model, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not really a jpeg")
    result = run("predict", model, bad, "--out", tmp_path / "o")
    assert_fails(result, "broken.jpg", "not a readable image")
    assert not list((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True


def test_missing_image(model, tmp_path):
    assert_fails(run("predict", model, tmp_path / "nope.jpg", "--out", tmp_path / "o"), "nope.jpg", "no such")


def test_box_outside_image(model, tmp_path):
    image = write_image(tmp_path / "small.png", 96, 80)
    assert_fails(run("predict", model, image, "--box", "200,10,30,30", "--out", tmp_path / "o"),
                 "small.png", "outside the image", "96 x 80")
    assert_fails(run("predict", model, image, "--box", "1,2,3", "--out", tmp_path / "o"), "x,y,w,h")
    assert_fails(run("predict", model, image, "--box", "1,2,0,5", "--out", tmp_path / "o"), "positive")
    assert not list((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True


@pytest.mark.parametrize("kind", ["checkpoint", "random_pt", "text", "state_dict", "torchscript"])
def test_model_file_of_another_kind(tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "checkpoint":
        torch.save({"models": {}, "optimizers": {}, "iteration": 3, "fingerprint": "x", "extra": {}}, path)
        expected = "training checkpoint"
    elif kind == "random_pt":
        torch.save({"weights": torch.zeros(3)}, path)
        expected = "expected a posegan model file"
    elif kind == "state_dict":
        torch.save(Generator.build(TINY).state_dict(), path)
        expected = "expected a posegan model file"
    elif kind == "torchscript":
        torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
        expected = "TorchScript archive"
    else:
        path.write_text("hello")
        expected = "not a torch file"
    image = write_image(tmp_path / "a.png")
    result = run("predict", path, image, "--out", tmp_path / "o")
    assert_fails(result, str(path), expected)
    assert len(result.output.strip().splitlines()) == 1
    with pytest.raises(ModelFileError):
        load_model(path)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_model_whose_weights_do_not_fit(tmp_path):
    path = tmp_path / "m.pt"
    payload = model_payload(Generator.build(TINY), dataclasses.replace(TINY, num_features=16), "adversarial", 1,
                            IMAGE_SIZE)
    torch.save(payload, path)
    assert_fails(run("predict", path, write_image(tmp_path / "a.png"), "--out", tmp_path / "o"),
                 "do not fit")


def test_coco_file_problems(model, tmp_path):
    image = write_image(tmp_path / "a.png")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"images": [{"file_name": "zzz.jpg", "id": 1}], "annotations": []}))
    assert_fails(run("predict", model, image, "--coco", other, "--out", tmp_path / "o"), "a.png", "not listed")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert_fails(run("predict", model, image, "--coco", broken, "--out", tmp_path / "o"), "broken.json")
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"images": [{"file_name": "a.png", "id": 1}],
                                   "annotations": [{"id": 9, "image_id": 1, "bbox": [500, 500, 10, 10]}]}))
    assert_fails(run("predict", model, image, "--coco", outside, "--out", tmp_path / "o"),
                 "a.png", "outside the image", "annotation 9")


def test_atomic_writes_leave_no_temp_file(tmp_path):
    target = tmp_path / "x.json"
    pi.write_json({"a": [1, 2]}, target)
    assert json.loads(target.read_text()) == {"a": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_module_entry_point_help():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "posegan.predict_cli", "--help"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0 and "predict" in out.stdout and "export" in out.stdout
