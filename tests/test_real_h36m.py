"""Human3.6M preprocessor (h36m-fetch layout) and the shared cropping / error machinery."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import real_specimens as rs
from posegan.camera import (crop_camera, crop_image, crop_to_original, depth_target, original_to_crop,
                            pose_from_prediction, project)
from posegan.data.real import RealDataError, count_real_samples, prepare_real
from posegan.data.real.h36m import H36M32_TO_H36M17, H36M_ACTIONS, h36m32_to_mpii16
from posegan.data.real.jpeg_crops import load_person_crop
from posegan.data.real.writer import scratch_path
from posegan.data.schema import read_prepared
from posegan.skeleton import JOINT_NAMES

SIZE = 64
REPO = Path(__file__).resolve().parents[1]
J = {name: i for i, name in enumerate(JOINT_NAMES)}


@pytest.fixture
def h36m(tmp_path):
    root = tmp_path / "h36m"
    return root, rs.write_h36m(root)


def run(root, out, **params):
    base = {"h36m_root": str(root), "h36m_train_subjects": ["S1"], "h36m_test_subjects": ["S9"], "workers": 1}
    return prepare_real({**base, **params}, out, SIZE, datasets=["h36m"], progress=False)


def expected(written, subjects):
    """Concatenate the specimen's ground truth in the preprocessor's order (folders sorted)."""
    keys = sorted((k for k in written if k[0] in subjects), key=lambda k: (subjects.index(k[0]), k[1]))
    return {name: np.concatenate([written[k][name] for k in keys]) for name in written[keys[0]]}


def test_counts_names_and_file_attributes(h36m, tmp_path):
    root, _ = h36m
    train, test = run(root, tmp_path / "out")
    assert (train.name, test.name) == ("h36m_train.h5", "h36m_test.h5")
    arrays, attrs = read_prepared(train)
    # S1: 2 sequences x 2 cameras x 3 frames; S9: 1 sequence
    assert attrs["num_samples"] == 12 and read_prepared(test)[1]["num_samples"] == 6
    assert (attrs["dataset"], attrs["split"], attrs["source"]) == ("h36m", "train", "real")
    assert attrs["subject_names"] == ["S1"] and attrs["action_names"] == H36M_ACTIONS
    assert attrs["camera_names"][:2] == ["54138969", "55011271"]
    # folder WalkingTogether-2 (h36m-fetch's spelling) is the action WalkTogether
    assert [attrs["action_names"][a] for a in arrays["action"]] == ["Directions"] * 6 + ["WalkTogether"] * 6
    assert arrays["frame"].tolist() == [1, 6, 11] * 4
    assert arrays["camera_id"].tolist() == ([0] * 3 + [1] * 3) * 2
    assert (arrays["subject"] == 0).all() and arrays["has_3d"].all()
    assert arrays["visible"].all() and arrays["annotated"].all()
    assert attrs["params"]["image_size"] == SIZE and attrs["params"]["h36m_root"] == str(root)
    with h5py.File(train) as f:
        assert json.loads(f.attrs["skipped"]) == []


def test_counting_reads_no_image(h36m, tmp_path):
    root, _ = h36m
    for jpeg in root.rglob("*.jpg"):
        jpeg.unlink()
    counts = count_real_samples({"h36m_root": str(root), "h36m_train_subjects": ["S1"], "h36m_test_subjects": ["S9"],
                                 "h36m_train_frame_step": 2}, datasets=["h36m"])
    assert counts == {"h36m_train.h5": 8, "h36m_test.h5": 6}


def test_joint_mapping_32_to_17_to_mpii(h36m, tmp_path):
    root, written = h36m
    arrays, _ = read_prepared(run(root, tmp_path / "out")[0])
    truth = expected(written, ["S1"])
    pose_3d = truth["pose_3d"]
    # by hand: MPII joint <- Human3.6M-32 index
    by_hand = {"r_ankle": 3, "l_ankle": 8, "pelvis": 0, "thorax": 12, "upper_neck": 13, "head_top": 15,
               "r_wrist": 27, "l_wrist": 19, "r_shoulder": 25, "l_hip": 6}
    for name, index in by_hand.items():
        np.testing.assert_allclose(arrays["joints_3d"][:, J[name]], pose_3d[:, index], atol=1e-3)
    assert H36M32_TO_H36M17 == [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    # in the image: head top above upper neck above thorax above pelvis; the person faces
    # the camera, so their right hip is on the image's left
    y = arrays["joints_2d"][..., 1]
    x = arrays["joints_2d"][..., 0]
    assert (y[:, J["head_top"]] < y[:, J["upper_neck"]]).all()
    assert (y[:, J["upper_neck"]] < y[:, J["thorax"]]).all() and (y[:, J["thorax"]] < y[:, J["pelvis"]]).all()
    assert (y[:, J["r_knee"]] < y[:, J["r_ankle"]]).all()
    assert (x[:, J["r_hip"]] < x[:, J["l_hip"]]).all() and (x[:, J["r_wrist"]] < x[:, J["l_wrist"]]).all()
    with pytest.raises(ValueError, match="32"):
        h36m32_to_mpii16(np.zeros((2, 17, 2)))


def test_intrinsics_3d_and_head_size(h36m, tmp_path):
    root, written = h36m
    arrays, _ = read_prepared(run(root, tmp_path / "out")[0])
    truth = expected(written, ["S1"])
    # annot.h5 stores [fx, cx, fy, cy]; the schema (fx, fy, cx, cy) of the crop
    original = np.array([[fx, fy, cx, cy] for fx, cx, fy, cy in
                         (rs.H36M_SPECIMEN_CAMERAS[str(c)] for c in truth["camera"])])
    np.testing.assert_allclose(arrays["camera"], crop_camera(original, arrays["crop_center"],
                                                             arrays["crop_size"], SIZE), rtol=1e-5)
    # the specimen's 2D is the exact projection of its 3D, so the crop camera reproduces it
    np.testing.assert_allclose(project(arrays["joints_3d"], arrays["camera"]), arrays["joints_2d"], atol=2e-3)
    np.testing.assert_allclose(arrays["root_depth"], truth["pose_3d"][:, 0, 2], rtol=1e-6)
    segment = np.linalg.norm(truth["pose_2d"][:, 15] - truth["pose_2d"][:, 13], axis=-1)
    np.testing.assert_allclose(arrays["head_size"], 0.75 * segment, rtol=1e-5)


def test_round_trips_to_original_pixels_and_to_millimetres(h36m, tmp_path):
    root, written = h36m
    arrays, _ = read_prepared(run(root, tmp_path / "out")[0])
    truth = expected(written, ["S1"])
    back = crop_to_original(arrays["joints_2d"], arrays["crop_center"], arrays["crop_size"], SIZE)
    np.testing.assert_allclose(back, h36m32_to_mpii16(truth["pose_2d"]), atol=2e-3)
    # the crop is the joints' box with margin 1.25: every joint inside, the box centred
    assert (arrays["joints_2d"] > 0).all() and (arrays["joints_2d"] < SIZE - 1).all()
    np.testing.assert_allclose(arrays["crop_size"], 1.25 * np.ptp(back, axis=1).max(-1), rtol=1e-4)
    box_centre = (arrays["joints_2d"].min(axis=1) + arrays["joints_2d"].max(axis=1)) / 2
    np.testing.assert_allclose(box_centre, (SIZE - 1) / 2, atol=1e-3)
    target = depth_target(arrays["joints_3d"], arrays["camera"], stride=4)
    pose = pose_from_prediction(arrays["joints_2d"], target, arrays["root_depth"], arrays["camera"], stride=4)
    np.testing.assert_allclose(pose, arrays["joints_3d"], atol=0.05)


def test_crops_show_the_marked_joints(h36m, tmp_path):
    root, _ = h36m
    path = run(root, tmp_path / "out")[0]
    arrays, _ = read_prepared(path, fields=["images", "joints_2d"])
    for image, joints in zip(arrays["images"], arrays["joints_2d"]):
        hx, hy = np.rint(joints[J["head_top"]]).astype(int)
        wx, wy = np.rint(joints[J["r_wrist"]]).astype(int)
        red, blue = image[hy, hx].astype(int), image[wy, wx].astype(int)
        assert red[0] > 150 and red[2] < 110, red
        assert blue[2] > 150 and blue[0] < 110, blue


def test_frame_step_keeps_every_kth_frame_per_camera(h36m, tmp_path):
    root, _ = h36m
    arrays, attrs = read_prepared(run(root, tmp_path / "out", h36m_train_frame_step=2)[0])
    assert attrs["num_samples"] == 8 and arrays["frame"].tolist() == [1, 11] * 4


def test_worker_pool_gives_the_same_file(h36m, tmp_path):
    root, _ = h36m
    one = run(root, tmp_path / "one", workers=1)[0]
    two = run(root, tmp_path / "two", workers=2)[0]
    a, _ = read_prepared(one, fields=["images", "joints_2d", "frame"])
    b, _ = read_prepared(two, fields=["images", "joints_2d", "frame"])
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_reduced_jpeg_decoding_matches_a_full_decode(tmp_path):
    """libjpeg's 1/r decoding + the crop at centre/r equals cropping the full image."""
    path = tmp_path / "big.jpg"
    marks = {0: (400.0, 300.0), 2: (560.0, 520.0)}  # channel -> disc centre, original pixels
    rs.write_jpeg(path, 1000, 800, head_tops=[marks[0]], right_wrists=[marks[2]], radius=24)
    from PIL import Image
    full = np.asarray(Image.open(path).convert("RGB"))
    center, size = np.array([480.5, 410.5]), 520.0  # 8x smaller: decoded at 1/8
    fast = load_person_crop(path, center, size, SIZE).astype(float)
    slow = crop_image(full, center, size, SIZE).astype(float)
    assert np.abs(fast - slow).mean() < 3.0
    for channel, point in marks.items():
        expected = original_to_crop(np.array([point]), center, size, SIZE)[0]
        for crop in (fast, slow):
            weight = np.clip(crop[..., channel] - crop[..., 1] - 60, 0, None)  # the disc's colour excess
            v, u = np.mgrid[0:SIZE, 0:SIZE]
            centroid = np.array([(u * weight).sum(), (v * weight).sum()]) / weight.sum()
            np.testing.assert_allclose(centroid, expected, atol=0.3)


