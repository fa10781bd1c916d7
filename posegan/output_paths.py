"""Checks on where a command outside the pipeline (`posegan predict`, `export`, `evaluate`) writes.

Such a command must not write inside a DVC-tracked output (a stage's `outs`, `metrics` or
`plots` in the nearest dvc.yaml above the target): DVC would then report the stage as
modified, and it deletes a stage's outputs before rerunning it, so the user's files would be
lost. Results of these commands belong in a folder no stage owns, e.g. `outputs/` (git-ignored).

    check_output_path("outputs/predict", "--out", folder=True)

raises OutputPathError (one line naming the option, the path and why) when the path cannot be
written: inside a DVC output, under a file, a folder where a file is expected (or the
reverse), or a place the process may not write (a read-only file system, /proc, no
permission: found by writing and removing a probe file there). It is called before any work,
so a bad path never costs a run.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from posegan.atomic_files import probe_writable
from posegan.errors import PoseganError

OUTPUT_KEYS = ("outs", "metrics", "plots")


class OutputPathError(PoseganError, ValueError):
    """An output path that cannot or must not be written; the message is one line."""


def find_dvc_yaml(path: str | Path) -> Path | None:
    """The nearest dvc.yaml in a folder above `path` (absolute), or None."""
    for folder in Path(path).resolve().parents:
        candidate = folder / "dvc.yaml"
        if candidate.is_file():
            return candidate
    return None


def dvc_outputs(dvc_yaml: Path) -> dict[Path, str]:
    """Absolute path -> stage name, for every output (outs, metrics, plots) of the stages in
    `dvc_yaml` (an unreadable dvc.yaml declares none: DVC itself will complain about it)."""
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    outputs = {}
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        for key in OUTPUT_KEYS:
            for entry in stage.get(key) or []:
                for out in (entry if isinstance(entry, dict) else [entry]):
                    if isinstance(out, str):
                        outputs[(dvc_yaml.parent / out).resolve()] = str(name)
    return outputs


def owning_output(path: str | Path) -> tuple[Path, str, Path] | None:
    """(output, stage, dvc.yaml) when `path` is a DVC output or lies inside one, else None."""
    dvc_yaml = find_dvc_yaml(path)
    if dvc_yaml is None:
        return None
    target = Path(path).resolve()
    for out, stage in dvc_outputs(dvc_yaml).items():
        if target == out or out in target.parents:
            return out, stage, dvc_yaml
    return None


def check_output_path(path: str | Path, option: str, folder: bool = False) -> None:
    """OutputPathError unless `path` (a folder if `folder`, else a file) can be written here
    without touching a DVC output (see the module docstring)."""
    path = Path(path)
    owner = owning_output(path)
    if owner is not None:
        out, stage, dvc_yaml = owner
        shown = out.relative_to(dvc_yaml.parent)
        raise OutputPathError(f"{option} {path}: lies inside {shown}, an output of the DVC stage '{stage}' "
                              f"({dvc_yaml}), which dvc repro deletes and rewrites; write elsewhere, e.g. outputs/")
    for parent in path.absolute().parents:
        if parent.exists() and not parent.is_dir():
            raise OutputPathError(f"{option} {path}: {parent} is a file, not a folder")
    if folder and path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: is a file; expected a folder")
    if not folder and path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; expected a file name")
    try:
        probe_writable(path if folder else path.absolute().parent, remove_created=True)
    except OSError as err:
        raise OutputPathError(f"{option} {path}: cannot be written here ({err.strerror or err})") from None
