import h5py
import numpy as np
import pytest

from posegan.data.schema import (FIELDS, SCHEMA_VERSION, PreparedWriter, SchemaError,
                                 prepared_path, read_prepared, validate)


def write_small(path, n=3, size=8, **overrides):
    rng = np.random.default_rng(0)
    with PreparedWriter(path, n, size, dataset="h36m", split="train", source="synthetic",
                        params={"seed": 0}, subject_names=["S1"], action_names=["Walking"]) as w:
        w.write(slice(0, n), images=rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8),
                joints_2d=rng.normal(size=(n, 16, 2)).astype(np.float32),
                has_3d=np.ones(n, bool), subject=np.zeros(n, np.int32), **overrides)
    return path


def test_round_trip_and_fill_values(tmp_path):
    path = write_small(prepared_path(tmp_path, "h36m", "train"))
    assert path.name == "h36m_train.h5"
    arrays, attrs = read_prepared(path)
    assert attrs["schema_version"] == SCHEMA_VERSION and attrs["num_samples"] == 3
    assert attrs["subject_names"] == ["S1"] and attrs["params"] == {"seed": 0}
    assert attrs["dataset"] == "h36m" and attrs["source"] == "synthetic"
    assert arrays["joints_2d"].shape == (3, 16, 2) and arrays["has_3d"].all()
    assert np.isnan(arrays["joints_3d"]).all()  # never written -> NaN
    assert (arrays["frame"] == -1).all() and not arrays["visible"].any()
    assert "images" not in arrays
    images, _ = read_prepared(path, fields=["images"], index=slice(1, 3))
    assert images["images"].shape == (2, 8, 8, 3)
    assert not path.with_name(path.name + ".tmp").exists()


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "h36m_train.h5"
    with pytest.raises(RuntimeError):
        with PreparedWriter(path, 2, 8, dataset="h36m", split="train", source="synthetic") as w:
            w.write(0, frame=1)
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_unknown_field_is_named(tmp_path):
    with pytest.raises(SchemaError, match="unknown field 'joints'"):
        write_small(tmp_path / "x.h5", joints=np.zeros((3, 16, 2)))
    assert list(tmp_path.iterdir()) == []


def test_bad_writer_arguments(tmp_path):
    with pytest.raises(ValueError, match="n=0"):
        PreparedWriter(tmp_path / "x.h5", 0, 8, dataset="h36m", split="train", source="synthetic")
    with pytest.raises(ValueError, match="dataset must be one of"):
        PreparedWriter(tmp_path / "x.h5", 1, 8, dataset="coco", split="train", source="synthetic")


@pytest.mark.parametrize("corrupt, message", [
    (lambda f: f.__delitem__("joints_2d"), "missing field 'joints_2d'"),
    (lambda f: (f.__delitem__("joints_3d"), f.create_dataset("joints_3d", data=np.zeros((3, 17, 3), np.float32))),
     r"field 'joints_3d' has shape \(3, 17, 3\), expected \(3, 16, 3\) \(17 joints"),
    (lambda f: (f.__delitem__("visible"), f.create_dataset("visible", data=np.zeros((2, 16), bool))),
     r"field 'visible' has shape \(2, 16\), expected \(3, 16\)"),
    (lambda f: (f.__delitem__("frame"), f.create_dataset("frame", data=np.zeros(3, np.float64))),
     "field 'frame' has dtype float64, expected int32"),
    (lambda f: f.attrs.__setitem__("schema_version", SCHEMA_VERSION + 1), "'schema_version' is"),
    (lambda f: f.attrs.__delitem__("split"), "missing file attribute 'split'"),
    (lambda f: f.attrs.__setitem__("joint_set", "h36m17"), "'joint_set'"),
])
def test_validation_names_file_and_field(tmp_path, corrupt, message):
    path = write_small(tmp_path / "h36m_train.h5")
    with h5py.File(path, "a") as f:
        corrupt(f)
    with pytest.raises(SchemaError, match=message) as err:
        validate(path)
    assert str(path) in str(err.value)


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="preprocess"):
        validate(tmp_path / "absent.h5")
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(SchemaError, match="bad.h5"):
        validate(bad)


def test_every_field_has_a_known_dtype():
    assert {dtype for dtype, _ in FIELDS.values()} <= {"uint8", "float32", "bool", "int32"}


WRITE_SPLIT = """
import sys
import numpy as np
from posegan.data.schema import PreparedWriter
params = {"seed": 0, "image_size": 8, "synthetic": {"wild_train": 5, "cross_test": 7}}
if sys.argv[2] == "reversed":      # the same params, built in another order
    params = {"synthetic": {"cross_test": 7, "wild_train": 5}, "image_size": 8, "seed": 0}
rng = np.random.default_rng(0)
with PreparedWriter(sys.argv[1], 5, 8, dataset="mpii", split="train", source="synthetic", params=params,
                    action_names=["a", "b"]) as w:
    w.write(slice(None), images=rng.integers(0, 255, (5, 8, 8, 3), dtype=np.uint8),
            joints_2d=rng.normal(size=(5, 16, 2)).astype(np.float32))
"""


def test_the_same_split_gives_the_same_bytes_in_separate_processes(tmp_path):
    """No timestamps or per-run metadata: two processes, more than a second apart (HDF5's
    object times have one-second resolution), write byte-identical files."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    paths = [tmp_path / "first.h5", tmp_path / "second.h5"]
    for path, order in zip(paths, ["given", "reversed"]):
        subprocess.run([sys.executable, "-c", WRITE_SPLIT, str(path), order], cwd=root, check=True)
        time.sleep(1.1)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_images_are_stored_without_a_compression_filter(tmp_path):
    """Byte reproducibility: LZF (h5py's fast filter) does not give the same bytes for the same
    image on every run, so images are written uncompressed, one chunk per image."""
    path = tmp_path / "mpii_train.h5"
    with PreparedWriter(path, 2, 8, dataset="mpii", split="train", source="synthetic") as w:
        w.write(slice(None), images=np.zeros((2, 8, 8, 3), np.uint8))
    with h5py.File(path, "r") as f:
        assert f["images"].compression is None and f["images"].chunks == (1, 8, 8, 3)
        assert f["images"].id.get_create_plist().get_nfilters() == 0
