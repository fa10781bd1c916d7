"""Tiny specimens of the real datasets, in exactly their on-disk formats.

Each writer builds a few people from one standing template pose (camera mm, x right,
y down, z forward; the person faces the camera, so their right side is on the image's
left), projects it with a known pinhole camera, and writes the annotation files and
small JPEGs (PIL) the way the real datasets lay them out:

- Human3.6M (h36m-fetch): processed/S<n>/<Action>-<sub>/annot.h5 + imageSequence/<cam>/img_%06d.jpg
- MPII, hourglass form: annot/{train,valid}.h5 + images/<name>.jpg (1-based coordinates)
- MPII, release form: mpii_human_pose_v1_u12_1.mat, the RELEASE struct (see write_mpii_release)
- MPI-INF-3DHP test set: TS<n>/annot_data.mat (MATLAB v7.3 = HDF5) + imageSequence/img_%06d.jpg

Every JPEG has a red disc on the head top and a blue disc on the right wrist, so a test
can check that a crop shows the right place. The writers return what they wrote
(the ground truth the tests compare against).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

from posegan.camera import project
from posegan.skeleton import H36M17_TO_MPII16

RED, BLUE = (230, 20, 20), (20, 20, 230)
MARK_RADIUS = 3

# Human3.6M-17 template (pelvis at the origin), mm: pelvis, r_hip, r_knee, r_ankle, l_hip,
# l_knee, l_ankle, spine, thorax, neck_nose, head, l_shoulder, l_elbow, l_wrist,
# r_shoulder, r_elbow, r_wrist.
TEMPLATE_H36M17 = np.array([
    [0, 0, 0], [-130, 0, 0], [-135, 440, 20], [-140, 870, 0], [130, 0, 0], [135, 440, 20], [140, 870, 0],
    [0, -240, 10], [0, -480, 0], [0, -560, -40], [0, -730, 0], [180, -450, 0], [220, -200, 0],
    [230, 30, -60], [-180, -450, 0], [-220, -200, 0], [-230, 30, -60],
], dtype=np.float64)
# Where each of Human3.6M's 32 joints takes its position from the 17 (the used 17 map to
# themselves, the others to a neighbour, as the real skeleton's extra sites and toes do).
H36M32_FROM_17 = [0, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6, 0, 7, 8, 9, 10, 8, 11, 12, 13, 13, 13, 13, 8, 14,
                  14, 15, 16, 16, 16, 16, 16]
# 3DHP-17 order from H36M-17: head_top, neck, r_sho, r_elb, r_wri, l_sho, l_elb, l_wri,
# r_hip, r_knee, r_ankle, l_hip, l_knee, l_ankle, pelvis, spine, head.
MPI3DHP17_FROM_H36M17 = [10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9]


def person(rng: np.random.Generator, position) -> np.ndarray:
    """(17, 3) H36M-17 pose in camera mm: the template, jittered, at `position` (the pelvis)."""
    return TEMPLATE_H36M17 + rng.normal(0.0, 15.0, TEMPLATE_H36M17.shape) + np.asarray(position, np.float64)


def write_jpeg(path: Path, width: int, height: int, head_tops=(), right_wrists=(), seed: int = 0,
               quality: int = 92, radius: float = MARK_RADIUS) -> None:
    """A smooth grey-green picture with a red disc per head top and a blue one per right wrist."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([90 + 60 * x / width, 120 + 40 * y / height, 100 + 0 * x], axis=-1)
    base += np.random.default_rng(seed).normal(0, 3, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for points, colour in ((head_tops, RED), (right_wrists, BLUE)):
        for px, py in points:  # pixel-centre coordinates, 0-based
            draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=quality)


# --------------------------------------------------------------------------- Human3.6M

H36M_SPECIMEN_CAMERAS = {  # h36m-fetch's intrinsics layout: [fx, cx, fy, cy]
    "54138969": [190.0, 81.0, 185.0, 63.0],
    "55011271": [200.0, 78.5, 196.0, 66.0],
}


