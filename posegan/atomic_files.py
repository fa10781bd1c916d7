"""Writing files so that a crash never leaves a half-written one.

Every output of the pipeline is written to a temporary name beside its final path and renamed
onto it (`os.replace`, atomic on one filesystem) only when complete; on an error the temporary
file is removed and the previous file, if any, stays as it was.

    with replacing("metrics/evaluate.json") as tmp:
        tmp.write_text(text)
    write_text_atomic("metrics/headline.json", text)
    write_json_atomic("metrics/pretrain_2d.json", summary)
    with replacing_folder("predictions") as tmp_dir:     # a whole folder, swapped at once
        (tmp_dir / "a.npz").write_bytes(data)

A process that is killed with SIGKILL cannot clean up and may leave a `.tmp` file; SIGTERM
(the polite kill) is turned into an exception by `exit_on_sigterm`, so the temporary file is
removed as on any other error.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary name `path` is written under before the rename: `<name>.tmp` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def unique_temporary_path(path: str | os.PathLike) -> Path:
    """A fresh hidden file `.<name>.<random>.tmp` beside `path` (mode 0644, like an ordinary
    output): for outputs that several processes may write at once."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o644)   # mkstemp makes 0600
    return Path(tmp)


@contextlib.contextmanager
def replacing(path: str | os.PathLike, unique: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path` (its folder created); rename it onto `path` when the
    block ends without error, remove it when the block raises. unique: a fresh random name
    (`unique_temporary_path`) instead of `<name>.tmp`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = unique_temporary_path(path) if unique else temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def replacing_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path` (a hidden `.<name>.tmp-<pid>`); when the
    block ends without error it replaces the folder `path` (an old one is moved aside, then
    removed), when the block raises it is removed and `path` stays as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """`path`'s contents become `text`, all at once."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, data: Any, sort_keys: bool = False) -> None:
    """`data` as indented JSON (with a final newline) in `path`, all at once."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=sort_keys) + "\n")


def probe_writable(folder: str | os.PathLike, remove_created: bool = False) -> None:
    """Create `folder` (and its missing parents) and write and remove a probe file in it: OSError
    where the process may not write there (a read-only file system, /proc, no permission). With
    `remove_created`, the folders it had to make are removed again, so that a check leaves
    nothing behind."""
    folder = Path(folder)
    created = [p for p in [folder, *folder.parents] if not p.exists()]    # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".posegan-probe-"):
            pass
    finally:
        for made in created if remove_created else ():
            try:
                made.rmdir()
            except OSError:
                pass


_terminated: list[int] = []      # the SIGTERM received, once one has been


def exit_on_sigterm() -> None:
    """From now on SIGTERM raises SystemExit(143) in the main thread, so that `replacing` blocks
    remove their temporary files (Python's default action ends the process without running
    them). Call it from a command's entry point. Python ignores an exception raised while it runs
    a finaliser (a weakref callback, `__del__`), so the signal is also remembered: a loop calls
    `exit_if_terminated()` between items to stop then."""

    def raise_exit(signum, frame):
        _terminated.append(128 + signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)


def exit_if_terminated() -> None:
    """SystemExit(143) if a SIGTERM arrived (see `exit_on_sigterm`) and its exception was lost."""
    if _terminated:
        raise SystemExit(_terminated[0])
