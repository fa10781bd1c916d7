"""The prepared-data schema: one HDF5 file per dataset split.

Every preprocessor (synthetic or real) writes through `PreparedWriter`, and every reader
goes through `open_prepared` / `read_prepared`, which validate the file first.

Per-sample datasets (N = number of samples, S = crop side, P = 16 MPII joints):

=============  ===========  ==================================================================
name           dtype        shape and meaning
=============  ===========  ==================================================================
images         uint8        (N, S, S, 3) RGB person crops
joints_2d      float32      (N, P, 2) crop pixels (pixel centres at integer coordinates)
visible        bool         (N, P) annotated and not occluded
annotated      bool         (N, P) has a 2D label at all (MPII leaves some joints out)
joints_3d      float32      (N, P, 3) camera mm; NaN where the sample has no 3D label
has_3d         bool         (N,)
camera         float32      (N, 4) fx, fy, cx, cy of the crop, crop pixels (NaN if unknown)
root_depth     float32      (N,) camera z of the pelvis in mm (NaN if unknown)
head_size      float32      (N,) PCKh normaliser in original-image pixels (NaN if unknown)
crop_center    float32      (N, 2) crop centre in original-image pixels
crop_size      float32      (N,) crop side in original-image pixels
subject        int32        (N,) index into attribute subject_names (-1 if none)
action         int32        (N,) index into attribute action_names (-1 if none)
camera_id      int32        (N,) index into attribute camera_names (-1 if none)
frame          int32        (N,) frame number in its sequence (-1 if none)
=============  ===========  ==================================================================

File attributes: schema_version, dataset (a dataset of posegan.data.sets: h36m | mpii | mpi_inf_3dhp), split, source
(synthetic | real), joint_set ("mpii16"), image_size, subject_names, action_names,
camera_names (JSON lists) and params (JSON of the parameters that produced the file).

Byte-reproducible: the same samples and attributes give the same bytes on every run, so that
DVC sees the same hash (no object timestamps, `track_times=False`; the file format capped at
`LIBVER`, so that a newer HDF5 library does not pick newer structures; attributes written in
one fixed order, JSON with sorted keys; images uncompressed: h5py's LZF filter leaves its
hash table uninitialised, so the compressed bytes of an image now and then depend on what
was in memory before: between two runs 2 to 5 of 5000 images came out 1 to 11 bytes longer or
shorter; uncompressed images also read several times faster).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from posegan.atomic_files import temporary_path
from posegan.data.sets import datasets
from posegan.errors import InputMissingError, PoseganError
from posegan.skeleton import NUM_JOINTS

SCHEMA_VERSION = 1
JOINT_SET = "mpii16"

# name -> (dtype, shape after the sample axis; "S" stands for the image size, "P" for joints)
FIELDS: dict[str, tuple[str, tuple]] = {
    "images": ("uint8", ("S", "S", 3)),
    "joints_2d": ("float32", ("P", 2)),
    "visible": ("bool", ("P",)),
    "annotated": ("bool", ("P",)),
    "joints_3d": ("float32", ("P", 3)),
    "has_3d": ("bool", ()),
    "camera": ("float32", (4,)),
    "root_depth": ("float32", ()),
    "head_size": ("float32", ()),
    "crop_center": ("float32", (2,)),
    "crop_size": ("float32", ()),
    "subject": ("int32", ()),
    "action": ("int32", ()),
    "camera_id": ("int32", ()),
    "frame": ("int32", ()),
}
NAME_TABLES = ("subject_names", "action_names", "camera_names")
LIBVER = ("earliest", "v110")    # h5py's libver bounds for every prepared file (see the module docstring)
REQUIRED_ATTRS = ("schema_version", "dataset", "split", "source", "joint_set", "image_size",
                  *NAME_TABLES, "params")

# Fill values for fields a writer leaves unset.
_DEFAULTS = {"float32": np.nan, "int32": -1, "bool": False, "uint8": 0}


def folder_path(value: Any) -> str:
    """A params value that names a folder: a non-empty string (ValueError otherwise)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a folder path, got {value!r}")
    return value


class SchemaError(PoseganError, ValueError):
    """A prepared file does not follow the schema; the message names the file and field."""


def prepared_path(folder: str | os.PathLike, dataset: str, split: str) -> Path:
    """The conventional location data/prepared/<dataset>_<split>.h5."""
    return Path(folder) / f"{dataset}_{split}.h5"


def _field_shape(name: str, n: int, image_size: int) -> tuple[int, ...]:
    _, suffix = FIELDS[name]
    return (n, *[image_size if s == "S" else NUM_JOINTS if s == "P" else s for s in suffix])