def write_h36m(root: Path, sequences: dict[str, list[str]] | None = None, frames: int = 3,
               width: int = 160, height: int = 128, seed: int = 0) -> dict:
    """An h36m-fetch `processed/` tree; returns {(subject, sequence): {...arrays as written...}}.

    sequences: {subject: [folder names]}; default S1 with two sequences, S9 with one.
    Each sequence has both specimen cameras and `frames` frames per camera, numbered
    1, 6, 11, ... (h36m-fetch keeps a subset of frames; the numbers are the JPEG names).
    """
    sequences = sequences or {"S1": ["Directions-1", "WalkingTogether-2"], "S9": ["Eating-1"]}
    rng = np.random.default_rng(seed)
    written = {}
    for subject, folders in sequences.items():
        for action_index, folder in enumerate(folders):
            sequence_dir = root / "processed" / subject / folder
            pose_2d, pose_3d, frame_numbers, camera_ids = [], [], [], []
            for camera, (fx, cx, fy, cy) in H36M_SPECIMEN_CAMERAS.items():
                for k in range(frames):
                    frame = 1 + 5 * k
                    pose17 = person(rng, (rng.uniform(-250, 250), rng.uniform(-80, 80), rng.uniform(4300, 4700)))
                    pose32 = pose17[H36M32_FROM_17]
                    uv = project(pose32, np.array([fx, fy, cx, cy]))
                    write_jpeg(sequence_dir / "imageSequence" / camera / f"img_{frame:06d}.jpg", width, height,
                               head_tops=[uv[15]], right_wrists=[uv[27]], seed=frame)
                    pose_2d.append(uv)
                    pose_3d.append(pose32)
                    frame_numbers.append(frame)
                    camera_ids.append(int(camera))
            n = len(frame_numbers)
            with h5py.File(sequence_dir / "annot.h5", "w") as f:
                f.create_dataset("pose/2d", data=np.array(pose_2d))
                f.create_dataset("pose/3d-univ", data=np.array(pose_3d) * 0.95)
                f.create_dataset("pose/3d", data=np.array(pose_3d))
                for camera, values in H36M_SPECIMEN_CAMERAS.items():
                    f.create_dataset(f"intrinsics/{camera}", data=np.array(values))
                    f.create_dataset(f"intrinsics-univ/{camera}", data=np.array(values))
                f.create_dataset("frame", data=np.array(frame_numbers))
                f.create_dataset("camera", data=np.array(camera_ids))
                f.create_dataset("subject", data=np.full(n, int(subject[1:])))
                f.create_dataset("action", data=np.full(n, 2 + action_index))
                f.create_dataset("subaction", data=np.full(n, int(folder.rsplit("-", 1)[1])))
            written[(subject, folder)] = {"pose_2d": np.array(pose_2d), "pose_3d": np.array(pose_3d),
                                          "frame": np.array(frame_numbers), "camera": np.array(camera_ids)}
    return written


# ------------------------------------------------------------------------------- MPII

def mpii_people(seed: int = 0, images: int = 6, width: int = 200, height: int = 150) -> list[dict]:
    """Synthetic MPII people (0-based pixel coordinates), one or two per image.

    Each: image (name), joints (16, 2), annotated (16,), visible (16,), head box
    (x1, y1, x2, y2), center (2,), scale. Some joints are not annotated, some occluded,
    one lies outside the image.
    """
    rng = np.random.default_rng(seed)
    camera = np.array([220.0, 220.0, width / 2, height / 2])
    people = []
    for i in range(images):
        name = f"{100000000 + 7919 * i:09d}.jpg"
        count = 2 if i % 3 == 0 else 1
        for p in range(count):
            x = (-500 if count == 2 and p == 0 else 500 if count == 2 else 0) + rng.uniform(-100, 100)
            pose = person(rng, (x, rng.uniform(-50, 50), rng.uniform(4800, 5600)))
            joints = project(pose[H36M17_TO_MPII16], camera)
            annotated = np.ones(16, bool)
            visible = rng.random(16) > 0.25
            if (i + p) % 2 == 0:
                annotated[[0, 5]] = False  # ankles out of frame, not labelled
            if i == 1:
                joints[10] = (-4.0, joints[10, 1])  # a labelled wrist left of the image
            visible &= annotated
            visible[[8, 9]] = annotated[[8, 9]]  # the release has no flag there; hourglass: visible
            top, neck = joints[9], joints[8]
            half = 0.5 * np.linalg.norm(top - neck)
            mid = (top + neck) / 2
            box = (mid[0] - half, mid[1] - half * 1.1, mid[0] + half, mid[1] + half * 1.1)
            ys = joints[annotated, 1]
            center = np.array([joints[6, 0] + rng.uniform(-3, 3), (ys.min() + ys.max()) / 2])
            scale = (ys.max() - ys.min()) * 1.15 / 200.0
            people.append({"image": name, "person": p, "image_index": i, "joints": joints,
                           "annotated": annotated, "visible": visible, "head_box": np.array(box),
                           "center": center, "scale": scale})
    return people


