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
from typing import Any, Mapping, Sequence

from posegan.data.real.errors import ON_ERROR_CHOICES, ErrorPolicy, RealDataError
from posegan.data.real.h36m import TEST_SUBJECTS, TRAIN_SUBJECTS, read_h36m_split
from posegan.data.real.mpi_inf_3dhp import (DEFAULT_INTRINSICS, JOINTS_3D_KEYS, SEQUENCES, read_3dhp_test)
from posegan.data.real.mpii import (find_mpii_annotations, mpii_table, read_mpii_hourglass,
                                    read_mpii_release)
from posegan.data.real.people import PersonTable
from posegan.data.real.writer import SplitSpec, drop_bad_values, is_up_to_date, write_split
from posegan.data.schema import DATASETS, prepared_path

log = logging.getLogger(__name__)

# The `data.real` block of params.yaml, with its defaults.
DEFAULT_PARAMS: dict[str, Any] = {
    "h36m_root": None,
    "mpii_root": None,
    "mpi_inf_3dhp_root": None,
    "workers": 2,
    "on_error": "fail",
    "crop_margin": 1.25,
    "h36m_train_subjects": list(TRAIN_SUBJECTS),
    "h36m_test_subjects": list(TEST_SUBJECTS),
    "h36m_train_frame_step": 1,
    "h36m_test_frame_step": 1,
    "mpii_annotations": "auto",
    "mpii_scale_factor": 1.25,
    "mpii_valid_fraction": 0.1,
    "mpi_inf_3dhp_sequences": list(SEQUENCES),
    "mpi_inf_3dhp_frame_step": 1,
    "mpi_inf_3dhp_joints_3d": "univ_annot3",
    "mpi_inf_3dhp_intrinsics": {k: list(v) for k, v in DEFAULT_INTRINSICS.items()},
}
# The parameters each dataset's files depend on (recorded in the files' `params` attribute).
DATASET_PARAMS = {
    "h36m": ["h36m_root", "on_error", "crop_margin", "h36m_train_subjects", "h36m_test_subjects",
             "h36m_train_frame_step", "h36m_test_frame_step"],
    "mpii": ["mpii_root", "on_error", "mpii_annotations", "mpii_scale_factor", "mpii_valid_fraction"],
    "mpi_inf_3dhp": ["mpi_inf_3dhp_root", "on_error", "crop_margin", "mpi_inf_3dhp_sequences",
                     "mpi_inf_3dhp_frame_step", "mpi_inf_3dhp_joints_3d", "mpi_inf_3dhp_intrinsics"],
}
SPLITS = {"h36m": ("train", "test"), "mpii": ("train", "valid"), "mpi_inf_3dhp": ("test",)}
MPII_ANNOTATION_FORMS = ("auto", "hourglass", "release")


def output_paths(out_dir: str | Path, datasets: Sequence[str] = DATASETS) -> list[Path]:
    """The files `prepare_real` writes for `datasets`."""
    return [prepared_path(out_dir, dataset, split) for dataset in datasets for split in SPLITS[dataset]]