def test_reuses_a_complete_file_made_from_the_same_params(h36m, tmp_path):
    root, _ = h36m
    out = tmp_path / "out"
    train = run(root, out)[0]
    with h5py.File(train, "r+") as f:
        f.attrs["mark"] = "first run"

    def marked() -> bool:
        with h5py.File(train) as f:
            return "mark" in f.attrs

    run(root, out)
    assert marked()  # untouched
    run(root, out, h36m_train_frame_step=3)
    assert not marked() and read_prepared(train)[1]["num_samples"] == 4


# ------------------------------------------------------------------------ bad input

def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_missing_root_or_unset_root(tmp_path):
    with pytest.raises(RealDataError, match=r"h36m_root: folder .*nowhere does not exist"):
        run(tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(RealDataError, match="h36m_root is not set"):
        prepare_real({}, tmp_path / "out", SIZE, datasets=["h36m"])
    with pytest.raises(ValueError, match=r"unknown key data.real.h36m_rot"):
        prepare_real({"h36m_rot": "x"}, tmp_path / "out", SIZE)
    with pytest.raises(ValueError, match="on_error must be one of"):
        run(tmp_path, tmp_path / "out", on_error="ignore")


def test_missing_subject_folder(h36m, tmp_path):
    root, _ = h36m
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match=r"processed/S11: subject folder S11 is missing"):
        run(root, out, h36m_test_subjects=["S9", "S11"])
    assert leftovers(out) == []  # all annotations are checked before any file is written
    test = run(root, out, h36m_test_subjects=["S9", "S11"], on_error="skip")[1]
    arrays, attrs = read_prepared(test)
    assert attrs["num_samples"] == 6 and attrs["subject_names"] == ["S9", "S11"]
    with h5py.File(test) as f:
        skipped = json.loads(f.attrs["skipped"])
    assert len(skipped) == 1 and "S11" in skipped[0]["where"]