class PreparedWriter:
    """Write one prepared file, atomically.

    Usage::

        with PreparedWriter(path, n, image_size, dataset="h36m", split="train",
                            source="synthetic", params={...}, action_names=[...]) as w:
            w.write(slice(0, 64), images=..., joints_2d=..., ...)

    The file is written to `<path>.tmp` (`posegan.atomic_files.temporary_path`) and renamed
    when the block ends without error and the result validates; on error the temporary file
    is removed, so `path` never holds a partial file. Fields that are never written keep
    their fill value (NaN, -1 or False).
    """

    def __init__(self, path, n: int, image_size: int, *, dataset: str, split: str, source: str,
                 params: dict[str, Any] | None = None, subject_names=(), action_names=(),
                 camera_names=()):
        if n <= 0:
            raise ValueError(f"{path}: a prepared file needs at least one sample, got n={n}")
        if dataset not in datasets():
            raise ValueError(f"{path}: dataset must be one of {datasets()}, got {dataset!r}")
        self.path = Path(path)
        self.tmp_path = temporary_path(self.path)
        self.n, self.image_size = int(n), int(image_size)
        self.attrs = {
            "schema_version": SCHEMA_VERSION, "dataset": dataset, "split": split, "source": source,
            "joint_set": JOINT_SET, "image_size": self.image_size,
            "subject_names": json.dumps(list(subject_names)),
            "action_names": json.dumps(list(action_names)),
            "camera_names": json.dumps(list(camera_names)),
            "params": json.dumps(params or {}, sort_keys=True, default=str),
        }
        self.file: h5py.File | None = None

    def __enter__(self) -> "PreparedWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.tmp_path, "w", libver=LIBVER, track_order=False)
        for name, (dtype, _) in FIELDS.items():
            shape = _field_shape(name, self.n, self.image_size)
            kwargs = {}
            if name == "images":
                kwargs = {"chunks": (1, *shape[1:])}   # uncompressed: see the module docstring
            self.file.create_dataset(name, shape=shape, dtype=dtype, fillvalue=_DEFAULTS[dtype], track_times=False,
                                     **kwargs)
        for key, value in self.attrs.items():
            self.file.attrs[key] = value
        return self

    def write(self, index, **fields: np.ndarray) -> None:
        """Write the given fields at `index` (a slice or an int) of the sample axis."""
        assert self.file is not None, "use PreparedWriter as a context manager"
        for name, value in fields.items():
            if name not in FIELDS:
                raise SchemaError(f"{self.path}: unknown field {name!r}; the schema has {sorted(FIELDS)}")
            self.file[name][index] = value

    def __exit__(self, exc_type, exc, tb) -> bool:
        assert self.file is not None
        self.file.close()
        if exc_type is not None:
            self.tmp_path.unlink(missing_ok=True)
            return False
        try:
            validate(self.tmp_path)
        except Exception:
            self.tmp_path.unlink(missing_ok=True)
            raise
        os.replace(self.tmp_path, self.path)
        return False


def validate(path) -> dict[str, Any]:
    """Check a prepared file against the schema; return its attributes (JSON decoded).

    Raises SchemaError naming the file and the field at fault, FileNotFoundError if absent.
    """
    path = Path(path)
    if not path.exists():
        dataset = path.stem.rsplit("_", 1)[0]
        why = (f"; with data.source: real it is prepared only when data.real.{dataset}_root is set"
               if dataset in datasets() else "")
        raise InputMissingError(f"{path}: prepared file not found (run the preprocess stage{why})")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise SchemaError(f"{path}: not a readable HDF5 file ({err})") from err
    with f:
        return _validate_open(f, path)


def _validate_open(f: h5py.File, path: Path) -> dict[str, Any]:
    for key in REQUIRED_ATTRS:
        if key not in f.attrs:
            raise SchemaError(f"{path}: missing file attribute {key!r}")
    version = int(f.attrs["schema_version"])
    if version != SCHEMA_VERSION:
        raise SchemaError(f"{path}: attribute 'schema_version' is {version}, this code reads version "
                          f"{SCHEMA_VERSION}; re-run the preprocess stage")
    if f.attrs["joint_set"] != JOINT_SET:
        raise SchemaError(f"{path}: attribute 'joint_set' is {f.attrs['joint_set']!r}, expected {JOINT_SET!r}")
    image_size = int(f.attrs["image_size"])
    if "images" not in f:
        raise SchemaError(f"{path}: missing field 'images'")
    n = f["images"].shape[0]
    for name, (dtype, _) in FIELDS.items():
        if name not in f:
            raise SchemaError(f"{path}: missing field {name!r}")
        expected = _field_shape(name, n, image_size)
        shape = f[name].shape
        if shape != expected:
            what = ""
            if len(shape) > 1 and "P" in FIELDS[name][1] and shape[1] != NUM_JOINTS:
                what = f" ({shape[1]} joints, the pipeline uses the {NUM_JOINTS} MPII joints)"
            raise SchemaError(f"{path}: field {name!r} has shape {shape}, expected {expected}{what}")
        if f[name].dtype != np.dtype(dtype):
            raise SchemaError(f"{path}: field {name!r} has dtype {f[name].dtype}, expected {dtype}")
    attrs = {k: f.attrs[k] for k in f.attrs}
    for key in (*NAME_TABLES, "params"):
        try:
            attrs[key] = json.loads(attrs[key])
        except (TypeError, ValueError) as err:
            raise SchemaError(f"{path}: attribute {key!r} is not valid JSON") from err
    attrs["num_samples"] = n
    for key in ("schema_version", "image_size"):
        attrs[key] = int(attrs[key])
    for key in ("dataset", "split", "source", "joint_set"):
        attrs[key] = str(attrs[key])
    return attrs


def open_prepared(path) -> h5py.File:
    """Validate and open a prepared file read-only (caller closes it)."""
    validate(path)
    return h5py.File(path, "r")


def read_prepared(path, fields=None, index=None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Validate and read fields (default: all but images) into memory.

    index: optional slice or sorted index array along the sample axis.
    Returns (arrays, attrs).
    """
    attrs = validate(path)
    if fields is None:
        fields = [name for name in FIELDS if name != "images"]
    sel = slice(None) if index is None else index
    with h5py.File(path, "r") as f:
        arrays = {name: f[name][sel] for name in fields}
    return arrays, attrs
