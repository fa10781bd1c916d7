"""MPI-INF-3DHP test-set preprocessor (TS<n>/annot_data.mat, MATLAB v7.3)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import real_specimens as rs
from posegan.camera import crop_camera, crop_to_original, project
from posegan.data.real import RealDataError, prepare_real
from posegan.data.real.mpi_inf_3dhp import ACTIVITY_NAMES, DEFAULT_INTRINSICS
from posegan.data.schema import read_prepared
from posegan.skeleton import JOINT_NAMES, mpi3dhp17_to_mpii16

SIZE = 64
J = {name: i for i, name in enumerate(JOINT_NAMES)}
SEQUENCES = {
    "TS1": {"valid": [1, 1, 0, 1, 1, 0], "activity": [1, 2, 2, 3, 4, 4], "camera": [150.0, 150.0, 80.0, 60.0],
            "size": (160, 120)},
    "TS5": {"valid": [1, 0, 1, 1], "activity": [7, 7, 6, 5], "camera": [170.0, 168.0, 82.0, 50.0],
            "size": (160, 96)},
}


@pytest.fixture
def dhp(tmp_path):
    root = tmp_path / "mpi_inf_3dhp_test_set"
    return root, rs.write_3dhp(root, SEQUENCES)


def run(root, out, **params):
    base = {"mpi_inf_3dhp_root": str(root), "mpi_inf_3dhp_sequences": ["TS1", "TS5"], "workers": 1,
            "mpi_inf_3dhp_intrinsics": {name: spec["camera"] for name, spec in SEQUENCES.items()}}
    return prepare_real({**base, **params}, out, SIZE, datasets=["mpi_inf_3dhp"], progress=False)[0]


def truth(written, key):
    """The specimen's valid frames of TS1 then TS5, (F, 17, C)."""
    return np.concatenate([written[s][key][written[s]["valid"]] for s in ("TS1", "TS5")])


def test_valid_frames_only_with_names(dhp, tmp_path):
    root, _ = dhp
    path = run(root, tmp_path / "out")
    arrays, attrs = read_prepared(path)
    assert path.name == "mpi_inf_3dhp_test.h5"
    assert attrs["num_samples"] == 4 + 3 and (attrs["dataset"], attrs["split"]) == ("mpi_inf_3dhp", "test")
    assert attrs["subject_names"] == ["TS1", "TS5"] and attrs["action_names"] == ACTIVITY_NAMES
    assert arrays["subject"].tolist() == [0] * 4 + [1] * 3
    assert arrays["frame"].tolist() == [1, 2, 4, 5, 1, 3, 4]  # 1-based, = the JPEG numbers
    assert [ACTIVITY_NAMES[a] for a in arrays["action"]] == [
        "Standing/Walking", "Exercising", "Sitting", "Reaching/Crouching", "Miscellaneous", "Sports",
        "On the floor"]
    assert arrays["has_3d"].all() and arrays["annotated"].all() and arrays["visible"].all()


def test_joints_intrinsics_and_round_trip(dhp, tmp_path):
    root, written = dhp
    arrays, _ = read_prepared(run(root, tmp_path / "out"))
    univ, annot3, annot2 = (truth(written, k) for k in ("univ_annot3", "annot3", "annot2"))
    # by hand: MPII joint <- 3DHP-17 index
    for name, index in {"head_top": 0, "upper_neck": 1, "r_wrist": 4, "l_ankle": 13, "pelvis": 14,
                        "thorax": 15, "r_hip": 8}.items():
        np.testing.assert_allclose(arrays["joints_3d"][:, J[name]], univ[:, index], atol=1e-3)
    np.testing.assert_allclose(arrays["root_depth"], univ[:, 14, 2], rtol=1e-6)
    cameras = np.array([SEQUENCES["TS1"]["camera"]] * 4 + [SEQUENCES["TS5"]["camera"]] * 3)
    np.testing.assert_allclose(arrays["camera"], crop_camera(cameras, arrays["crop_center"], arrays["crop_size"],
                                                             SIZE), rtol=1e-5)
    back = crop_to_original(arrays["joints_2d"], arrays["crop_center"], arrays["crop_size"], SIZE)
    np.testing.assert_allclose(back, mpi3dhp17_to_mpii16(annot2), atol=2e-3)
    segment = np.linalg.norm(annot2[:, 0] - annot2[:, 1], axis=-1)
    np.testing.assert_allclose(arrays["head_size"], 0.75 * segment, rtol=1e-5)
    y = arrays["joints_2d"][..., 1]
    assert (y[:, J["head_top"]] < y[:, J["upper_neck"]]).all() and (y[:, J["thorax"]] < y[:, J["pelvis"]]).all()
    # annot3 is the skeleton the image shows: the crop camera projects it onto the 2D joints
    image_consistent, _ = read_prepared(run(root, tmp_path / "own", mpi_inf_3dhp_joints_3d="annot3"))
    np.testing.assert_allclose(image_consistent["joints_3d"], mpi3dhp17_to_mpii16(annot3), atol=1e-3)
    np.testing.assert_allclose(project(image_consistent["joints_3d"], image_consistent["camera"]),
                               image_consistent["joints_2d"], atol=2e-3)
    assert not np.allclose(arrays["joints_3d"], image_consistent["joints_3d"])


def test_crops_show_the_head_top(dhp, tmp_path):
    root, _ = dhp
    arrays, _ = read_prepared(run(root, tmp_path / "out"), fields=["images", "joints_2d"])
    for image, joints in zip(arrays["images"], arrays["joints_2d"]):
        u, v = np.rint(joints[J["head_top"]]).astype(int)
        assert image[v, u, 0] > 150 and image[v, u, 2] < 110