def test_missing_and_corrupt_jpegs(h36m, tmp_path):
    root, _ = h36m
    sequence = root / "processed" / "S1" / "Directions-1" / "imageSequence"
    (sequence / "55011271" / "img_000006.jpg").unlink()
    truncated = sequence / "54138969" / "img_000011.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    (sequence / "54138969" / "img_000001.jpg").write_text("not a jpeg")
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match=r"img_000001\.jpg .*frame 1 camera 54138969\): corrupt JPEG"):
        run(root, out)
    assert leftovers(out) == []  # no partial output, no temporary file
    train = run(root, out, on_error="skip")[0]
    arrays, attrs = read_prepared(train)
    assert attrs["num_samples"] == 9
    kept = list(zip(arrays["camera_id"].tolist(), arrays["frame"].tolist()))[:3]
    assert kept == [(0, 6), (1, 1), (1, 11)]  # Directions-1 lost camera 0 frames 1, 11 and camera 1 frame 6
    with h5py.File(train) as f:
        skipped = json.loads(f.attrs["skipped"])
    assert sorted(s["what"].split(" (")[0] for s in skipped) == ["corrupt JPEG", "corrupt JPEG", "missing JPEG"]
    assert leftovers(out) == ["h36m_test.h5", "h36m_train.h5"]


