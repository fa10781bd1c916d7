"""Preprocessors for the real datasets: Human3.6M, MPII and the MPI-INF-3DHP test set.

`prepare_real(params, out_dir, image_size)` reads the user's copies (one root folder per
dataset, `data.real` in params.yaml), crops every person from the original JPEGs and
writes the prepared-data schema (posegan.data.schema) under the file names the synthetic
benchmark uses:

    h36m_train.h5 (S1 S5 S6 S7 S8)   h36m_test.h5 (S9 S11)
    mpii_train.h5   mpii_valid.h5     mpi_inf_3dhp_test.h5

The layouts, the parameters and the time and disk to expect are in docs/real-datasets.md;
each dataset module's docstring states exactly what it reads and how.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import dataclasses
import importlib
from dataclasses import dataclass

from posegan.data.real.errors import ErrorPolicy, RealDataError
from posegan.data.real.h36m import TEST_SUBJECTS, TRAIN_SUBJECTS
from posegan.data.real.mpi_inf_3dhp import DEFAULT_INTRINSICS, SEQUENCES
from posegan.data.real.people import PersonTable
from posegan.data.real.writer import SplitSpec, drop_bad_values, is_up_to_date, write_split
from posegan.data.schema import prepared_path
from posegan.data.sets import PreparedSet, real_sets
from posegan.settings import ParamsError, build, setting

log = logging.getLogger(__name__)


def _root(value: Any) -> str | None:
    """A dataset root: a folder path, or null for a dataset you do not have."""
    if value is not None and (not isinstance(value, (str, Path)) or not str(value).strip()):
        raise ValueError(f"must be a folder path or null, got {value!r}")
    return None if value is None else str(value)


def _names(value: Any) -> tuple[str, ...]:
    """Subject or sequence folders: a non-empty list of names."""
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(s, str) for s in value):
        raise ValueError(f"must be a non-empty list of folder names such as S1 or TS1, got {value!r}")
    return tuple(value)


def _fraction_below_one(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"must be a number in [0, 1), got {value!r}")
    return float(value)


def _intrinsics(value: Any) -> dict[str, tuple[float, float, float, float]]:
    """Per MPI-INF-3DHP sequence: [fx, fy, cx, cy] in pixels, fx and fy > 0."""
    if not isinstance(value, dict) or not value:
        raise ValueError(f"must be a mapping of sequence -> [fx, fy, cx, cy], got {value!r}")
    checked = {}
    for sequence, values in value.items():
        if (not isinstance(values, (list, tuple)) or len(values) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
                or not (values[0] > 0 and values[1] > 0)):
            raise ValueError(f"data.real.mpi_inf_3dhp_intrinsics.{sequence} must be [fx, fy, cx, cy] in pixels "
                             f"with fx, fy > 0, got {values!r}")
        checked[str(sequence)] = tuple(float(v) for v in values)
    return checked


@dataclass(frozen=True)
class RealDataSettings:
    """The params block `data.real`: where your copies of the real datasets are and how they
    are cut (docs/real-datasets.md). The defaults here are params.yaml's (a test holds them
    equal), for library callers that set only a few (`RealDataSettings.of`).

    <dataset>_root: the dataset's folder, or null when you do not have it. workers: cropping
    processes. on_error: fail (stop at the first bad sample) or skip (drop it, with a count).
    crop_margin: the person box's side times this is the crop (Human3.6M, MPI-INF-3DHP).
    h36m_*_subjects / *_frame_step: the Human3.6M subjects of each split and every how many
    frames a sample is taken. mpii_annotations: auto, hourglass (the hourglass code's
    train.h5 / valid.h5) or release (the official .mat); mpii_scale_factor: crop side per
    MPII person scale (x 200 px); mpii_valid_fraction: the validation share of the release
    annotations. mpi_inf_3dhp_sequences, _frame_step, _joints_3d (univ_annot3: the
    universal skeleton, or annot3), _intrinsics: [fx, fy, cx, cy] per sequence.
    extra_roots: the roots of datasets added to the dataset table (posegan.data.sets) that
    have no field here, read from `data.real.<dataset>_root`.
    """

    h36m_root: str | None = setting(None, parse=_root)
    mpii_root: str | None = setting(None, parse=_root)
    mpi_inf_3dhp_root: str | None = setting(None, parse=_root)
    workers: int = setting(2, minimum=1)
    on_error: Literal["fail", "skip"] = "fail"
    crop_margin: float = setting(1.25, minimum=0, exclusive=True)
    h36m_train_subjects: tuple[str, ...] = setting(tuple(TRAIN_SUBJECTS), parse=_names)
    h36m_test_subjects: tuple[str, ...] = setting(tuple(TEST_SUBJECTS), parse=_names)
    h36m_train_frame_step: int = setting(1, minimum=1)
    h36m_test_frame_step: int = setting(1, minimum=1)
    mpii_annotations: Literal["auto", "hourglass", "release"] = "auto"
    mpii_scale_factor: float = setting(1.25, minimum=0, exclusive=True)
    mpii_valid_fraction: float = setting(0.1, parse=_fraction_below_one)
    mpi_inf_3dhp_sequences: tuple[str, ...] = setting(tuple(SEQUENCES), parse=_names)
    mpi_inf_3dhp_frame_step: int = setting(1, minimum=1)
    mpi_inf_3dhp_joints_3d: Literal["univ_annot3", "annot3"] = "univ_annot3"
    mpi_inf_3dhp_intrinsics: dict[str, tuple[float, float, float, float]] = setting(
        default_factory=lambda: {k: tuple(v) for k, v in DEFAULT_INTRINSICS.items()}, parse=_intrinsics)
    extra_roots: dict[str, str | None] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_section(cls, block: Any, where: str = "data.real", file: str = "params.yaml") -> "RealDataSettings":
        """Build from the `data.real` block, checked key by key (ParamsError naming `file` and the
        key); `<dataset>_root` of every real-data set of the table is required."""
        if not isinstance(block, dict):
            raise ParamsError(f"{file}: {where} must be a mapping of keys, got {block!r}")
        own = {f.name for f in dataclasses.fields(cls)}
        extra_keys = [f"{dataset}_root" for dataset in real_sets() if f"{dataset}_root" not in own]
        extra = {}
        for key in extra_keys:
            if key not in block:
                raise ParamsError(f"{file}: {where}.{key} is missing")
            try:
                extra[key[:-len("_root")]] = _root(block[key])
            except ValueError as err:
                raise ParamsError(f"{file}: {where}.{key} {err}") from err
        rest = {k: v for k, v in block.items() if k not in extra_keys}
        return build(cls, rest, where, file, given={"extra_roots": extra})

    @classmethod
    def of(cls, values: Mapping[str, Any] | None = None) -> "RealDataSettings":
        """The defaults with `values` (some keys of `data.real`) put over them, checked as a
        params file is (ValueError naming the key); `mpi_inf_3dhp_intrinsics` is merged per
        sequence, so that a caller gives only the cameras it changes."""
        defaults = {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls) if f.name != "extra_roots"}
        defaults = {k: ({s: list(v) for s, v in value.items()} if isinstance(value, dict) else
                        list(value) if isinstance(value, tuple) else value) for k, value in defaults.items()}
        defaults.update({f"{dataset}_root": None for dataset in real_sets() if f"{dataset}_root" not in defaults})
        merged = {**defaults, **dict(values or {})}
        if isinstance(merged["mpi_inf_3dhp_intrinsics"], dict):
            merged["mpi_inf_3dhp_intrinsics"] = {**defaults["mpi_inf_3dhp_intrinsics"],
                                                 **merged["mpi_inf_3dhp_intrinsics"]}
        return cls.from_section(merged, "data.real", "given values")

    def root(self, dataset: str) -> str | None:
        """The folder of your copy of `dataset` (None when not set)."""
        return getattr(self, f"{dataset}_root") if hasattr(self, f"{dataset}_root") else self.extra_roots.get(dataset)

    def recorded(self, keys: Sequence[str]) -> dict[str, Any]:
        """The values of `keys` as a prepared file records them (JSON: lists, not tuples)."""
        values = {}
        for key in keys:
            value = self.extra_roots[key[:-len("_root")]] if not hasattr(self, key) else getattr(self, key)
            if isinstance(value, dict):
                value = {k: list(v) for k, v in value.items()}
            values[key] = list(value) if isinstance(value, tuple) else value
        return values


def _settings(values: "RealDataSettings | Mapping[str, Any] | None") -> RealDataSettings:
    return values if isinstance(values, RealDataSettings) else RealDataSettings.of(values)


def output_paths(out_dir: str | Path, datasets: Sequence[str] | None = None) -> list[Path]:
    """The files `prepare_real` writes for `datasets` (default: every real dataset of the table)."""
    sets = real_sets()
    return [entry.path(out_dir) for dataset in (sets if datasets is None else datasets) for entry in sets[dataset]]


def datasets_with_roots(settings: "RealDataSettings | Mapping[str, Any] | None") -> list[str]:
    """The real datasets (in table order) whose `data.real.<dataset>_root` is set: the ones that
    `prepare_real` prepares by default. A user with only MPI-INF-3DHP gets ["mpi_inf_3dhp"]."""
    settings = _settings(settings)
    return [dataset for dataset in real_sets() if settings.root(dataset)]


def prepare_real(settings: RealDataSettings | Mapping[str, Any] | None, out_dir: str | Path, image_size: int, *,
                 datasets: Sequence[str] | None = None, progress: bool = True, reuse: bool = True) -> list[Path]:
    """Prepare the real datasets; return the paths written (or found up to date).

    settings: the `data.real` block (RealDataSettings, or a mapping of some of its keys). out_dir: the
    prepared-data folder. image_size: crop side in pixels (`data.image_size`). datasets:
    which of the real datasets of the table (h36m, mpii, mpi_inf_3dhp) to prepare (each needs its root; default: every dataset
    whose root is set, see `datasets_with_roots`; RealDataError if none is). progress: show a
    tqdm bar per file. reuse: keep an existing output that is complete and was made from
    the same parameters (a restart after a kill then redoes only the unfinished files;
    it cannot notice edits to the raw data, so delete the output to force a rebuild).
    Raises RealDataError for bad input (naming the file and frame), ValueError for bad
    parameters.
    """
    params = _settings(settings)
    if datasets is None:
        datasets = datasets_with_roots(params)
        if not datasets:
            raise RealDataError("data.source is real but none of data.real.h36m_root, data.real.mpii_root, "
                                "data.real.mpi_inf_3dhp_root is set: point at least one at your copy of the "
                                "dataset (see docs/real-datasets.md), or use data.source: synthetic")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
        raise ValueError(f"data.image_size must be a positive integer, got {image_size!r}")
    # First read and check every annotation (cheap), so that bad input is reported
    # before hours of JPEG decoding; then crop and write.
    jobs = _checked_tables(params, Path(out_dir), image_size, datasets, reuse)
    for table, spec, policy in jobs:
        write_split(table, spec, image_size=image_size, policy=policy, workers=params.workers,
                    progress=progress)
    return output_paths(out_dir, datasets)


def count_real_samples(settings: RealDataSettings | Mapping[str, Any] | None,
                       datasets: Sequence[str] | None = None) -> dict[str, int]:
    """How many samples each output file would get, from the annotations alone (no JPEG read).

    Returns {"h36m_train.h5": n, ...}. Annotation problems follow data.real.on_error;
    unreadable JPEGs, found only while cropping, are not counted out.
    """
    params = _settings(settings)
    jobs = _checked_tables(params, Path("."), 1, list(real_sets()) if datasets is None else datasets, reuse=False)
    return {spec.path.name: len(table) for table, spec, _ in jobs}


def _checked_tables(params: RealDataSettings, out_dir: Path, image_size: int, datasets: Sequence[str],
                    reuse: bool) -> list[tuple[PersonTable, SplitSpec, ErrorPolicy]]:
    """(table without bad rows, output spec, the dataset's error policy) per file to write."""
    sets = real_sets()
    unknown = [d for d in datasets if d not in sets]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; choose from {tuple(sets)}")
    for dataset in datasets:
        if params.root(dataset) is None:
            raise RealDataError(f"data.real.{dataset}_root is not set: point it at your copy of the dataset "
                                f"(see docs/real-datasets.md)")
    jobs = []
    for dataset in datasets:
        policy = ErrorPolicy(params.on_error)
        specs = {entry.split: _split_spec(entry, params, out_dir, image_size) for entry in sets[dataset]}
        todo = [split for split, spec in specs.items() if not (reuse and is_up_to_date(spec, image_size))]
        for split in specs:
            if split not in todo:
                log.info("%s is up to date", specs[split].path)
        if not todo:
            continue
        for split, (table, names) in reader(sets[dataset][0])(params, todo, policy):
            spec = specs[split]
            spec.subject_names, spec.action_names, spec.camera_names = (
                names["subject_names"], names["action_names"], names["camera_names"])
            jobs.append((drop_bad_values(table, spec, policy), spec, policy))
    return jobs


def _split_spec(entry: PreparedSet, params: RealDataSettings, out_dir: Path, image_size: int) -> SplitSpec:
    """Where and how one real file is written; it records the crop side and its `real_params`."""
    return SplitSpec(path=prepared_path(out_dir, entry.dataset, entry.split), dataset=entry.dataset,
                     split=entry.split, has_3d=entry.has_3d,
                     params={"image_size": image_size, **params.recorded(entry.real_params)})


def reader(entry: PreparedSet):
    """The real-data reader a table row names ("module:function"), imported.

    It is called as reader(settings, splits, policy) and yields (split, (PersonTable, name
    tables)) for each split asked for, reading lazily."""
    module, _, function = entry.reader.partition(":")
    return getattr(importlib.import_module(module), function)


__all__ = ["PersonTable", "RealDataError", "RealDataSettings", "count_real_samples", "datasets_with_roots",
           "output_paths", "prepare_real", "reader"]
