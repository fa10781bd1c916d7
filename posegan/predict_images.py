"""3D poses from ordinary photos with a trained generator (what `posegan predict` runs).

Per person: a box (x, y, w, h) in original-image pixels (COCO convention: (x, y) is the top
left corner of the box, its edges lie on pixel edges); the crop is the square centred on
the box, side = margin x the box's longer side (margin 1.25, the pipeline's
`data.real.crop_margin` around a person's joints box), resampled to the model's crop side as
`posegan.camera.crop_image` does for the prepared data (pixels beyond the image are black).
The generator's last-stack heatmaps are decoded as in evaluation (`decode_heatmaps`) and
mapped back to original-image pixels (pixel centres at integer coordinates, as in
posegan.camera).

3D in millimetres. The generator predicts each joint's depth relative to the root in heatmap
pixels at the root's distance (weak perspective), so (x, y, depth) in heatmap pixels is the
root-relative pose up to one unknown scale: mm per heatmap pixel = root depth x stride /
focal length, and a photo comes with neither. We fix the scale by body size instead: the
pose is scaled so that the mean of its 15 bone lengths equals that of the average 1.75 m adult
of the synthetic benchmark's body model (`REFERENCE_BONE_MM`, 284.4 mm). So the 3D pose has
the right shape and a typical adult's size; its absolute position (the root's depth) is
unknown, and a child or a very tall person comes out adult-sized.

Doubtful inputs: an image under `MIN_IMAGE_SIDE` pixels on a side or a box under
`MIN_BOX_SIDE` pixels on a side is refused (InputError: nothing a pose could be read from);
a crop under `MIN_CROP_SIDE` original pixels is accepted with a warning (`crop_warning`: it is
upsampled many times to the model's crop side). A model file of stage pretrain_2d has an
untrained depth regressor: its records hold no 3D pose (`record(..., with_3d=False)`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posegan.camera import crop_image, crop_to_original
from posegan.heatmaps import decode_heatmaps, heatmap_to_crop
from posegan.models import Generator, normalize_images
from posegan.skeleton import BONES, JOINT_NAMES, ROOT
from posegan.atomic_files import replacing
from posegan.errors import PoseganError

CROP_MARGIN = 1.25
MIN_IMAGE_SIDE = 32     # px: smaller images are refused
MIN_BOX_SIDE = 4        # px: smaller boxes are refused
MIN_CROP_SIDE = 32      # px of the original image: smaller crops get a warning
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
ABSOLUTE_DEPTH_NOTE = ("Absolute depth is unknown: the model file has no camera, so joints_3d_mm is root-relative "
                       "(pelvis at 0) and scaled so that the mean bone length is that of an average adult "
                       "(see 'scale').")


NO_DEPTH_NOTE = ("No 3D pose: the model file is from stage pretrain_2d, whose depth regressor is untrained; use "
                 "models/pretrain_depth.pt or models/adversarial.pt for 3D.")


class InputError(PoseganError, ValueError):
    """A bad input (image, box, annotation file); the message is one line naming the file."""


@dataclass
class Person:
    """One person to estimate: box (x, y, w, h) original pixels, where it came from, and the
    annotated COCO keypoints (17, 3) if any (drawn for reference, never used)."""

    box: tuple[float, float, float, float]
    source: str
    keypoints: np.ndarray | None = None


@dataclass
class PersonResult:
    person: Person
    crop_center: np.ndarray
    crop_side: float
    joints_2d: np.ndarray          # (16, 2) original pixels
    confidence: np.ndarray         # (16,)
    depth_px: np.ndarray           # (16,) heatmap pixels
    pose_px: np.ndarray            # (16, 3) root-relative (x, y, depth), heatmap pixels
    pose_mm: np.ndarray            # (16, 3) root-relative, mm
    mm_per_px: float
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- inputs

def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; InputError naming the file if it cannot be decoded."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            image = np.asarray(img.convert("RGB"))
    except FileNotFoundError as err:
        raise InputError(f"{path}: image not found") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable image (expected a JPEG, PNG or other format Pillow decodes; "
                         f"{type(err).__name__})") from err
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise InputError(f"{path}: image is {width} x {height} pixels; expected at least {MIN_IMAGE_SIDE} on "
                         "each side (too small to read a pose from)")
    return image


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x,y,w,h' -> floats; InputError if malformed or w, h <= 0."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(np.isfinite(values)):
        raise InputError(f"--box {text!r}: expected x,y,w,h (four numbers, original-image pixels)")
    if values[2] <= 0 or values[3] <= 0:
        raise InputError(f"--box {text!r}: width and height must be positive")
    return values  # type: ignore[return-value]


def check_box(box, width: int, height: int, image: str | Path, source: str) -> None:
    """InputError unless the box has positive size and overlaps the width x height image."""
    x, y, w, h = box
    if not (w > 0 and h > 0):
        raise InputError(f"{image}: box {list(box)} from {source} has no area (expected x,y,w,h with w, h > 0)")
    if min(w, h) < MIN_BOX_SIDE:
        raise InputError(f"{image}: box {list(box)} from {source} is {w:g} x {h:g} pixels; expected at least "
                         f"{MIN_BOX_SIDE} on each side")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise InputError(f"{image}: box {list(box)} (x,y,w,h) from {source} lies outside the image "
                         f"({width} x {height} pixels)")


def crop_warning(box, image: str | Path, source: str, image_size: int) -> str | None:
    """A warning when the box's crop is under MIN_CROP_SIDE original pixels, else None."""
    _, side = box_crop(box)
    if side >= MIN_CROP_SIDE:
        return None
    return (f"{image}: the crop of box {list(box)} from {source} is {side:.0f} px, upsampled to {image_size}: "
            "expect a poor pose")


