"""A contact sheet: sample crops of each prepared file with their 2D skeleton drawn on top.

One row per file (a title, then `per_row` samples spread evenly over the file). Bones of the
person's right side are orange-red, left side blue, the spine and head yellow; a filled dot
is a visible joint, a hollow dot an annotated but occluded one; joints that are not
annotated are not drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from posegan.atomic_files import replacing
from posegan.data.schema import open_prepared
from posegan.skeleton import BONES, JOINT_NAMES
from posegan.subsets import evenly_spaced

RIGHT_COLOR = (255, 90, 40)
LEFT_COLOR = (40, 130, 255)
CENTRE_COLOR = (250, 220, 40)
_TITLE_HEIGHT = 18


def _side_color(joint: int) -> tuple:
    name = JOINT_NAMES[joint]
    return RIGHT_COLOR if name.startswith("r_") else LEFT_COLOR if name.startswith("l_") else CENTRE_COLOR


def draw_skeleton(image: np.ndarray, joints_2d: np.ndarray, annotated: np.ndarray, visible: np.ndarray,
                  scale: int = 2) -> Image.Image:
    """The crop (S, S, 3) uint8 enlarged `scale` times with its skeleton (joints_2d (16, 2) crop pixels)."""
    size = image.shape[0] * scale
    canvas = Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(canvas)
    points = (np.asarray(joints_2d, dtype=np.float64) + 0.5) * scale - 0.5  # pixel-centre convention
    width = max(1, scale)
    for parent, child in BONES:
        if annotated[parent] and annotated[child]:
            draw.line([tuple(points[parent]), tuple(points[child])], fill=_side_color(child), width=width)
    r = 1.5 * scale
    for j in range(len(points)):
        if not annotated[j]:
            continue
        x, y = points[j]
        box = [x - r, y - r, x + r, y + r]
        if visible[j]:
            draw.ellipse(box, fill=_side_color(j), outline=(0, 0, 0))
        else:
            draw.ellipse(box, outline=_side_color(j), width=1)
    return canvas


def make_contact_sheet(files: list[tuple[str, str | os.PathLike]], out_path, per_row: int = 8,
                       scale: int = 2) -> Path:
    """Write a PNG with one row of `per_row` samples per (title, prepared file) pair.

    Samples are spread evenly over each file (first to last), so every subject, action and
    camera block is represented. The PNG is written to a temporary name and renamed.
    """
    if per_row <= 0 or scale <= 0:
        raise ValueError(f"contact sheet: per_row and scale must be positive, got {per_row} and {scale}")
    rows = []
    for title, path in files:
        with open_prepared(path) as f:
            n = f["images"].shape[0]
            index = evenly_spaced(n, per_row)
            images, joints, annotated, visible = (f[k][index] for k in ("images", "joints_2d", "annotated", "visible"))
        tiles = [draw_skeleton(images[k], joints[k], annotated[k], visible[k], scale) for k in range(len(index))]
        tile = tiles[0].size[0]
        row = Image.new("RGB", (per_row * tile, tile + _TITLE_HEIGHT), (255, 255, 255))
        ImageDraw.Draw(row).text((4, 3), f"{title}  ({n} samples)", fill=(0, 0, 0))
        for k, t in enumerate(tiles):
            row.paste(t, (k * tile, _TITLE_HEIGHT))
        rows.append(row)
    width = max(r.size[0] for r in rows)
    sheet = Image.new("RGB", (width, sum(r.size[1] for r in rows)), (255, 255, 255))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.size[1]
    out_path = Path(out_path)
    with replacing(out_path) as tmp:
        sheet.save(tmp, format="PNG")
    return out_path
