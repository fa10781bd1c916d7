"""Bad real-dataset input: the error raised, the `data.real.on_error` rule, and input checks.

- `RealDataError`: what the preprocessors raise for bad or missing input; the message
  names the file (and frame).
- `ErrorPolicy`: on_error "fail" stops at bad input with such a message; "skip" leaves
  the sample out and counts it.
- `open_annotation_file`, `check_joint_array`: open an HDF5 annotation file and check an
  array's shape, raising RealDataError naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from posegan.errors import PoseganError

ON_ERROR_CHOICES = ("fail", "skip")


class RealDataError(PoseganError, ValueError):
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


def check_joint_array(array: np.ndarray, expected: tuple, where: str, name: str, what: str) -> None:
    """Raise RealDataError unless `array.shape` matches `expected` (None = any length)."""
    shape = tuple(array.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        wanted = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise RealDataError(f"{where}: {name} has shape {shape}, expected {wanted} ({what})")


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


__all__ = ["ON_ERROR_CHOICES", "ErrorPolicy", "RealDataError", "check_joint_array", "open_annotation_file"]
