"""The person table: the annotations of N people read from a dataset, before any image is touched.

All 2D quantities are in original-image pixels (pixel centres at integer coordinates,
0-based), 3D in camera millimetres. `find_bad_values` lists the rows that cannot make a
sample.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from posegan.skeleton import JOINT_NAMES, NUM_JOINTS


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


__all__ = ["PersonTable", "concat_tables", "find_bad_values"]