def test_frame_step_counts_valid_frames(dhp, tmp_path):
    root, _ = dhp
    arrays, _ = read_prepared(run(root, tmp_path / "out", mpi_inf_3dhp_frame_step=2))
    assert arrays["frame"].tolist() == [1, 4, 1, 4]


def test_default_intrinsics_on_a_full_size_outdoor_frame(tmp_path):
    """TS5 at its real 1920 x 1080 with the default camera (decoded at 1/8 for the crop)."""
    camera = DEFAULT_INTRINSICS["TS5"]
    assert camera == [1683.98, 1683.98, 939.86, 560.14] and DEFAULT_INTRINSICS["TS1"][2:] == [1017.39, 1043.03]
    root = tmp_path / "dhp"
    written = rs.write_3dhp(root, {"TS5": {"valid": [1], "activity": [1], "camera": camera, "size": (1920, 1080)}})
    out = prepare_real({"mpi_inf_3dhp_root": str(root), "mpi_inf_3dhp_sequences": ["TS5"], "workers": 1},
                       tmp_path / "out", SIZE, datasets=["mpi_inf_3dhp"], progress=False)[0]
    arrays, attrs = read_prepared(out, fields=["images", "joints_2d", "camera", "crop_center", "crop_size"])
    np.testing.assert_allclose(arrays["camera"], crop_camera(np.array([camera]), arrays["crop_center"],
                                                             arrays["crop_size"], SIZE), rtol=1e-5)
    assert attrs["params"]["mpi_inf_3dhp_intrinsics"]["TS5"] == camera
    back = crop_to_original(arrays["joints_2d"], arrays["crop_center"], arrays["crop_size"], SIZE)
    np.testing.assert_allclose(back[0], mpi3dhp17_to_mpii16(written["TS5"]["annot2"][0]), atol=0.02)
    u, v = np.rint(arrays["joints_2d"][0, J["head_top"]]).astype(int)
    assert arrays["images"][0, v, u, 0] > 120


# ------------------------------------------------------------------------ bad input

def test_missing_root_and_missing_sequence(dhp, tmp_path):
    root, _ = dhp
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match="mpi_inf_3dhp_root: folder .*nowhere does not exist"):
        run(tmp_path / "nowhere", out)
    with pytest.raises(RealDataError, match=r"TS2: sequence folder TS2 is missing"):
        run(root, out, mpi_inf_3dhp_sequences=["TS1", "TS2"])
    assert not out.exists() or not any(out.iterdir())
    arrays, attrs = read_prepared(run(root, out, mpi_inf_3dhp_sequences=["TS1", "TS2"], on_error="skip"))
    assert attrs["num_samples"] == 4 and attrs["subject_names"] == ["TS1", "TS2"]


def test_annotation_file_that_is_not_v73(dhp, tmp_path):
    root, _ = dhp
    from scipy.io import savemat
    savemat(root / "TS5" / "annot_data.mat", {"annot2": np.zeros((4, 1, 17, 2))})  # MATLAB v5
    with pytest.raises(RealDataError, match=r"TS5/annot_data\.mat: not a MATLAB v7\.3 \(HDF5\) file"):
        run(root, tmp_path / "out")


def test_wrong_joint_count(dhp, tmp_path):
    root, _ = dhp
    path = root / "TS1" / "annot_data.mat"
    with h5py.File(path, "r+") as f:
        annot2 = f["annot2"][()]
        del f["annot2"]
        f["annot2"] = annot2[:, :, :14]
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match=r"TS1/annot_data\.mat: annot2 has shape \(6, 1, 14, 2\), "
                                            r"expected \(N, 1, 17, 2\)"):
        run(root, out)
    run(root, out, on_error="skip")
    with h5py.File(out / "mpi_inf_3dhp_test.h5") as f:
        assert f["images"].shape[0] == 3 and json.loads(f.attrs["skipped"])[0]["count"] == 4


def test_nan_missing_jpeg_and_bad_activity(dhp, tmp_path):
    root, _ = dhp
    with h5py.File(root / "TS1" / "annot_data.mat", "r+") as f:
        f["univ_annot3"][3, 0, 0, 2] = np.nan  # frame 4, head top
        f["activity_annotation"][4, 0] = 9.0  # frame 5
    (root / "TS5" / "imageSequence" / "img_000003.jpg").unlink()
    out = tmp_path / "out"
    with pytest.raises(RealDataError, match=r"TS1/annot_data\.mat frame 5: activity_annotation 9 is outside 1\.\.7"):
        run(root, out)
    with h5py.File(root / "TS1" / "annot_data.mat", "r+") as f:
        f["activity_annotation"][4, 0] = 4.0
    with pytest.raises(RealDataError, match=r"TS1/annot_data\.mat frame 4: NaN or infinite 3D joints \(head_top\)"):
        run(root, out)
    with pytest.raises(RealDataError, match=r"TS5/imageSequence/img_000003\.jpg \(.*frame 3\): missing JPEG"):
        run(root, out, mpi_inf_3dhp_joints_3d="annot3")  # annot3 has no NaN: the JPEG is the next problem
    assert not out.exists() or not any(out.iterdir())
    arrays, _ = read_prepared(run(root, out, on_error="skip"))
    assert arrays["frame"].tolist() == [1, 2, 5, 1, 4]
