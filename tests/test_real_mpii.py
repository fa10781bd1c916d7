"""MPII preprocessor: hourglass annot/*.h5, the official RELEASE .mat, and the real valid.h5."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import real_specimens as rs
from posegan.camera import crop_to_original
from posegan.data.real import RealDataError, prepare_real
from posegan.data.real.geometry import HEAD_SIZE_PER_SEGMENT
from posegan.data.real.mpii import mpii_table, read_mpii_hourglass, read_mpii_release, to_mpii_coordinates
from posegan.data.schema import read_prepared
from posegan.skeleton import JOINT_NAMES

SIZE = 64
J = {name: i for i, name in enumerate(JOINT_NAMES)}
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "mpii"
VALID_FRACTION = 0.3


@pytest.fixture
def mpii(tmp_path):
    """Hourglass annotations (train: the first 6 people, valid: the other 2) + images."""
    root = tmp_path / "mpii"
    people = rs.mpii_people()
    rs.write_mpii_images(root, people)
    rs.write_mpii_hourglass(root, people[:6], people[6:])
    return root, people


def run(root, out, **params):
    return prepare_real({"mpii_root": str(root), "workers": 1, **params}, out, SIZE, datasets=["mpii"],
                        progress=False)


def file_part(people):
    """`part` as the hourglass file has it: 1-based, (0, 0) where not annotated."""
    part = np.zeros((len(people), 16, 2))
    for k, p in enumerate(people):
        part[k][p["annotated"]] = p["joints"][p["annotated"]] + 1
    return part


def test_hourglass_counts_and_2d_only_fields(mpii, tmp_path):
    root, people = mpii
    train, valid = run(root, tmp_path / "out")
    arrays, attrs = read_prepared(train)
    assert (train.name, valid.name) == ("mpii_train.h5", "mpii_valid.h5")
    assert attrs["num_samples"] == 6 and read_prepared(valid)[1]["num_samples"] == len(people) - 6
    assert (attrs["dataset"], attrs["source"]) == ("mpii", "real")
    assert not arrays["has_3d"].any() and np.isnan(arrays["joints_3d"]).all()
    assert np.isnan(arrays["camera"]).all() and np.isnan(arrays["root_depth"]).all()
    for name in ("subject", "action", "camera_id", "frame"):
        assert (arrays[name] == -1).all()


def test_not_annotated_joints_visibility_and_head_sizes(mpii, tmp_path):
    root, people = mpii
    arrays, _ = read_prepared(run(root, tmp_path / "out")[0])
    train = people[:6]
    annotated = np.array([p["annotated"] for p in train])
    assert not annotated.all()  # the specimen leaves ankles out
    np.testing.assert_array_equal(arrays["annotated"], annotated)
    np.testing.assert_array_equal(arrays["visible"], np.array([p["visible"] for p in train]))
    assert (arrays["joints_2d"][~annotated] == 0).all()  # finite filler, masked by `annotated`
    np.testing.assert_allclose(arrays["head_size"], [rs.head_size(p) for p in train], rtol=1e-6)


def test_crop_rule_and_round_trip_to_mpii_coordinates(mpii, tmp_path):
    root, people = mpii
    arrays, _ = read_prepared(run(root, tmp_path / "out")[0])
    train = people[:6]
    scale = np.array([p["scale"] for p in train])
    center = np.array([p["center"] for p in train])  # 0-based
    # hourglass: centre moved down 15 x scale, side 200 x scale x 1.25 (+0.5: edge-based centre)
    np.testing.assert_allclose(arrays["crop_size"], 250 * scale, rtol=1e-6)
    np.testing.assert_allclose(arrays["crop_center"], center + 0.5 + np.stack([0 * scale, 15 * scale], -1),
                               rtol=1e-6)
    back = to_mpii_coordinates(crop_to_original(arrays["joints_2d"], arrays["crop_center"], arrays["crop_size"],
                                                SIZE))
    annotated = arrays["annotated"]
    np.testing.assert_allclose(back[annotated], file_part(train)[annotated], atol=1e-3)
    # the labelled wrist outside the image (x = -4, 0-based) survives the trip
    outside = [k for k, p in enumerate(train) if p["image_index"] == 1][0]
    assert train[outside]["joints"][10, 0] == -4.0 and back[outside, 10, 0] == pytest.approx(-3.0, abs=1e-3)


def test_joint_order_in_the_image(mpii, tmp_path):
    root, _ = mpii
    arrays, _ = read_prepared(run(root, tmp_path / "out")[0], fields=["images", "joints_2d"])
    y, x = arrays["joints_2d"][..., 1], arrays["joints_2d"][..., 0]
    assert (y[:, J["head_top"]] < y[:, J["upper_neck"]]).all() and (y[:, J["upper_neck"]] < y[:, J["pelvis"]]).all()
    assert (x[:, J["r_shoulder"]] < x[:, J["l_shoulder"]]).all()
    for image, joints in zip(arrays["images"], arrays["joints_2d"]):
        u, v = np.rint(joints[J["head_top"]]).astype(int)
        assert image[v, u, 0] > 150 and image[v, u, 2] < 110


def test_release_mat_is_read_like_the_hourglass_files(mpii, tmp_path):
    _, people = mpii
    path = tmp_path / "release" / "mpii_human_pose_v1_u12_1.mat"
    rs.write_mpii_release(path, people)
    splits = read_mpii_release(path, valid_fraction=VALID_FRACTION)
    expected = {s: [p for p in people if rs.release_split(p["image"], VALID_FRACTION) == s] for s in splits}
    assert len(expected["train"]) and len(expected["valid"])  # the specimen exercises both splits
    for split, people_read in splits.items():
        want = expected[split]
        # test images and the person without annopoints are not people
        assert people_read.image_names == [p["image"] for p in want]
        annotated = np.array([p["annotated"] for p in want])
        np.testing.assert_array_equal(people_read.annotated, annotated)
        np.testing.assert_allclose(people_read.joints[annotated], np.array([p["joints"] for p in want])[annotated],
                                   atol=1e-9)
        assert np.isnan(people_read.joints[~annotated]).all()
        # numeric, string and empty is_visible flags
        np.testing.assert_array_equal(people_read.visible, np.array([p["visible"] for p in want]))
        np.testing.assert_allclose(people_read.head_size, [rs.head_size(p) for p in want], rtol=1e-9)
        np.testing.assert_allclose(people_read.center, [p["center"] for p in want], atol=1e-9)
        np.testing.assert_allclose(people_read.scale, [p["scale"] for p in want], rtol=1e-9)


def test_release_form_end_to_end_and_auto_detection(mpii, tmp_path):
    root, people = mpii
    rs.write_mpii_release(root / "mpii_human_pose_v1_u12_2" / "mpii_human_pose_v1_u12_1.mat", people)
    out = tmp_path / "out"
    auto, _ = run(root, out)  # both forms present: auto takes the hourglass files
    assert read_prepared(auto)[1]["num_samples"] == 6
    train, valid = run(root, out, mpii_annotations="release", mpii_valid_fraction=VALID_FRACTION)
    n_valid = sum(rs.release_split(p["image"], VALID_FRACTION) == "valid" for p in people)
    assert read_prepared(valid)[1]["num_samples"] == n_valid
    assert read_prepared(train)[1]["num_samples"] == len(people) - n_valid
    arrays, attrs = read_prepared(valid)
    assert attrs["params"]["mpii_annotations"] == "release"
    want = [p for p in people if rs.release_split(p["image"], VALID_FRACTION) == "valid"]
    back = crop_to_original(arrays["joints_2d"], arrays["crop_center"], arrays["crop_size"], SIZE)
    annotated = arrays["annotated"]
    np.testing.assert_allclose(back[annotated], np.array([p["joints"] for p in want])[annotated], atol=1e-3)


# ------------------------------------------------------------------------ bad input

def test_missing_root_images_or_annotations(mpii, tmp_path):
    root, _ = mpii
    with pytest.raises(RealDataError, match="mpii_root: folder .*nowhere does not exist"):
        run(tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(RealDataError, match=r"no MPII annotations .* looked for .*mpii_human_pose_v1_u12_1\.mat"):
        run(root, tmp_path / "out", mpii_annotations="release")
    (root / "images").rename(root / "pictures")
    with pytest.raises(RealDataError, match=r"mpii/images with the MPII images does not exist"):
        run(root, tmp_path / "out")


def test_wrong_joint_count_and_missing_field(mpii, tmp_path):
    root, _ = mpii
    with h5py.File(root / "annot" / "valid.h5", "r+") as f:
        part = f["part"][()]
        del f["part"]
        f["part"] = part[:, :14]
    with pytest.raises(RealDataError, match=r"valid\.h5: part has shape \(2, 14, 2\), expected \(2, 16, 2\)"):
        read_mpii_hourglass(root / "annot" / "valid.h5")
    with h5py.File(root / "annot" / "train.h5", "r+") as f:
        del f["normalize"]
    with pytest.raises(RealDataError, match=r"train\.h5: field 'normalize' is missing"):
        run(root, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_nan_annotation_and_corrupt_jpeg(mpii, tmp_path):
    root, people = mpii
    out = tmp_path / "out"
    (root / "images" / people[0]["image"]).write_bytes(b"\xff\xd8\xff\xe0 broken")  # two people's image
    with pytest.raises(RealDataError, match=rf"images/{people[0]['image']} \(.*train\.h5 row 0 .*\): corrupt JPEG"):
        run(root, out)
    assert not out.exists() or not any(out.iterdir())
    with h5py.File(root / "annot" / "train.h5", "r+") as f:
        f["part"][3, 12, 0] = np.nan
    with pytest.raises(RealDataError, match=rf"train\.h5 row 3 \({people[3]['image']}, image index "
                                            rf"{people[3]['image_index']}, person {people[3]['person']}\): "
                                            r"NaN or infinite 2D joints \(r_shoulder\)"):
        run(root, out)
    assert not out.exists() or not any(out.iterdir())
    train, valid = run(root, out, on_error="skip")
    assert read_prepared(train)[1]["num_samples"] == 6 - 3  # row 3, and rows 0, 1 (the broken image)
    with h5py.File(train) as f:
        skipped = json.loads(f.attrs["skipped"])
    assert sorted(s["what"].split(" (")[0] for s in skipped) == ["NaN or infinite 2D joints", "corrupt JPEG",
                                                                 "corrupt JPEG"]
    assert sorted(p.name for p in out.iterdir()) == ["mpii_train.h5", "mpii_valid.h5"]


def test_release_bad_joint_id(mpii, tmp_path):
    _, people = mpii
    path = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    rs.write_mpii_release(path, people)
    from scipy.io import loadmat, savemat
    mat = loadmat(path)
    point = mat["RELEASE"][0, 0]["annolist"][0, 0]["annorect"][0, 0]["annopoints"][0, 0]["point"]
    point[0, 0]["id"] = np.array([[16.0]])
    savemat(path, {"RELEASE": mat["RELEASE"]})
    with pytest.raises(RealDataError, match=r"annolist\(1\)\.annorect\(1\) \(100000000\.jpg\): joint id 16 is "
                                            r"outside 0\.\.15"):
        read_mpii_release(path, valid_fraction=0.0)
    from posegan.data.real.errors import ErrorPolicy
    policy = ErrorPolicy("skip")
    splits = read_mpii_release(path, valid_fraction=0.0, policy=policy)
    assert len(splits["train"]) == len(people) - 1 and policy.skipped_count("train") == 1


# ------------------------------------------------------------- the real MPII annotations

@pytest.mark.skipif(not (FIXTURES / "valid.h5").exists(), reason="../shared fixtures are absent")
def test_real_mpii_validation_annotations():
    """valid.h5 of the hourglass code: 2958 people, head sizes = 0.6 x head-box diagonal."""
    from scipy.io import loadmat

    annotations = read_mpii_hourglass(FIXTURES / "valid.h5")
    assert len(annotations) == 2958
    reference = loadmat(FIXTURES / "detections_our_format.mat")
    boxes = reference["headboxes_src"]  # (2, 2, N): corner, x/y, person
    diagonal = np.linalg.norm(boxes[1] - boxes[0], axis=0)
    np.testing.assert_allclose(annotations.head_size, 0.6 * diagonal, atol=1e-3)
    missing = reference["jnt_missing"].T.astype(bool)  # (N, 16)
    np.testing.assert_array_equal(annotations.annotated, ~missing)
    ground_truth = reference["pos_gt_src"].transpose(2, 0, 1)  # (N, 16, 2), 1-based
    annotated = annotations.annotated
    # valid.h5 stores whole pixels (the evaluation file keeps the fractions of some head
    # joints), and 13 joints have one coordinate 0 in the evaluation file only
    distance = np.abs(to_mpii_coordinates(annotations.joints) - ground_truth).max(-1)[annotated]
    assert (distance < 1.0).mean() > 0.9995 and np.median(distance) < 1e-3
    assert not (annotations.visible & ~annotated).any()
    # the head-size rule used for Human3.6M and 3DHP: 0.75 x the head segment
    both = annotated[:, J["head_top"]] & annotated[:, J["upper_neck"]]
    segment = np.linalg.norm(annotations.joints[both, J["head_top"]] - annotations.joints[both, J["upper_neck"]],
                             axis=-1)
    assert np.median(annotations.head_size[both] / segment) == pytest.approx(HEAD_SIZE_PER_SEGMENT, abs=0.005)
    table = mpii_table(annotations, Path("images"), scale_factor=1.25)
    assert len(table) == 2958 and (table.crop_size > 0).all()
    assert table.image_paths[0] == Path("images") / "005808361.jpg"
