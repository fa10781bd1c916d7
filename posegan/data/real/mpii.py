"""MPII Human Pose, from either of the two annotation forms users have.

Layout read (mpii_root)::

    images/<name>.jpg                        the MPII images
    annot/train.h5, annot/valid.h5           the hourglass training code's annotations, or
    mpii_human_pose_v1_u12_1.mat             the official release (also accepted inside
                                             mpii_human_pose_v1_u12_2/)

Hourglass form (princeton-vl/pose-hg-train, data/mpii/annot/*.h5), one row per person:
`imgname` (N,) bytes, `center` (N, 2) and `scale` (N,) (person centre, person height / 200
px), `part` (N, 16, 2) with (0, 0) for a joint that is not annotated, `visible` (N, 16),
`normalize` (N,) = 0.6 x head-box diagonal, plus `index` (image index in the release) and
`person`. Its split is the standard one (valid.h5: Tompson et al.'s 2958 people).

Release form: `RELEASE.annolist(i).image.name`, `.annorect(j)` with the head box `x1 y1 x2
y2`, `scale`, `objpos.x/.y`, `annopoints.point(k)` with `id` (0..15, MPII order), `x`, `y`,
`is_visible`; `RELEASE.img_train(i)` (1 = training image). People are the annorects of
training images that carry annopoints. `is_visible` comes as a number, a string '0'/'1' or
empty; empty counts as visible (the hourglass files mark those joints, mostly head top and
upper neck, visible). The release has no validation split: a training image goes to
"valid" when crc32(image name) / 2**32 < mpii_valid_fraction, a fixed rule that keeps all
people of one image together (use the hourglass files for the standard split).

Coordinates: MPII files count pixels from 1 (MATLAB). Everything here is converted to the
pipeline's 0-based pixel centres (subtract 1); `to_mpii_coordinates` adds it back for
files in MPII's own convention (for example predictions for the official evaluation).

Crop (as the hourglass code does): centre = person centre moved down by 15 x scale,
side = 200 x scale x mpii_scale_factor (1.25). Head size = `normalize` (hourglass) or
0.6 x head-box diagonal (release), original pixels. No 3D labels and no intrinsics.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from typing import TYPE_CHECKING

from posegan.data.real.errors import ErrorPolicy, RealDataError, check_joint_array, open_annotation_file
from posegan.data.real.people import PersonTable
from posegan.skeleton import NUM_JOINTS

if TYPE_CHECKING:
    from posegan.data.real import RealDataSettings

MPII_PIXEL_OFFSET = 1.0  # MPII coordinate - 0-based pixel-centre coordinate
RELEASE_NAME = "mpii_human_pose_v1_u12_1.mat"
CENTER_SHIFT_PER_SCALE = 15.0  # hourglass: the crop centre moves down 15 x scale pixels
PERSON_HEIGHT_PER_SCALE = 200.0


@dataclass
class MpiiAnnotations:
    """The people of one MPII split, annotations only, 0-based original-image pixels.

    image_names: N file names under images/. center (N, 2): person centre (objpos).
    scale (N,): person height / 200 px. joints (N, 16, 2): NaN where not annotated.
    annotated, visible (N, 16) bool. head_size (N,): 0.6 x head-box diagonal.
    where: N labels "file, row" for messages.
    """

    image_names: list[str]
    center: np.ndarray
    scale: np.ndarray
    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    head_size: np.ndarray
    where: list[str]

    def __len__(self) -> int:
        return len(self.image_names)


def to_mpii_coordinates(points: np.ndarray) -> np.ndarray:
    """0-based pixel coordinates (the pipeline's) -> MPII's 1-based ones."""
    return np.asarray(points, dtype=np.float64) + MPII_PIXEL_OFFSET


# --------------------------------------------------------------------- hourglass form

def read_mpii_hourglass(path: str | Path) -> MpiiAnnotations:
    """Read an hourglass-format annotation file (train.h5 or valid.h5), no images.

    Raises RealDataError naming the file and field when a field is missing or has the
    wrong shape (for example another joint count than 16).
    """
    path = Path(path)
    with open_annotation_file(path, missing="MPII annotation file not found", unreadable="not a readable HDF5 file",
                              required=("imgname", "center", "scale", "part", "visible", "normalize"), item="field",
                              expected="expected the hourglass annotation layout: imgname, center, scale, part, "
                                       "visible, normalize") as f:
        part = np.asarray(f["part"][()], dtype=np.float64)
        n = len(part)
        check_joint_array(part, (n, NUM_JOINTS, 2), str(path), "part", "16 MPII joints, x y")
        visible = np.asarray(f["visible"][()])
        check_joint_array(visible, (n, NUM_JOINTS), str(path), "visible", "16 MPII joints")
        center = np.asarray(f["center"][()], dtype=np.float64)
        check_joint_array(center, (n, 2), str(path), "center", "one x y per person")
        scale = np.asarray(f["scale"][()], dtype=np.float64).reshape(-1)
        normalize = np.asarray(f["normalize"][()], dtype=np.float64).reshape(-1)
        names = [_decode(name) for name in f["imgname"][()]]
        index = f["index"][()].astype(int) if "index" in f else None
        person = f["person"][()].astype(int) if "person" in f else None
    for name, values in (("scale", scale), ("normalize", normalize), ("imgname", names)):
        if len(values) != n:
            raise RealDataError(f"{path}: field {name!r} has {len(values)} entries, expected {n} (one per person)")
    annotated = ~(part == 0).all(-1)
    joints = np.where(annotated[..., None], part - MPII_PIXEL_OFFSET, np.nan)
    where = [f"{path} row {i} ({names[i]}" + (f", image index {index[i]}, person {person[i]})"
                                                if index is not None and person is not None else ")")
             for i in range(n)]
    return MpiiAnnotations(image_names=names, center=center - MPII_PIXEL_OFFSET, scale=scale, joints=joints,
                           annotated=annotated, visible=(visible > 0) & annotated, head_size=normalize,
                           where=where)


def _decode(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


# ----------------------------------------------------------------------- release form

def read_mpii_release(path: str | Path, *, valid_fraction: float,
                      policy: ErrorPolicy | None = None) -> dict[str, MpiiAnnotations]:
    """Read the official RELEASE struct into {"train": ..., "valid": ...} (no images).

    A person whose annotation cannot be used (a joint id outside 0..15, a non-numeric
    coordinate) goes through `policy` (default: fail). See the module docstring for the
    layout and the validation rule.
    """
    from scipy.io import loadmat

    path = Path(path)
    policy = policy or ErrorPolicy("fail")
    if not path.is_file():
        raise RealDataError(f"{path}: MPII release file not found")
    try:
        mat = loadmat(path, struct_as_record=False, squeeze_me=True)
    except NotImplementedError as err:  # MATLAB v7.3
        raise RealDataError(f"{path}: a MATLAB v7.3 file; the MPII release is a v5 .mat ({err})") from err
    except (ValueError, OSError, TypeError) as err:
        raise RealDataError(f"{path}: not a readable MATLAB file ({err})") from err
    if "RELEASE" not in mat:
        raise RealDataError(f"{path}: no variable 'RELEASE' (found {sorted(k for k in mat if not k.startswith('__'))})")
    release = mat["RELEASE"]
    for name in ("annolist", "img_train"):
        if not hasattr(release, name):
            raise RealDataError(f"{path}: RELEASE has no field {name!r}")
    annolist = _as_list(release.annolist)
    img_train = np.atleast_1d(np.asarray(release.img_train)).reshape(-1)
    if len(annolist) != len(img_train):
        raise RealDataError(f"{path}: RELEASE.annolist has {len(annolist)} entries but img_train has "
                            f"{len(img_train)}")

    people: dict[str, list[dict]] = {"train": [], "valid": []}
    for i, (entry, is_train) in enumerate(zip(annolist, img_train)):
        if not is_train:
            continue
        try:
            name = str(entry.image.name)
        except AttributeError:
            raise RealDataError(f"{path}: RELEASE.annolist({i + 1}) has no image.name") from None
        split = "valid" if zlib.crc32(name.encode()) / 2**32 < valid_fraction else "train"
        for j, rect in enumerate(_as_list(getattr(entry, "annorect", None))):
            points = getattr(rect, "annopoints", None)
            if points is None or _is_empty(points) or not _as_list(getattr(points, "point", None)):
                continue  # a person without joint annotations
            where = f"{path} annolist({i + 1}).annorect({j + 1}) ({name})"
            try:
                person = _read_person(rect, points)
            except ValueError as err:
                policy.problem(where, str(err), split=split)
                continue
            except AttributeError as err:  # a point without id, x or y
                policy.problem(where, f"malformed annopoints.point ({err})", split=split)
                continue
            people[split].append({"name": name, "where": where, **person})
    return {split: _stack_people(rows) for split, rows in people.items()}


def _read_person(rect, points) -> dict[str, np.ndarray | float]:
    joints = np.full((NUM_JOINTS, 2), np.nan)
    annotated = np.zeros(NUM_JOINTS, bool)
    visible = np.zeros(NUM_JOINTS, bool)
    for point in _as_list(points.point):
        joint = int(_number(point.id, "joint id"))
        if not 0 <= joint < NUM_JOINTS:
            raise ValueError(f"joint id {joint} is outside 0..15 (the 16 MPII joints)")
        joints[joint] = (_number(point.x, "x"), _number(point.y, "y"))
        annotated[joint] = True
        visible[joint] = _visibility(getattr(point, "is_visible", None))
    objpos = getattr(rect, "objpos", None)
    center = (np.array([_number(objpos.x, "objpos.x"), _number(objpos.y, "objpos.y")])
              if objpos is not None and not _is_empty(objpos) else np.full(2, np.nan))
    scale = _number(getattr(rect, "scale", None), "scale", missing=np.nan)
    box = [_number(getattr(rect, key, None), key, missing=np.nan) for key in ("x1", "y1", "x2", "y2")]
    head_size = 0.6 * np.hypot(box[2] - box[0], box[3] - box[1])
    return {"joints": joints - MPII_PIXEL_OFFSET, "annotated": annotated, "visible": visible & annotated,
            "center": center - MPII_PIXEL_OFFSET, "scale": scale, "head_size": head_size}


def _stack_people(rows: list[dict]) -> MpiiAnnotations:
    n = len(rows)
    return MpiiAnnotations(
        image_names=[r["name"] for r in rows], where=[r["where"] for r in rows],
        center=np.array([r["center"] for r in rows]).reshape(n, 2),
        scale=np.array([r["scale"] for r in rows], dtype=np.float64),
        joints=np.array([r["joints"] for r in rows]).reshape(n, NUM_JOINTS, 2),
        annotated=np.array([r["annotated"] for r in rows], dtype=bool).reshape(n, NUM_JOINTS),
        visible=np.array([r["visible"] for r in rows], dtype=bool).reshape(n, NUM_JOINTS),
        head_size=np.array([r["head_size"] for r in rows], dtype=np.float64),
    )


def _as_list(value) -> list:
    """A MATLAB struct array as loaded with squeeze_me=True: one struct, an array, or []."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    return [value]


def _is_empty(value) -> bool:
    return isinstance(value, np.ndarray) and value.size == 0


def _number(value, what: str, missing=None) -> float:
    if value is None or _is_empty(value):
        if missing is not None:
            return missing
        raise ValueError(f"{what} is empty")
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not a number ({value!r})") from None


def _visibility(value) -> bool:
    if value is None or _is_empty(value):
        return True
    if isinstance(value, str):
        value = value.strip() or "1"
    return bool(int(float(value)))


# -------------------------------------------------------------------- person table

def mpii_table(annotations: MpiiAnnotations, images_dir: Path, *, scale_factor: float) -> PersonTable:
    """People -> PersonTable with the hourglass crop (see the module docstring)."""
    n = len(annotations)
    shift = np.stack([np.zeros(n), CENTER_SHIFT_PER_SCALE * annotations.scale], axis=-1)
    # pixel-centre person centre -> edge-coordinate crop centre (+0.5), see posegan.camera
    crop_center = annotations.center + shift + 0.5
    return PersonTable.new(
        n, image_paths=[images_dir / name for name in annotations.image_names], where=list(annotations.where),
        joints_2d=annotations.joints, annotated=annotations.annotated, visible=annotations.visible,
        crop_center=crop_center, crop_size=PERSON_HEIGHT_PER_SCALE * annotations.scale * scale_factor,
        head_size=annotations.head_size,
    )


def find_mpii_annotations(root: str | Path, form: str) -> tuple[str, dict[str, Path] | Path]:
    """("hourglass", {"train": path, "valid": path}) or ("release", path) for an MPII root.

    form: "auto" (hourglass files if present, else the release .mat), "hourglass" or "release".
    """
    root = Path(root)
    if not root.is_dir():
        raise RealDataError(f"data.real.mpii_root: folder {root} does not exist (expected a folder holding "
                            f"images/ and annot/train.h5 + annot/valid.h5 or {RELEASE_NAME})")
    hourglass = {"train": root / "annot" / "train.h5", "valid": root / "annot" / "valid.h5"}
    releases = [root / RELEASE_NAME, root / "mpii_human_pose_v1_u12_2" / RELEASE_NAME]
    if form in ("auto", "hourglass") and all(p.is_file() for p in hourglass.values()):
        return "hourglass", hourglass
    if form in ("auto", "release"):
        for path in releases:
            if path.is_file():
                return "release", path
    looked = {"auto": [*hourglass.values(), *releases], "hourglass": list(hourglass.values()),
              "release": releases}[form]
    raise RealDataError(f"data.real.mpii_root: no MPII annotations in {root} for mpii_annotations={form!r}; "
                        f"looked for {', '.join(str(p) for p in looked)}")


def read_splits(settings: RealDataSettings, splits: list[str], policy: ErrorPolicy):
    """The dataset table's reader for MPII: yield (split, (PersonTable, name tables)) for each
    of `splits` (train, valid), from the annotations `data.real.mpii_annotations` names."""
    form, where = find_mpii_annotations(settings.mpii_root, settings.mpii_annotations)
    images = Path(settings.mpii_root) / "images"
    if not images.is_dir():
        raise RealDataError(f"data.real.mpii_root: folder {images} with the MPII images does not exist")
    if form == "hourglass":
        people = {split: read_mpii_hourglass(where[split]) for split in splits}
    else:
        people = read_mpii_release(where, valid_fraction=settings.mpii_valid_fraction, policy=policy)
    no_names = {"subject_names": [], "action_names": [], "camera_names": []}
    for split in splits:
        yield split, (mpii_table(people[split], images, scale_factor=settings.mpii_scale_factor), no_names)
