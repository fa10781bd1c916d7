"""The MPI-INF-3DHP test set (mpi_inf_3dhp_test_set).

Layout read (mpi_inf_3dhp_root may hold TS1..TS6 or mpi_inf_3dhp_test_set/TS1..TS6)::

    TS<n>/annot_data.mat             MATLAB v7.3, i.e. an HDF5 file, read with h5py
    TS<n>/imageSequence/img_%06d.jpg frame i (0-based row of the annotations) is img_{i+1}

annot_data.mat, as h5py shows it (frames F): `annot2` (F, 1, 17, 2) pixels, `annot3`
(F, 1, 17, 3) camera mm, `univ_annot3` (F, 1, 17, 3) camera mm rescaled to the universal
skeleton, `valid_frame` (F, 1) 0/1, `activity_annotation` (F, 1) 1..7. Only valid frames
are used (2929 in the six sequences).

Joints: 3DHP-17 -> MPII-16 (posegan.skeleton.MPI3DHP17_TO_MPII16), all annotated and
visible. `joints_3d` comes from `mpi_inf_3dhp_joints_3d`: univ_annot3 (default; the
ground truth of the standard PCK/AUC evaluation) or annot3 (the person's own skeleton,
the one consistent with the image). 2D joints are annot2; intrinsics are parameters
(the file has none), defaults from common use (DEFAULT_INTRINSICS).

Crop: a square around the 2D joints' box, side = crop_margin x its longer side. Head
size: 0.75 x the 2D upper-neck to head-top distance (3DHP's neck and head_top), original
pixels; see geometry.HEAD_SIZE_PER_SEGMENT. subject = the sequence (TS1..TS6), action =
the activity (ACTIVITY_NAMES), frame = the 1-based frame number (the JPEG name).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from typing import TYPE_CHECKING

from posegan.data.real.errors import ErrorPolicy, RealDataError, check_joint_array, open_annotation_file
from posegan.data.real.geometry import head_size_from_segment, person_box
from posegan.data.real.people import PersonTable, concat_tables
from posegan.skeleton import mpi3dhp17_to_mpii16

if TYPE_CHECKING:
    from posegan.data.real import RealDataSettings

SEQUENCES = ["TS1", "TS2", "TS3", "TS4", "TS5", "TS6"]
# The seven activity classes, in the order of activity_annotation 1..7 (Mehta et al.'s
# names, spelt as the synthetic benchmark spells them so that tables line up).
ACTIVITY_NAMES = ["Standing/Walking", "Exercising", "Sitting", "Reaching/Crouching", "On the floor", "Sports",
                  "Miscellaneous"]
# fx, fy, cx, cy in pixels. TS1-TS4: studio camera, 2048 x 2048; TS5-TS6: outdoor, 1920 x 1080.
DEFAULT_INTRINSICS = {
    "TS1": [1500.17, 1500.17, 1017.39, 1043.03],
    "TS2": [1500.17, 1500.17, 1017.39, 1043.03],
    "TS3": [1500.17, 1500.17, 1017.39, 1043.03],
    "TS4": [1500.17, 1500.17, 1017.39, 1043.03],
    "TS5": [1683.98, 1683.98, 939.86, 560.14],
    "TS6": [1683.98, 1683.98, 939.86, 560.14],
}
JOINTS_3D_KEYS = ("univ_annot3", "annot3")


def find_test_set(root: str | Path) -> Path:
    """The folder holding TS<n> (root itself or root/mpi_inf_3dhp_test_set)."""
    root = Path(root)
    if not root.is_dir():
        raise RealDataError(f"data.real.mpi_inf_3dhp_root: folder {root} does not exist (expected the "
                            f"test set folder holding TS1, ..., TS6)")
    if (root / "mpi_inf_3dhp_test_set").is_dir():
        return root / "mpi_inf_3dhp_test_set"
    return root


def read_3dhp_test(root: str | Path, sequences: list[str], *, frame_step: int, crop_margin: float,
                   joints_3d_key: str, intrinsics: dict[str, list[float]], policy: ErrorPolicy,
                   split: str = "test") -> tuple[PersonTable, dict[str, list[str]]]:
    """Read the annotations of `sequences` (no images); return (table, name tables).

    frame_step k keeps every k-th valid frame of each sequence. Problems (a missing
    sequence folder, a malformed annot_data.mat, a wrong joint count) go through `policy`.
    """
    if joints_3d_key not in JOINTS_3D_KEYS:
        raise ValueError(f"data.real.mpi_inf_3dhp_joints_3d must be one of {JOINTS_3D_KEYS}, got {joints_3d_key!r}")
    test_set = find_test_set(root)
    tables = []
    for subject_index, sequence in enumerate(sequences):
        sequence_dir = test_set / sequence
        if not sequence_dir.is_dir():
            policy.problem(str(sequence_dir), f"sequence folder {sequence} is missing", split=split, count=0)
            continue
        if sequence not in intrinsics:
            raise RealDataError(f"data.real.mpi_inf_3dhp_intrinsics: no entry for {sequence} "
                                f"(give [fx, fy, cx, cy] in pixels)")
        annot_path = sequence_dir / "annot_data.mat"
        try:
            arrays = _read_annot(annot_path, joints_3d_key)
        except RealDataError as err:
            policy.problem(str(annot_path), str(err).removeprefix(f"{annot_path}: "), split=split, count=err.count)
            continue
        annot2, joints_3d, valid, activity = arrays
        rows = np.flatnonzero(valid)[::frame_step]
        bad_activity = rows[(activity[rows] < 1) | (activity[rows] > len(ACTIVITY_NAMES))]
        for i in bad_activity:
            policy.problem(f"{annot_path} frame {i + 1}", f"activity_annotation {activity[i]} is outside 1..7",
                           split=split)
        rows = np.setdiff1d(rows, bad_activity)
        joints_2d = mpi3dhp17_to_mpii16(annot2[rows]).astype(np.float64)
        center, size = person_box(joints_2d, crop_margin)
        tables.append(PersonTable.new(
            len(rows),
            image_paths=[sequence_dir / "imageSequence" / f"img_{i + 1:06d}.jpg" for i in rows],
            where=[f"{annot_path} frame {i + 1}" for i in rows],
            joints_2d=joints_2d, joints_3d=mpi3dhp17_to_mpii16(joints_3d[rows]).astype(np.float64),
            camera=np.tile(np.asarray(intrinsics[sequence], dtype=np.float64), (len(rows), 1)),
            crop_center=center, crop_size=size, head_size=head_size_from_segment(joints_2d),
            subject=np.full(len(rows), subject_index), action=activity[rows] - 1, frame=rows + 1,
        ))
    names = {"subject_names": list(sequences), "action_names": list(ACTIVITY_NAMES), "camera_names": []}
    return concat_tables(tables), names


def _read_annot(path: Path, joints_3d_key: str):
    """(annot2 (F, 17, 2), joints_3d (F, 17, 3), valid (F,) bool, activity (F,) int) of one sequence."""
    with open_annotation_file(path, missing="annot_data.mat is missing", unreadable="not a MATLAB v7.3 (HDF5) file",
                              required=("annot2", joints_3d_key, "valid_frame", "activity_annotation"),
                              item="variable", expected="expected annot2, annot3, univ_annot3, valid_frame, "
                                                        "activity_annotation") as f:
        annot2 = np.asarray(f["annot2"][()], dtype=np.float64)
        joints_3d = np.asarray(f[joints_3d_key][()], dtype=np.float64)
        valid = np.asarray(f["valid_frame"][()]).reshape(-1)
        activity = np.asarray(f["activity_annotation"][()]).reshape(-1)
    frames = len(annot2)
    try:
        check_joint_array(annot2, (None, 1, 17, 2), str(path), "annot2", "frames x 1 x 17 joints x 2")
        check_joint_array(joints_3d, (frames, 1, 17, 3), str(path), joints_3d_key, "frames x 1 x 17 joints x 3")
    except RealDataError as err:
        raise RealDataError(str(err), count=int(np.sum(valid > 0))) from None
    for name, values in (("valid_frame", valid), ("activity_annotation", activity)):
        if len(values) != frames:
            raise RealDataError(f"{path}: {name} has {len(values)} entries, expected {frames} (one per frame)",
                                count=int(np.sum(valid > 0)))
    return annot2[:, 0], joints_3d[:, 0], valid > 0, np.rint(np.nan_to_num(activity, nan=0.0)).astype(np.int64)


def read_splits(settings: RealDataSettings, splits: list[str], policy: ErrorPolicy):
    """The dataset table's reader for MPI-INF-3DHP: yield ("test", (PersonTable, name tables))."""
    for split in splits:
        yield split, read_3dhp_test(settings.mpi_inf_3dhp_root, list(settings.mpi_inf_3dhp_sequences),
                                    frame_step=settings.mpi_inf_3dhp_frame_step, crop_margin=settings.crop_margin,
                                    joints_3d_key=settings.mpi_inf_3dhp_joints_3d,
                                    intrinsics={k: list(v) for k, v in settings.mpi_inf_3dhp_intrinsics.items()},
                                    policy=policy)