def write_mpii_images(root: Path, people: list[dict], width: int = 200, height: int = 150) -> None:
    for name in sorted({p["image"] for p in people}):
        here = [p for p in people if p["image"] == name]
        write_jpeg(root / "images" / name, width, height, head_tops=[p["joints"][9] for p in here],
                   right_wrists=[p["joints"][10] for p in here], seed=len(here))


def head_size(person: dict) -> float:
    x1, y1, x2, y2 = person["head_box"]
    return 0.6 * float(np.hypot(x2 - x1, y2 - y1))


def write_mpii_hourglass(root: Path, train: list[dict], valid: list[dict]) -> None:
    """annot/train.h5 and annot/valid.h5 as in pose-hg-train (MATLAB 1-based coordinates)."""
    (root / "annot").mkdir(parents=True, exist_ok=True)
    for split, people in (("train", train), ("valid", valid)):
        n = len(people)
        part = np.zeros((n, 16, 2))
        for k, p in enumerate(people):
            part[k][p["annotated"]] = p["joints"][p["annotated"]] + 1.0
        with h5py.File(root / "annot" / f"{split}.h5", "w") as f:
            f.attrs["name"] = "mpii"
            f.create_dataset("center", data=np.array([p["center"] + 1.0 for p in people]))
            f.create_dataset("imgname", data=np.array([p["image"].encode() for p in people], dtype="S13"))
            f.create_dataset("index", data=np.array([float(p["image_index"]) for p in people]))
            f.create_dataset("normalize", data=np.array([head_size(p) for p in people]))
            f.create_dataset("part", data=part)
            f.create_dataset("person", data=np.array([float(p["person"]) for p in people]))
            f.create_dataset("scale", data=np.array([p["scale"] for p in people]))
            f.create_dataset("torsoangle", data=np.zeros(n))
            f.create_dataset("visible", data=np.array([p["visible"] for p in people], dtype=np.float64))


def release_split(name: str, valid_fraction: float) -> str:
    """The validation rule posegan.data.real.mpii documents for the release form."""
    return "valid" if zlib.crc32(name.encode()) / 2**32 < valid_fraction else "train"


def write_mpii_release(path: Path, people: list[dict], test_images: int = 2) -> None:
    """The official RELEASE struct, written with scipy.io.savemat (MATLAB v5).

    Layout assumed (from the MPII readme and the public parsers): RELEASE is a 1x1 struct
    with annolist (1 x K struct: image.name, annorect, frame_sec, vidx), img_train (1 x K
    0/1), version, single_person (K x 1 cell), act (K x 1 struct) and video_list (1 x V
    cell). annorect is a 1 x R struct per image whose fields differ between images:
    training people have x1 y1 x2 y2 (head box), annopoints.point (1 x P struct: id, x, y,
    is_visible), scale and objpos (x, y); test images carry only scale and objpos; a rect
    without a pose has annopoints = []. Coordinates are 1-based. is_visible appears as a
    number, as a string '0'/'1' and as [] (no flag: head top, upper neck).
    The specimen also has a training person with no annopoints and test images.
    """
    from scipy.io import savemat

    names = list(dict.fromkeys(p["image"] for p in people))
    entries, train_flags = [], []
    for name in names:
        rects = []
        for p in (q for q in people if q["image"] == name):
            points = []
            for joint in np.flatnonzero(p["annotated"]):
                x, y = p["joints"][joint] + 1.0
                if joint in (8, 9):
                    flag = np.zeros((0, 0))  # MPII leaves the head joints without a flag
                elif joint % 3 == 0:
                    flag = "1" if p["visible"][joint] else "0"  # some flags are strings
                else:
                    flag = float(p["visible"][joint])
                points.append((float(x), float(y), float(joint), flag))
            point_array = np.empty((1, len(points)), dtype=[("x", "O"), ("y", "O"), ("id", "O"),
                                                            ("is_visible", "O")])
            for k, values in enumerate(points):
                point_array[0, k] = values
            x1, y1, x2, y2 = p["head_box"] + 1.0
            rects.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2, "annopoints": {"point": point_array},
                          "scale": p["scale"], "objpos": {"x": p["center"][0] + 1.0, "y": p["center"][1] + 1.0}})
        if name == names[0]:  # a person seen but not posed
            rects.append({"x1": 1.0, "y1": 1.0, "x2": 9.0, "y2": 9.0, "annopoints": np.zeros((0, 0)),
                          "scale": 1.0, "objpos": {"x": 50.0, "y": 50.0}})
        entries.append((name, _struct_array(rects)))
        train_flags.append(1)
    for t in range(test_images):
        test_rect = _struct_array([{"scale": 2.0, "objpos": {"x": 90.0, "y": 70.0}}])
        entries.append((f"99999999{t}.jpg", test_rect))
        train_flags.append(0)
    annolist = np.empty((1, len(entries)), dtype=[("image", "O"), ("annorect", "O"), ("frame_sec", "O"),
                                                  ("vidx", "O")])
    for k, (name, rects) in enumerate(entries):
        annolist[0, k] = ({"name": name}, rects, np.zeros((0, 0)), np.zeros((0, 0)))
    act = np.empty((len(entries), 1), dtype=[("cat_name", "O"), ("act_name", "O"), ("act_id", "O")])
    for k in range(len(entries)):
        act[k, 0] = ("sports", "skiing", 1.0)
    single_person = np.empty((len(entries), 1), dtype=object)
    for k in range(len(entries)):
        single_person[k, 0] = np.array([[1.0]])
    release = {"annolist": annolist, "img_train": np.array([train_flags], dtype=np.float64),
               "version": "12", "single_person": single_person, "act": act,
               "video_list": np.array([["vid0"]], dtype=object)}
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"RELEASE": release})


