"""What the three real-dataset preprocessors share.

- `PersonTable`: the annotations of N people read from a dataset, before any image is
  touched; all 2D quantities in original-image pixels (pixel centres at integer
  coordinates, 0-based), 3D in camera millimetres.
- `ErrorPolicy`: the `data.real.on_error` rule. "fail" stops at bad input with a message
  naming the file and frame; "skip" leaves the sample out and counts it.
- `person_box`, `head_size_from_segment`: the square crop around a person and the PCKh
  head size for the datasets that do not annotate one.
- `load_person_crop`: JPEG decoding (with libjpeg's DCT-domain downscaling when the crop
  is much larger than the output) and the square crop, run in worker processes.
- `write_split`: checks the values, crops every image with a pool of workers behind a
  progress bar, and writes one prepared file through `PreparedWriter`. The file appears
  under its final name only when complete; a killed run leaves at most temporary files,
  which the next run removes.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator, Sequence

import h5py
import numpy as np

from posegan.camera import crop_camera, crop_image, original_to_crop
from posegan.data.schema import FIELDS, PreparedWriter, SchemaError, validate
from posegan.skeleton import JOINT_NAMES, NUM_JOINTS, ROOT

log = logging.getLogger(__name__)

ON_ERROR_CHOICES = ("fail", "skip")

# PCKh head size per unit of 2D head-segment length (upper neck to head top). On the MPII
# validation annotations, `normalize` (0.6 x head-box diagonal) divided by that segment's
# length has median 0.750 (5th to 95th percentile 0.740 to 0.760, 2887 people), so the
# datasets without head boxes (Human3.6M, MPI-INF-3DHP) use 0.75 x the segment length.
HEAD_SIZE_PER_SEGMENT = 0.75
UPPER_NECK = JOINT_NAMES.index("upper_neck")
HEAD_TOP = JOINT_NAMES.index("head_top")


class RealDataError(ValueError):
    """Bad or missing real-dataset input; the message names the file (and frame).

    count: how many samples the problem makes unusable, where a reader knows it.
    """

    def __init__(self, message: str, count: int = 0):
        super().__init__(message)
        self.count = count


def open_annotation_file(path: Path, *, missing: str, unreadable: str, required: Sequence[str],
                         item: str, expected: str) -> h5py.File:
    """Open an HDF5 annotation file read-only after checking it exists, opens and has `required`.

    Each failure is a RealDataError naming the file: "{path}: {missing}" when absent,
    "{path}: {unreadable} ({error})" when h5py cannot open it, and
    "{path}: {item} '<name>' is missing ({expected})" for an absent dataset. The caller closes it.
    """
    if not path.is_file():
        raise RealDataError(f"{path}: {missing}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise RealDataError(f"{path}: {unreadable} ({err})") from err
    for name in required:
        if name not in f:
            f.close()
            raise RealDataError(f"{path}: {item} {name!r} is missing ({expected})")
    return f


# ----------------------------------------------------------------------- error policy

class ErrorPolicy:
    """Apply `data.real.on_error` to a problem found in the input.

    on_error "fail": `problem` raises RealDataError naming where and what.
    on_error "skip": `problem` records it; `skipped(split)` lists what was left out.
    `count` is how many samples the problem removes (a whole sequence removes many).
    """

    def __init__(self, on_error: str):
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"data.real.on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
        self.on_error = on_error
        self.records: list[dict[str, Any]] = []

    @property
    def skipping(self) -> bool:
        return self.on_error == "skip"

    def problem(self, where: str, what: str, *, split: str, count: int = 1) -> None:
        if not self.skipping:
            raise RealDataError(f"{where}: {what} (data.real.on_error is 'fail'; set it to 'skip' to "
                                f"leave such samples out and count them)")
        self.records.append({"split": split, "where": where, "what": what, "count": int(count)})

    def problems(self, items: Sequence[tuple[str, str]], *, split: str) -> None:
        """Several problems at once; on "fail" the message shows the first few and the total."""
        if not items:
            return
        if not self.skipping:
            shown = "; ".join(f"{where}: {what}" for where, what in items[:5])
            more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
            raise RealDataError(f"{len(items)} bad annotation(s): {shown}{more} (data.real.on_error is "
                                f"'fail'; set it to 'skip' to leave such samples out and count them)")
        for where, what in items:
            self.problem(where, what, split=split)

    def skipped(self, split: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["split"] == split]

    def skipped_count(self, split: str) -> int:
        return sum(r["count"] for r in self.skipped(split))


# ----------------------------------------------------------------------- person table

@dataclass
class PersonTable:
    """Annotations of N people, before cropping (see the module docstring for units).

    image_paths: N JPEG paths. where: N labels "file, frame" used in messages.
    joints_2d (N, 16, 2) original pixels; visible, annotated (N, 16) bool;
    joints_3d (N, 16, 3) camera mm (NaN if none); camera (N, 4) fx, fy, cx, cy of the
    original image (NaN if unknown); crop_center (N, 2), crop_size (N,) original pixels;
    head_size (N,) original pixels; subject, action, camera_id, frame (N,) int (-1 if none).
    """

    image_paths: list[Path]
    where: list[str]
    joints_2d: np.ndarray
    visible: np.ndarray
    annotated: np.ndarray
    joints_3d: np.ndarray
    camera: np.ndarray
    crop_center: np.ndarray
    crop_size: np.ndarray
    head_size: np.ndarray
    subject: np.ndarray
    action: np.ndarray
    camera_id: np.ndarray
    frame: np.ndarray

    def __len__(self) -> int:
        return len(self.image_paths)

    def take(self, index) -> "PersonTable":
        """The rows at `index` (an integer array or a boolean mask)."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = [value[i] for i in index] if isinstance(value, list) else value[index]
        return PersonTable(**values)

    @staticmethod
    def empty() -> "PersonTable":
        return PersonTable.new(0, image_paths=[], where=[])

    @staticmethod
    def new(n: int, **values) -> "PersonTable":
        """A table of n rows: the given columns, fill values (NaN, -1, True) for the rest."""
        defaults = {
            "joints_2d": np.full((n, NUM_JOINTS, 2), np.nan), "visible": np.ones((n, NUM_JOINTS), bool),
            "annotated": np.ones((n, NUM_JOINTS), bool), "joints_3d": np.full((n, NUM_JOINTS, 3), np.nan),
            "camera": np.full((n, 4), np.nan), "crop_center": np.full((n, 2), np.nan),
            "crop_size": np.full(n, np.nan), "head_size": np.full(n, np.nan),
            "subject": np.full(n, -1), "action": np.full(n, -1), "camera_id": np.full(n, -1),
            "frame": np.full(n, -1),
        }
        for name, value in values.items():
            if name not in defaults and name not in ("image_paths", "where"):
                raise TypeError(f"PersonTable has no column {name!r}")
            defaults[name] = value if name in ("image_paths", "where") else np.asarray(value)
        table = PersonTable(**defaults)
        for f in fields(table):
            if len(getattr(table, f.name)) != n:
                raise ValueError(f"PersonTable column {f.name!r} has {len(getattr(table, f.name))} rows, expected {n}")
        return table


