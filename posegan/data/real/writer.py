"""Writing one prepared file from a PersonTable (the prepared-data schema, posegan.data.schema).

`write_split` checks the values, crops every image with a pool of workers behind a
progress bar, and writes one prepared file through `PreparedWriter`. The file appears
under its final name only when complete; a killed run leaves at most temporary files,
which the next run removes (`remove_stale`). `is_up_to_date` tells whether an existing
file was made from the same parameters.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from posegan.atomic_files import temporary_path
from posegan.camera import crop_camera, original_to_crop
from posegan.data.real.errors import ErrorPolicy, RealDataError
from posegan.data.real.jpeg_crops import iter_crops
from posegan.data.real.people import PersonTable, find_bad_values
from posegan.data.schema import FIELDS, PreparedWriter, SchemaError, validate
from posegan.skeleton import ROOT

log = logging.getLogger(__name__)


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
    for stale in (temporary_path(path), scratch_path(path), temporary_path(scratch_path(path))):
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


__all__ = ["SplitSpec", "drop_bad_values", "is_up_to_date", "prepared_fields", "remove_stale", "scratch_path",
           "write_split"]