def resolve_params(data_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `data.real` block with defaults filled in; raises ValueError naming a bad entry."""
    data_params = dict(data_params or {})
    unknown = sorted(set(data_params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(f"data.real: unknown parameter(s) {unknown}; known: {sorted(DEFAULT_PARAMS)}")
    params = {**DEFAULT_PARAMS, **{k: v for k, v in data_params.items() if k != "mpi_inf_3dhp_intrinsics"}}
    intrinsics = dict(DEFAULT_PARAMS["mpi_inf_3dhp_intrinsics"])
    intrinsics.update(data_params.get("mpi_inf_3dhp_intrinsics") or {})
    params["mpi_inf_3dhp_intrinsics"] = intrinsics

    def fail(key: str, expected: str) -> None:
        raise ValueError(f"data.real.{key} must be {expected}, got {params[key]!r}")

    for key in ("h36m_root", "mpii_root", "mpi_inf_3dhp_root"):
        if params[key] is not None and not isinstance(params[key], (str, Path)):
            fail(key, "a folder path or null")
        params[key] = None if params[key] is None else str(params[key])
    if not isinstance(params["workers"], int) or isinstance(params["workers"], bool) or params["workers"] < 1:
        fail("workers", "an integer >= 1")
    if params["on_error"] not in ON_ERROR_CHOICES:
        fail("on_error", f"one of {ON_ERROR_CHOICES}")
    for key in ("h36m_train_frame_step", "h36m_test_frame_step", "mpi_inf_3dhp_frame_step"):
        if not isinstance(params[key], int) or isinstance(params[key], bool) or params[key] < 1:
            fail(key, "an integer >= 1")
    for key in ("crop_margin", "mpii_scale_factor"):
        if not isinstance(params[key], (int, float)) or not params[key] > 0:
            fail(key, "a number > 0")
    if not isinstance(params["mpii_valid_fraction"], (int, float)) or not 0 <= params["mpii_valid_fraction"] < 1:
        fail("mpii_valid_fraction", "a number in [0, 1)")
    for key in ("h36m_train_subjects", "h36m_test_subjects", "mpi_inf_3dhp_sequences"):
        value = params[key]
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(s, str) for s in value):
            fail(key, "a non-empty list of folder names such as S1 or TS1")
        params[key] = list(value)
    if params["mpii_annotations"] not in MPII_ANNOTATION_FORMS:
        fail("mpii_annotations", f"one of {MPII_ANNOTATION_FORMS}")
    if params["mpi_inf_3dhp_joints_3d"] not in JOINTS_3D_KEYS:
        fail("mpi_inf_3dhp_joints_3d", f"one of {JOINTS_3D_KEYS}")
    for sequence, values in intrinsics.items():
        if (not isinstance(values, (list, tuple)) or len(values) != 4
                or not all(isinstance(v, (int, float)) for v in values) or not (values[0] > 0 and values[1] > 0)):
            raise ValueError(f"data.real.mpi_inf_3dhp_intrinsics.{sequence} must be [fx, fy, cx, cy] in pixels "
                             f"with fx, fy > 0, got {values!r}")
        intrinsics[sequence] = [float(v) for v in values]
    return params


def datasets_with_roots(data_params: Mapping[str, Any] | None) -> list[str]:
    """The datasets (in DATASETS order) whose `data.real.<dataset>_root` is set: the ones that
    `prepare_real` prepares by default. A user with only MPI-INF-3DHP gets ["mpi_inf_3dhp"]."""
    params = resolve_params(data_params)
    return [dataset for dataset in DATASETS if params[f"{dataset}_root"]]


def prepare_real(data_params: Mapping[str, Any] | None, out_dir: str | Path, image_size: int, *,
                 datasets: Sequence[str] | None = None, progress: bool = True, reuse: bool = True) -> list[Path]:
    """Prepare the real datasets; return the paths written (or found up to date).

    data_params: the `data.real` block of params.yaml (see DEFAULT_PARAMS). out_dir: the
    prepared-data folder. image_size: crop side in pixels (`data.image_size`). datasets:
    which of h36m, mpii, mpi_inf_3dhp to prepare (each needs its root; default: every dataset
    whose root is set, see `datasets_with_roots`; RealDataError if none is). progress: show a
    tqdm bar per file. reuse: keep an existing output that is complete and was made from
    the same parameters (a restart after a kill then redoes only the unfinished files;
    it cannot notice edits to the raw data, so delete the output to force a rebuild).
    Raises RealDataError for bad input (naming the file and frame), ValueError for bad
    parameters.
    """
    params = resolve_params(data_params)
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
        write_split(table, spec, image_size=image_size, policy=policy, workers=params["workers"],
                    progress=progress)
    return output_paths(out_dir, datasets)


def count_real_samples(data_params: Mapping[str, Any] | None,
                       datasets: Sequence[str] = DATASETS) -> dict[str, int]:
    """How many samples each output file would get, from the annotations alone (no JPEG read).

    Returns {"h36m_train.h5": n, ...}. Annotation problems follow data.real.on_error;
    unreadable JPEGs, found only while cropping, are not counted out.
    """
    params = resolve_params(data_params)
    jobs = _checked_tables(params, Path("."), 1, datasets, reuse=False)
    return {spec.path.name: len(table) for table, spec, _ in jobs}


def _checked_tables(params: dict[str, Any], out_dir: Path, image_size: int, datasets: Sequence[str],
                    reuse: bool) -> list[tuple[PersonTable, SplitSpec, ErrorPolicy]]:
    """(table without bad rows, output spec, the dataset's error policy) per file to write."""
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; choose from {DATASETS}")
    for dataset in datasets:
        if params[f"{dataset}_root"] is None:
            raise RealDataError(f"data.real.{dataset}_root is not set: point it at your copy of the dataset "
                                f"(see docs/real-datasets.md)")
    jobs = []
    for dataset in datasets:
        policy = ErrorPolicy(params["on_error"])
        specs = {split: SplitSpec(path=prepared_path(out_dir, dataset, split), dataset=dataset, split=split,
                                  has_3d=dataset != "mpii",
                                  params={"image_size": image_size,
                                          **{k: params[k] for k in DATASET_PARAMS[dataset]}})
                 for split in SPLITS[dataset]}
        todo = [split for split, spec in specs.items() if not (reuse and is_up_to_date(spec, image_size))]
        for split in SPLITS[dataset]:
            if split not in todo:
                log.info("%s is up to date", specs[split].path)
        for split, (table, names) in _read_tables(dataset, todo, params, policy):
            spec = specs[split]
            spec.subject_names, spec.action_names, spec.camera_names = (
                names["subject_names"], names["action_names"], names["camera_names"])
            jobs.append((drop_bad_values(table, spec, policy), spec, policy))
    return jobs


def _read_tables(dataset: str, splits: list[str], params: dict[str, Any], policy: ErrorPolicy):
    """Yield (split, (PersonTable, name tables)) for each split in `splits`, read lazily."""
    if not splits:
        return
    no_names = {"subject_names": [], "action_names": [], "camera_names": []}
    if dataset == "h36m":
        for split in splits:
            yield split, read_h36m_split(params["h36m_root"], params[f"h36m_{split}_subjects"], split=split,
                                         frame_step=params[f"h36m_{split}_frame_step"],
                                         crop_margin=params["crop_margin"], policy=policy)
    elif dataset == "mpii":
        form, where = find_mpii_annotations(params["mpii_root"], params["mpii_annotations"])
        images = Path(params["mpii_root"]) / "images"
        if not images.is_dir():
            raise RealDataError(f"data.real.mpii_root: folder {images} with the MPII images does not exist")
        if form == "hourglass":
            people = {split: read_mpii_hourglass(where[split]) for split in splits}
        else:
            people = read_mpii_release(where, valid_fraction=params["mpii_valid_fraction"], policy=policy)
        for split in splits:
            yield split, (mpii_table(people[split], images, scale_factor=params["mpii_scale_factor"]), no_names)
    else:
        yield "test", read_3dhp_test(params["mpi_inf_3dhp_root"], params["mpi_inf_3dhp_sequences"],
                                     frame_step=params["mpi_inf_3dhp_frame_step"],
                                     crop_margin=params["crop_margin"],
                                     joints_3d_key=params["mpi_inf_3dhp_joints_3d"],
                                     intrinsics=params["mpi_inf_3dhp_intrinsics"], policy=policy)


__all__ = ["DEFAULT_PARAMS", "PersonTable", "RealDataError", "count_real_samples", "datasets_with_roots",
           "output_paths", "prepare_real", "resolve_params"]