def test_wrong_joint_count(h36m, tmp_path):
    root, _ = h36m
    annot = root / "processed" / "S1" / "Directions-1" / "annot.h5"
    with h5py.File(annot, "r+") as f:
        pose = f["pose/2d"][()]
        del f["pose/2d"]
        f["pose/2d"] = pose[:, H36M32_TO_H36M17]
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match=r"Directions-1/annot\.h5: pose/2d has shape \(6, 17, 2\), "
                                            r"expected \(N, 32, 2\)"):
        run(root, out)
    assert leftovers(out) == []
    arrays, attrs = read_prepared(run(root, out, on_error="skip")[0])
    assert attrs["num_samples"] == 6 and (arrays["action"] == H36M_ACTIONS.index("WalkTogether")).all()
    with h5py.File(out / "h36m_train.h5") as f:
        assert json.loads(f.attrs["skipped"])[0]["count"] == 6


def test_nan_in_an_annotation(h36m, tmp_path):
    root, _ = h36m
    annot = root / "processed" / "S1" / "WalkingTogether-2" / "annot.h5"
    with h5py.File(annot, "r+") as f:
        f["pose/3d"][4, 15, 1] = np.nan  # camera 55011271, frame 6, head top
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match=r"WalkingTogether-2/annot\.h5 frame 6 camera 55011271: "
                                            r"NaN or infinite 3D joints \(head_top\)"):
        run(root, out)
    assert leftovers(out) == []
    assert read_prepared(run(root, out, on_error="skip")[0])[1]["num_samples"] == 11


def test_a_killed_run_restarts_cleanly(h36m, tmp_path):
    root, _ = h36m
    out = tmp_path / "out"
    script = f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
import posegan.data.real.jpeg_crops as jpeg_crops
crop = jpeg_crops._crop_job
def slow(job):
    time.sleep(0.25)
    return crop(job)
jpeg_crops._crop_job = slow
from posegan.data.real import prepare_real
prepare_real({{"h36m_root": {str(root)!r}, "h36m_train_subjects": ["S1"], "h36m_test_subjects": ["S9"],
              "workers": 1}}, {str(out)!r}, {SIZE}, datasets=["h36m"], progress=False)
"""
    process = subprocess.Popen([sys.executable, "-c", script])
    partial = scratch_path(out / "h36m_train.h5").with_name(".h36m_train.h5.unfiltered.tmp")
    deadline = time.monotonic() + 60
    while not partial.exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert leftovers(out) == [partial.name]  # only a temporary file, never h36m_train.h5
    train, test = run(root, out)
    assert read_prepared(train)[1]["num_samples"] == 12 and read_prepared(test)[1]["num_samples"] == 6
    assert leftovers(out) == ["h36m_test.h5", "h36m_train.h5"]