def _struct_array(rects: list[dict]) -> np.ndarray:
    keys = list(dict.fromkeys(k for r in rects for k in r))
    array = np.empty((1, len(rects)), dtype=[(k, "O") for k in keys])
    for k, rect in enumerate(rects):
        array[0, k] = tuple(rect.get(key, np.zeros((0, 0))) for key in keys)
    return array


# ---------------------------------------------------------------------- MPI-INF-3DHP

def write_3dhp(root: Path, sequences: dict[str, dict], seed: int = 0) -> dict:
    """TS<n>/annot_data.mat (v7.3) + imageSequence/ for each sequence; returns what was written.

    sequences: {"TS1": {"valid": [1, 1, 0, ...], "activity": [...], "camera": [fx, fy, cx, cy],
    "size": (width, height)}}. Frames whose valid flag is 0 get no JPEG (as in the real set,
    where invalid frames' annotations are junk) and NaN annotations.
    """
    rng = np.random.default_rng(seed)
    written = {}
    for name, spec in sequences.items():
        sequence_dir = root / name
        width, height = spec["size"]
        camera = np.asarray(spec["camera"], dtype=np.float64)
        valid = np.asarray(spec["valid"], dtype=np.float64)
        frames = len(valid)
        annot2, annot3, univ = (np.full((frames, 1, 17, c), np.nan) for c in (2, 3, 3))
        depth = camera[0] * 1800.0 / (0.7 * height)  # the person fills about 70 % of the height
        for i in np.flatnonzero(valid):
            pose = person(rng, (rng.uniform(-150, 150), rng.uniform(-50, 50), depth))[MPI3DHP17_FROM_H36M17]
            uv = project(pose, camera)
            annot3[i, 0], annot2[i, 0] = pose, uv
            univ[i, 0] = pose[14] + 0.9 * (pose - pose[14])  # another skeleton, same root
            write_jpeg(sequence_dir / "imageSequence" / f"img_{i + 1:06d}.jpg", width, height,
                       head_tops=[uv[0]], right_wrists=[uv[4]], seed=i)
        write_matlab_v73(sequence_dir / "annot_data.mat", {
            "annot2": annot2, "annot3": annot3, "univ_annot3": univ,
            "valid_frame": valid[:, None], "activity_annotation": np.asarray(spec["activity"], np.float64)[:, None],
        })
        written[name] = {"annot2": annot2[:, 0], "annot3": annot3[:, 0], "univ_annot3": univ[:, 0],
                         "valid": valid > 0, "activity": np.asarray(spec["activity"])}
    return written


def write_matlab_v73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 MAT-file: HDF5 with a 512-byte user block holding MATLAB's header.

    MATLAB stores an array of size [a b c d] so that h5py reads it as (d, c, b, a); the
    arrays given here are already in h5py's order. Each dataset carries MATLAB_class.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            dataset = f.create_dataset(name, data=np.asarray(value, dtype=np.float64))
            dataset.attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    header = header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(header.ljust(512, b"\x00"))