def box_crop(box, margin: float = CROP_MARGIN) -> tuple[np.ndarray, float]:
    """(crop centre (2,), crop side) of a box, both on pixel edges as in posegan.camera's crops
    (the convention of `posegan.data.real.geometry.person_box`)."""
    x, y, w, h = box
    return np.array([x + w / 2.0, y + h / 2.0]), float(margin * max(w, h))


def read_coco(path: str | Path) -> dict[str, list[Person]]:
    """file_name -> people from a COCO-style JSON (images with file_name and id; annotations
    with image_id, bbox [x, y, w, h] and optionally keypoints; crowd and non-person
    annotations are skipped)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable JSON file ({type(err).__name__})") from err
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise InputError(f"{path}: expected a COCO-style JSON object with 'images' and 'annotations' lists")
    names: dict[Any, str] = {}
    for entry in data["images"]:
        if not isinstance(entry, dict) or "file_name" not in entry or "id" not in entry:
            raise InputError(f"{path}: every entry of 'images' needs 'file_name' and 'id'")
        names[entry["id"]] = Path(str(entry["file_name"])).name
    people: dict[str, list[Person]] = {name: [] for name in names.values()}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or ann.get("iscrowd", 0) or ann.get("category_id", 1) != 1:
            continue
        if ann.get("image_id") not in names:
            raise InputError(f"{path}: annotation {ann.get('id')} refers to image_id {ann.get('image_id')!r}, "
                             "which is not in 'images'")
        bbox = ann.get("bbox")
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise InputError(f"{path}: annotation {ann.get('id')} has no bbox [x, y, w, h]")
        keypoints = ann.get("keypoints")
        kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3) if keypoints else None
        people[names[ann["image_id"]]].append(
            Person(tuple(float(v) for v in bbox), f"{path.name} annotation {ann.get('id')}", kp))
    return people


def list_images(inputs: list[str | Path]) -> tuple[list[Path], bool]:
    """Image files of `inputs` (files as given, folders: their image files, sorted) and
    whether a folder was among them. InputError for a missing path or an empty folder."""
    files, folder = [], False
    for item in map(Path, inputs):
        if item.is_dir():
            folder = True
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"{item}: folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise InputError(f"{item}: no such image file or folder")
    return files, folder


# --------------------------------------------------------------------------- 3D scale

@lru_cache(maxsize=1)
def reference_bone_mm() -> float:
    """Mean bone length (mm) of the synthetic benchmark's average 1.75 m adult."""
    from posegan.data.synthetic.body import NUM_ANGLES, BodyProportions, bone_lengths, forward_kinematics

    joints = forward_kinematics(np.zeros(NUM_ANGLES), BodyProportions.average())
    return float(bone_lengths(joints).mean())


def mean_bone(pose: np.ndarray) -> float:
    pose = np.asarray(pose, dtype=np.float64)
    return float(np.mean([np.linalg.norm(pose[c] - pose[p]) for p, c in BONES]))


def pose_in_mm(pose_px: np.ndarray) -> tuple[np.ndarray, float]:
    """Root-relative (16, 3) heatmap-pixel pose -> (mm pose, mm per heatmap pixel)."""
    bone = mean_bone(pose_px)
    scale = reference_bone_mm() / bone if bone > 1e-9 else float("nan")
    return pose_px * scale, scale


# --------------------------------------------------------------------------- inference

@torch.no_grad()
def estimate(generator: Generator, image: np.ndarray, people: list[Person], image_size: int,
             stride: int = 4, margin: float = CROP_MARGIN) -> list[PersonResult]:
    """Run the generator on the people of one image (one batch)."""
    if not people:
        return []
    crops, centers, sides = [], [], []
    for person in people:
        center, side = box_crop(person.box, margin)
        crops.append(crop_image(image, center, side, image_size))
        centers.append(center)
        sides.append(side)
    out = generator(normalize_images(np.stack(crops)))
    xy, conf = decode_heatmaps(out.heatmaps[-1].float())
    xy_hm = xy.numpy().astype(np.float64)
    depth = out.depth.float().numpy().astype(np.float64)
    joints_crop = heatmap_to_crop(xy_hm, stride)
    joints_orig = crop_to_original(joints_crop, np.stack(centers), np.array(sides), image_size)
    results = []
    for i, person in enumerate(people):
        pose_px = np.concatenate([xy_hm[i], depth[i][:, None]], axis=1)
        pose_px = pose_px - pose_px[ROOT]
        pose_mm, scale = pose_in_mm(pose_px)
        results.append(PersonResult(person, centers[i], sides[i], joints_orig[i], conf[i].numpy(), depth[i],
                                    pose_px, pose_mm, scale))
    return results


