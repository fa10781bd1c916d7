"""Human3.6M in the layout of the h36m-fetch tool (github.com/anibali/h36m-fetch).

Layout read (h36m_root may be the folder holding `processed/` or `processed/` itself)::

    processed/S<n>/<Action>-<subaction>/annot.h5
    processed/S<n>/<Action>-<subaction>/imageSequence/<camera>/img_%06d.jpg

annot.h5 holds, for the N frames h36m-fetch kept of all cameras of the sequence:
`pose/2d` (N, 32, 2) original pixels, `pose/3d` (N, 32, 3) camera mm, `pose/3d-univ`,
`intrinsics/<camera>` = [fx, cx, fy, cy] (fitted by h36m-fetch to the 2D/3D pairs, no
distortion), `frame` (N,) 1-based frame numbers (the JPEG name), `camera` (N,) camera ids
such as 54138969, `subject`, `action`, `subaction`.

Joints: the 32 Human3.6M joints -> the usual 17 by the indices H36M32_TO_H36M17 -> the
16 MPII joints (posegan.skeleton.H36M17_TO_MPII16). Every joint is annotated and marked
visible (Human3.6M has no occlusion labels).

Crop: a square around the 2D joints' box, side = crop_margin x its longer side.
Head size (PCKh, original pixels): 0.75 x the 2D distance from MPII upper_neck to head_top,
which here are Human3.6M's thorax (neck base) and head-top site; see
geometry.HEAD_SIZE_PER_SEGMENT. The action is read from the folder name; `frame` is the
1-based frame number; the subaction is not stored.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from typing import TYPE_CHECKING

from posegan.data.real.errors import ErrorPolicy, RealDataError, check_joint_array
from posegan.data.real.geometry import head_size_from_segment, person_box
from posegan.data.real.people import PersonTable, concat_tables
from posegan.skeleton import h36m17_to_mpii16

if TYPE_CHECKING:
    from posegan.data.real import RealDataSettings

# The 17 joints used by most work, as indices into Human3.6M's 32.
H36M32_TO_H36M17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
# The 15 actions, in Human3.6M's order, spelt as the rest of the pipeline spells them.
H36M_ACTIONS = ["Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
                "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking",
                "WalkingDog", "WalkTogether"]
# Folder spellings that differ from those names (h36m-fetch uses metadata.xml's names).
ACTION_ALIASES = {"WalkingTogether": "WalkTogether", "WalkDog": "WalkingDog", "Photo": "TakingPhoto"}
H36M_CAMERAS = ["54138969", "55011271", "58860488", "60457274"]
TRAIN_SUBJECTS = ["S1", "S5", "S6", "S7", "S8"]
TEST_SUBJECTS = ["S9", "S11"]

_SEQUENCE_NAME = re.compile(r"^(?P<action>.+)-(?P<subaction>\d+)$")


def h36m32_to_mpii16(joints: np.ndarray) -> np.ndarray:
    """Reorder (..., 32, C) Human3.6M joints to (..., 16, C) MPII order."""
    joints = np.asarray(joints)
    if joints.ndim < 2 or joints.shape[-2] != 32:
        raise ValueError(f"expected Human3.6M-32 joints of shape (..., 32, C), got {joints.shape}")
    return h36m17_to_mpii16(joints[..., H36M32_TO_H36M17, :])


def find_processed(root: str | Path) -> Path:
    """The `processed` folder of an h36m-fetch output (root itself if it holds S<n> folders)."""
    root = Path(root)
    if not root.is_dir():
        raise RealDataError(f"data.real.h36m_root: folder {root} does not exist (expected the h36m-fetch "
                            f"output folder holding processed/S1, ..., processed/S11)")
    if (root / "processed").is_dir():
        return root / "processed"
    if any(re.fullmatch(r"S\d+", p.name) for p in root.iterdir() if p.is_dir()):
        return root
    raise RealDataError(f"data.real.h36m_root: {root} holds neither processed/ nor S<n> folders "
                        f"(expected the h36m-fetch layout processed/S<n>/<Action>-<subaction>/annot.h5)")


def read_h36m_split(root: str | Path, subjects: list[str], *, split: str, frame_step: int,
                    crop_margin: float, policy: ErrorPolicy) -> tuple[PersonTable, dict[str, list[str]]]:
    """Read the annotations of `subjects` (no images); return (table, name tables).

    frame_step k keeps every k-th frame of those h36m-fetch stored, per sequence and camera.
    Problems (a missing subject folder, a missing or malformed annot.h5, a wrong joint
    count, missing intrinsics) go through `policy`; value checks (NaN) come later.
    """
    processed = find_processed(root)
    camera_names = list(H36M_CAMERAS)
    tables = []
    for subject_index, subject in enumerate(subjects):
        subject_dir = processed / subject
        if not subject_dir.is_dir():
            policy.problem(str(subject_dir), f"subject folder {subject} is missing", split=split, count=0)
            continue
        sequences = sorted(p for p in subject_dir.iterdir() if p.is_dir())
        if not sequences:
            policy.problem(str(subject_dir), f"subject folder {subject} holds no <Action>-<subaction> folders",
                           split=split, count=0)
        for sequence_dir in sequences:
            table = read_h36m_sequence(sequence_dir, subject_index, split=split, frame_step=frame_step,
                                       crop_margin=crop_margin, policy=policy, camera_names=camera_names)
            tables.append(table)
    names = {"subject_names": list(subjects), "action_names": list(H36M_ACTIONS), "camera_names": camera_names}
    return concat_tables(tables), names


def read_h36m_sequence(sequence_dir: Path, subject_index: int, *, split: str, frame_step: int,
                       crop_margin: float, policy: ErrorPolicy, camera_names: list[str]) -> PersonTable:
    """One <Action>-<subaction> folder; `camera_names` is extended with unknown camera ids."""
    annot_path = sequence_dir / "annot.h5"
    match = _SEQUENCE_NAME.match(sequence_dir.name)
    action = ACTION_ALIASES.get(match["action"], match["action"]) if match else None
    if action not in H36M_ACTIONS:
        policy.problem(str(sequence_dir), f"folder name {sequence_dir.name!r} is not <Action>-<subaction> with "
                       f"one of the 15 actions {H36M_ACTIONS}", split=split, count=0)
        return PersonTable.empty()
    if not annot_path.is_file():
        policy.problem(str(annot_path), "annot.h5 is missing", split=split, count=0)
        return PersonTable.empty()
    try:
        with h5py.File(annot_path, "r") as f:
            arrays = _read_annot(f, annot_path)
    except RealDataError as err:
        policy.problem(str(annot_path), str(err).removeprefix(f"{annot_path}: "), split=split, count=err.count)
        return PersonTable.empty()
    except OSError as err:
        policy.problem(str(annot_path), f"not a readable HDF5 file ({err})", split=split, count=0)
        return PersonTable.empty()

    pose_2d, pose_3d, frames, cameras, intrinsics = arrays
    keep = np.zeros(len(frames), bool)
    camera_index = np.zeros(len(frames), int)
    camera_matrix = np.full((len(frames), 4), np.nan)
    for camera in sorted(set(cameras)):
        rows = np.flatnonzero(cameras == camera)
        if camera not in intrinsics:
            policy.problem(str(annot_path), f"no intrinsics/{camera} for {len(rows)} frame(s) of camera {camera}",
                           split=split, count=len(rows))
            continue
        fx, cx, fy, cy = intrinsics[camera]
        camera_matrix[rows] = (fx, fy, cx, cy)
        if camera not in camera_names:
            camera_names.append(camera)
        camera_index[rows] = camera_names.index(camera)
        keep[rows[::frame_step]] = True

    rows = np.flatnonzero(keep)
    joints_2d = h36m32_to_mpii16(pose_2d[rows]).astype(np.float64)
    joints_3d = h36m32_to_mpii16(pose_3d[rows]).astype(np.float64)
    center, size = person_box(joints_2d, crop_margin)
    image_dir = sequence_dir / "imageSequence"
    return PersonTable.new(
        len(rows),
        image_paths=[image_dir / cameras[i] / f"img_{frames[i]:06d}.jpg" for i in rows],
        where=[f"{annot_path} frame {frames[i]} camera {cameras[i]}" for i in rows],
        joints_2d=joints_2d, joints_3d=joints_3d, camera=camera_matrix[rows],
        crop_center=center, crop_size=size, head_size=head_size_from_segment(joints_2d),
        subject=np.full(len(rows), subject_index), action=np.full(len(rows), H36M_ACTIONS.index(action)),
        camera_id=camera_index[rows], frame=frames[rows],
    )


def _read_annot(f: h5py.File, path: Path):
    """(pose_2d, pose_3d, frames, camera ids as str, {camera: [fx, cx, fy, cy]}) of an annot.h5."""
    for name in ("pose/2d", "frame", "camera"):
        if name not in f:
            raise RealDataError(f"{path}: dataset {name!r} is missing (expected the h36m-fetch annot.h5 layout)")
    if "pose/3d" not in f:
        raise RealDataError(f"{path}: dataset 'pose/3d' (camera mm) is missing; older h36m-fetch versions "
                            f"wrote only pose/3d-univ: re-run its process_all.py")
    pose_2d, pose_3d = f["pose/2d"][()], f["pose/3d"][()]
    n = len(pose_2d)
    try:
        check_joint_array(pose_2d, (None, 32, 2), str(path), "pose/2d", "the 32 Human3.6M joints, pixels")
        check_joint_array(pose_3d, (n, 32, 3), str(path), "pose/3d", "the 32 Human3.6M joints, camera mm")
    except RealDataError as err:
        raise RealDataError(str(err), count=n) from None  # the whole sequence is lost
    frames, cameras = f["frame"][()], f["camera"][()]
    if frames.shape != (n,) or cameras.shape != (n,):
        raise RealDataError(f"{path}: frame {frames.shape} and camera {cameras.shape} must both have shape "
                            f"({n},), one entry per pose", count=n)
    intrinsics = {}
    if "intrinsics" in f:
        for camera, values in f["intrinsics"].items():
            values = np.asarray(values[()], dtype=np.float64).reshape(-1)
            if values.shape != (4,):
                raise RealDataError(f"{path}: intrinsics/{camera} has {values.size} values, expected 4 "
                                    f"[fx, cx, fy, cy]", count=n)
            intrinsics[camera] = values
    camera_ids = np.array([str(int(c)) for c in cameras]) if n else np.zeros(0, str)
    return pose_2d, pose_3d, frames.astype(np.int64), camera_ids, intrinsics


def read_splits(settings: RealDataSettings, splits: list[str], policy: ErrorPolicy):
    """The dataset table's reader for Human3.6M: yield (split, (PersonTable, name tables)) for
    each of `splits` (train, test), with that split's subjects and frame step of `data.real`."""
    for split in splits:
        yield split, read_h36m_split(settings.h36m_root, list(getattr(settings, f"h36m_{split}_subjects")),
                                     split=split, frame_step=getattr(settings, f"h36m_{split}_frame_step"),
                                     crop_margin=settings.crop_margin, policy=policy)