def concat_tables(tables: Sequence[PersonTable]) -> PersonTable:
    tables = [t for t in tables if len(t)]
    if not tables:
        return PersonTable.empty()
    values = {}
    for f in fields(PersonTable):
        parts = [getattr(t, f.name) for t in tables]
        values[f.name] = sum(parts, []) if isinstance(parts[0], list) else np.concatenate(parts)
    return PersonTable(**values)


# ------------------------------------------------------------------- boxes, head size

def person_box(joints_2d: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The square crop around each person's 2D joints.

    joints_2d: (N, P, 2) original pixels. The crop is centred on the joints' bounding box
    and its side is `margin` x the box's longer side. Returns crop_center (N, 2) and
    crop_size (N,), original pixels, in the convention of `posegan.camera` (the centre
    of the crop square measured on pixel edges, so that `original_to_crop` maps the box
    centre to the crop centre).
    """
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    if not joints_2d.size:
        return np.zeros((0, 2)), np.zeros(0)
    with warnings.catch_warnings():  # a person without finite joints gets a NaN box, flagged later
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(joints_2d, axis=1), np.nanmax(joints_2d, axis=1)
    # pixel-centre box centre c -> edge-coordinate crop centre c + 0.5
    center = (low + high) / 2.0 + 0.5
    size = margin * np.max(high - low, axis=-1)
    return center, size


def head_size_from_segment(joints_2d: np.ndarray) -> np.ndarray:
    """PCKh head size (N,) = 0.75 x the 2D upper-neck to head-top distance, original pixels.

    joints_2d: (N, 16, 2) MPII order, original pixels. See HEAD_SIZE_PER_SEGMENT.
    """
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    return HEAD_SIZE_PER_SEGMENT * np.linalg.norm(joints_2d[:, HEAD_TOP] - joints_2d[:, UPPER_NECK], axis=-1)


# ------------------------------------------------------------------ value checks

def find_bad_values(table: PersonTable, *, has_3d: bool) -> list[tuple[int, str]]:
    """Rows whose annotations cannot make a sample: (row, what is wrong) pairs.

    Checks: annotated 2D joints finite; crop centre finite and crop side positive;
    head size finite and positive; with 3D labels, all 3D joints finite, in front of
    the camera, and finite positive intrinsics.
    """
    bad: dict[int, list[str]] = {}

    def flag(mask: np.ndarray, message) -> None:
        for i in np.flatnonzero(mask):
            bad.setdefault(int(i), []).append(message(i) if callable(message) else message)

    finite_2d = np.isfinite(table.joints_2d).all(-1)
    bad_2d = table.annotated & ~finite_2d
    flag(bad_2d.any(1), lambda i: "NaN or infinite 2D joints (" + ", ".join(
        JOINT_NAMES[j] for j in np.flatnonzero(bad_2d[i])) + ")")
    flag(~table.annotated.any(1), "no annotated joint")
    flag(~(np.isfinite(table.crop_center).all(1) & np.isfinite(table.crop_size) & (table.crop_size > 0)),
         lambda i: f"no usable crop (centre {table.crop_center[i].tolist()}, side {table.crop_size[i]})")
    flag(~(np.isfinite(table.head_size) & (table.head_size > 0)),
         lambda i: f"no usable head size ({table.head_size[i]})")
    if has_3d:
        finite_3d = np.isfinite(table.joints_3d).all(-1)
        flag(~finite_3d.all(1), lambda i: "NaN or infinite 3D joints (" + ", ".join(
            JOINT_NAMES[j] for j in np.flatnonzero(~finite_3d[i])) + ")")
        with np.errstate(invalid="ignore"):
            behind = finite_3d.all(1) & (table.joints_3d[..., 2] <= 0).any(1)
        flag(behind, "3D joints at or behind the camera (z <= 0 mm)")
        flag(~(np.isfinite(table.camera).all(1) & (table.camera[:, :2] > 0).all(1)),
             lambda i: f"no usable camera intrinsics ({table.camera[i].tolist()})")
    return [(i, "; ".join(messages)) for i, messages in sorted(bad.items())]


# ------------------------------------------------------------------- image loading

def load_person_crop(image_path: str | os.PathLike, center, size: float, out_size: int) -> np.ndarray:
    """Decode a JPEG and cut the square crop (centre, side in original pixels).

    Returns (out_size, out_size, 3) uint8 RGB. When the crop is at least twice as large as
    `out_size`, libjpeg decodes at 1/2, 1/4 or 1/8 size (DCT-domain averaging, which
    also avoids aliasing); the crop is then taken from the reduced image at centre/r and
    side/r, which in `posegan.camera`'s edge-based convention is the same crop.
    Raises FileNotFoundError for a missing file and OSError for an unreadable or
    truncated one.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(image_path)
    try:
        with Image.open(path) as image:
            width = image.size[0]
            reduce = 1.0
            if image.format == "JPEG":
                wanted = (max(1, math.ceil(image.size[0] * out_size / size)),
                          max(1, math.ceil(image.size[1] * out_size / size)))
                drafted = image.draft("RGB", wanted)
                if drafted is not None:
                    reduce = width / drafted[1][2]
            image.load()
            pixels = np.asarray(image.convert("RGB"))
    except UnidentifiedImageError as err:
        raise OSError(f"not a readable image ({err})") from err
    center = np.asarray(center, dtype=np.float64) / reduce
    return crop_image(pixels, center, float(size) / reduce, out_size)


def _crop_job(job: tuple[str, tuple[float, float], float, int]) -> tuple[np.ndarray | None, str | None]:
    """Worker: (path, centre, side, out_size) -> (crop, None) or (None, what went wrong)."""
    from PIL import Image

    path, center, size, out_size = job
    try:
        return load_person_crop(path, center, size, out_size), None
    except FileNotFoundError:
        return None, "missing JPEG"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return None, f"corrupt JPEG ({err})"


def iter_crops(table: PersonTable, out_size: int, workers: int) -> Iterator[tuple[np.ndarray | None, str | None]]:
    """(crop, None) or (None, what went wrong) for every row of `table`, in order.

    With workers > 1 the JPEGs are decoded by a pool of "spawn" processes, which import
    the caller's main module: a script calling this must guard its entry point with
    `if __name__ == "__main__":` (python -m stages.preprocess does).
    """
    jobs = [(str(p), tuple(map(float, c)), float(s), int(out_size))
            for p, c, s in zip(table.image_paths, table.crop_center, table.crop_size)]
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield _crop_job(job)
        return
    # spawn: the parent may hold threads (torch, BLAS) that a fork would copy mid-state
    context = multiprocessing.get_context("spawn")
    chunksize = max(1, min(32, len(jobs) // (4 * workers)))
    with context.Pool(workers) as pool:
        yield from pool.imap(_crop_job, jobs, chunksize=chunksize)


# ----------------------------------------------------------------------- writing

@dataclass
class SplitSpec:
    """One output file: where, what, and the name tables of its id columns."""

    path: Path
    dataset: str
    split: str
    params: dict[str, Any]
    has_3d: bool
    subject_names: list[str] = field(default_factory=list)
    action_names: list[str] = field(default_factory=list)
    camera_names: list[str] = field(default_factory=list)


def scratch_path(path: Path) -> Path:
    """Where `write_split` writes before it knows how many samples survive."""
    return path.with_name(f".{path.name}.unfiltered")


def remove_stale(path: Path) -> None:
    """Delete what a killed run may have left for `path`: temporary and scratch files."""
    for stale in (path.with_name(path.name + ".tmp"), scratch_path(path),
                  scratch_path(path).with_name(scratch_path(path).name + ".tmp")):
        stale.unlink(missing_ok=True)


def is_up_to_date(spec: SplitSpec, image_size: int) -> bool:
    """True if spec.path is a complete prepared file made from the same parameters."""
    if not spec.path.exists():
        return False
    try:
        attrs = validate(spec.path)
    except (SchemaError, OSError):
        return False
    expected = json.loads(json.dumps(spec.params, sort_keys=True, default=str))
    return (attrs["source"] == "real" and attrs["dataset"] == spec.dataset and attrs["split"] == spec.split
            and attrs["image_size"] == image_size and attrs["params"] == expected)


def prepared_fields(table: PersonTable, image_size: int) -> dict[str, np.ndarray]:
    """The schema's per-sample fields (all but images) for the rows of `table`.

    joints_2d in crop pixels, (0, 0) for joints that are not annotated (finite, so that
    code masking by `annotated` never meets a NaN); camera = crop intrinsics; root_depth
    = pelvis z; the rest as in the table.
    """
    joints_2d = original_to_crop(table.joints_2d, table.crop_center, table.crop_size, image_size)
    joints_2d[~table.annotated] = 0.0
    has_3d = np.isfinite(table.joints_3d).all(axis=(1, 2))
    return {
        "joints_2d": joints_2d.astype(np.float32),
        "visible": table.visible & table.annotated,
        "annotated": table.annotated.copy(),
        "joints_3d": table.joints_3d.astype(np.float32),
        "has_3d": has_3d,
        "camera": crop_camera(table.camera, table.crop_center, table.crop_size, image_size).astype(np.float32),
        "root_depth": table.joints_3d[:, ROOT, 2].astype(np.float32),
        "head_size": table.head_size.astype(np.float32),
        "crop_center": table.crop_center.astype(np.float32),
        "crop_size": table.crop_size.astype(np.float32),
        "subject": table.subject.astype(np.int32),
        "action": table.action.astype(np.int32),
        "camera_id": table.camera_id.astype(np.int32),
        "frame": table.frame.astype(np.int32),
    }


def _writer(spec: SplitSpec, path: Path, n: int, image_size: int) -> PreparedWriter:
    return PreparedWriter(path, n, image_size, dataset=spec.dataset, split=spec.split, source="real",
                          params=spec.params, subject_names=spec.subject_names,
                          action_names=spec.action_names, camera_names=spec.camera_names)


def drop_bad_values(table: PersonTable, spec: SplitSpec, policy: ErrorPolicy) -> PersonTable:
    """The rows of `table` whose values can make a sample (see find_bad_values).

    The others go through `policy`: on "fail" the first few are reported and nothing is
    returned. Raises RealDataError when no row is left.
    """
    bad = find_bad_values(table, has_3d=spec.has_3d)
    policy.problems([(table.where[i], what) for i, what in bad], split=spec.split)
    if bad:
        keep = np.ones(len(table), bool)
        keep[[i for i, _ in bad]] = False
        table = table.take(keep)
    if len(table) == 0:
        raise RealDataError(f"{spec.path}: no usable {spec.dataset} {spec.split} samples"
                            + _skip_summary(policy.skipped(spec.split)))
    return table


def write_split(table: PersonTable, spec: SplitSpec, *, image_size: int, policy: ErrorPolicy,
                workers: int, progress: bool = True, batch: int = 64) -> Path:
    """Check, crop and write one prepared file; return its path.

    Bad annotations and unreadable JPEGs go through `policy` (fail or skip). The samples
    are first written to a hidden scratch file; if none was skipped it is renamed to
    spec.path, otherwise the surviving samples are copied into spec.path. The file
    attribute `skipped` (JSON) lists what was left out: where, what, how many samples.
    """
    from tqdm import tqdm

    path = spec.path
    remove_stale(path)
    path.unlink(missing_ok=True)
    table = drop_bad_values(table, spec, policy)
    scratch = scratch_path(path)
    kept: list[int] = []
    try:
        with _writer(spec, scratch, len(table), image_size) as writer:
            pending: list[np.ndarray] = []

            def flush() -> None:
                if pending:
                    start = len(kept) - len(pending)
                    writer.write(slice(start, len(kept)), images=np.stack(pending))
                    pending.clear()

            crops = iter_crops(table, image_size, workers)
            try:
                bar = tqdm(crops, total=len(table), desc=f"{spec.dataset} {spec.split}", unit="img",
                           disable=not progress, mininterval=1.0)
                for i, (crop, error) in enumerate(bar):
                    if error is not None:
                        policy.problem(f"{table.image_paths[i]} ({table.where[i]})", error, split=spec.split)
                        continue
                    kept.append(i)
                    pending.append(crop)
                    if len(pending) >= batch:
                        flush()
                flush()
            finally:
                crops.close()  # stops the worker pool at once if anything failed
            if not kept:
                raise RealDataError(f"{path}: no usable {spec.dataset} {spec.split} samples"
                                    + _skip_summary(policy.skipped(spec.split)))
            writer.write(slice(0, len(kept)), **prepared_fields(table.take(kept), image_size))
            writer.file.attrs["skipped"] = json.dumps(policy.skipped(spec.split))
        if len(kept) == len(table):
            os.replace(scratch, path)
        else:
            _copy_prefix(scratch, spec, len(kept), image_size, batch)
    finally:
        scratch.unlink(missing_ok=True)
    skipped = policy.skipped(spec.split)
    if skipped:
        log.warning("%s: %s", path, _skip_summary(skipped).strip(" ;"))
    return path


def _copy_prefix(scratch: Path, spec: SplitSpec, n: int, image_size: int, batch: int) -> None:
    """Copy the first n samples of a scratch file into spec.path (atomically)."""
    with h5py.File(scratch, "r") as source, _writer(spec, spec.path, n, image_size) as writer:
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            writer.write(slice(start, stop), images=source["images"][start:stop])
        writer.write(slice(0, n), **{name: source[name][:n] for name in FIELDS if name != "images"})
        writer.file.attrs["skipped"] = source.attrs["skipped"]


def _skip_summary(skipped: list[dict[str, Any]]) -> str:
    """'; left out 3 sample(s): 2 x missing JPEG, 1 x corrupt JPEG; first: ...' ('' if none)."""
    if not skipped:
        return ""
    by_what: dict[str, int] = {}
    for record in skipped:
        reason = record["what"].split(" (")[0]
        by_what[reason] = by_what.get(reason, 0) + record["count"]
    counts = ", ".join(f"{count} x {reason}" if count else reason for reason, count in sorted(by_what.items()))
    total = sum(by_what.values())
    return f"; left out {total} sample(s): {counts}; first: {skipped[0]['where']}: {skipped[0]['what']}"


def check_joint_array(array: np.ndarray, expected: tuple, where: str, name: str, what: str) -> None:
    """Raise RealDataError unless `array.shape` matches `expected` (None = any length)."""
    shape = tuple(array.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        wanted = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise RealDataError(f"{where}: {name} has shape {shape}, expected {wanted} ({what})")


__all__ = [
    "ErrorPolicy", "HEAD_SIZE_PER_SEGMENT", "PersonTable", "RealDataError", "SplitSpec",
    "check_joint_array", "concat_tables", "drop_bad_values", "find_bad_values", "head_size_from_segment",
    "is_up_to_date", "iter_crops", "load_person_crop", "person_box", "prepared_fields",
    "remove_stale", "scratch_path", "write_split",
]