def record(result: PersonResult, image_path: str | Path, image_shape, model_info: dict[str, Any],
           image_size: int, stride: int = 4, with_3d: bool = True) -> dict[str, Any]:
    """The JSON written for one person. with_3d=False (a model without a trained depth
    regressor): the 3D fields are null and the note says why."""
    r = result

    def rows(a, digits):
        return [[round(float(v), digits) for v in row] for row in np.asarray(a)]

    data = {
        "image": str(image_path),
        "image_width": int(image_shape[1]),
        "image_height": int(image_shape[0]),
        "box": [round(float(v), 2) for v in r.person.box],
        "box_source": r.person.source,
        "crop": {"center": [round(float(v), 2) for v in r.crop_center], "side": round(r.crop_side, 2),
                 "resized_to": int(image_size), "margin": CROP_MARGIN,
                 "convention": "square centred on the box, side = margin x its longer side; centre and side "
                               "on pixel edges as in posegan.camera"},
        "model": {"path": model_info.get("path"), "stage": model_info.get("stage"),
                  "iteration": model_info.get("iteration"), "md5": model_info.get("md5"),
                  "model_params": model_info.get("model_params")},
        "joint_names": list(JOINT_NAMES),
        "root_joint": JOINT_NAMES[ROOT],
        "joints_2d": rows(r.joints_2d, 2),
        "joints_2d_units": "original-image pixels, (x, y), pixel centres at integer coordinates",
        "confidence": [round(float(v), 4) for v in r.confidence],
        "joints_3d_mm": rows(r.pose_mm, 1),
        "joints_3d_units": ("mm, camera axes (x right, y down, z away from the camera), root-relative "
                            "(pelvis at 0)"),
        "depth_heatmap_px": [round(float(v), 3) for v in r.depth_px],
        "scale": {"mm_per_heatmap_pixel": round(float(r.mm_per_px), 3),
                  "heatmap_stride": int(stride),
                  "method": (f"weak perspective; scaled so that the mean of the 15 bone lengths is "
                             f"{reference_bone_mm():.1f} mm, that of the average 1.75 m adult of "
                             "posegan/data/synthetic/body.py")},
        "root_depth": "unknown",
        "note": ABSOLUTE_DEPTH_NOTE,
    }
    if not with_3d:
        data.update(joints_3d_mm=None, depth_heatmap_px=None, scale=None, note=NO_DEPTH_NOTE)
    return data


# --------------------------------------------------------------------------- outputs

def figure(image: np.ndarray, result: PersonResult, title: str, with_3d: bool = True):
    """The 2D overlay (crop region of the original image) beside the 3D skeleton (the overlay
    alone when not with_3d)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from posegan.report.figures import draw_skeleton_2d, draw_skeleton_3d

    fig = plt.figure(figsize=(7.2, 3.8) if with_3d else (3.8, 3.8))
    ax = fig.add_subplot(1, 2 if with_3d else 1, 1)
    ax.imshow(image, interpolation="bilinear")
    x, y, w, h = result.person.box
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, ec="#00d084", lw=1.0, ls=":"))
    kp = result.person.keypoints
    if kp is not None and kp.shape[1] == 3:
        shown = kp[:, 2] > 0
        ax.scatter(kp[shown, 0], kp[shown, 1], s=10, marker="x", c="white", linewidths=0.8, zorder=4,
                   label="annotated keypoints")
    draw_skeleton_2d(ax, result.joints_2d)
    half = result.crop_side / 2.0
    cx, cy = result.crop_center - 0.5      # edge coordinates -> imshow's pixel-centre coordinates
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy + half, cy - half)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("2D (crop region)", fontsize=9)
    if with_3d:
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        draw_skeleton_3d(ax3, result.pose_mm, unit="mm")
        ax3.set_title("3D, root-relative (mm, adult-scaled)", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def dumps(data: Any) -> str:
    """JSON, indented, with each innermost list of numbers or strings on one line."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[\s*((?:[^\[\]{}\s][^\[\]{}]*?)?)\s*\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


def write_json(data: Any, path: str | Path) -> None:
    with replacing(path, unique=True) as tmp:
        tmp.write_text(dumps(data) + "\n")


def write_figure(fig, path: str | Path, dpi: int = 100) -> None:
    import matplotlib.pyplot as plt

    try:
        with replacing(path, unique=True) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
