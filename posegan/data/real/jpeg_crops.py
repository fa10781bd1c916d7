"""Decoding JPEGs and cutting the square person crops, in a pool of worker processes.

`load_person_crop` decodes one image (with libjpeg's DCT-domain downscaling when the crop
is much larger than the output) and cuts the crop; `iter_crops` does it for every row of
a PersonTable, in order. Crop centre and side are in original-image pixels.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from posegan.camera import crop_image
from posegan.data.real.people import PersonTable


def load_person_crop(image_path: str | os.PathLike, center, size: float, out_size: int) -> np.ndarray:
    """Decode a JPEG and cut the square crop (centre, side in original pixels).

    Returns (out_size, out_size, 3) uint8 RGB. When the crop is at least twice as large as
    `out_size`, libjpeg decodes at 1/2, 1/4 or 1/8 size (DCT-domain averaging, which
    also avoids aliasing); the crop is then taken from the reduced image at centre/r and
    side/r, which in `posegan.camera`'s edge-based convention is the same crop.
    Raises FileNotFoundError for a missing file and OSError for an unreadable or
    truncated one.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(image_path)
    try:
        with Image.open(path) as image:
            width = image.size[0]
            reduce = 1.0
            if image.format == "JPEG":
                wanted = (max(1, math.ceil(image.size[0] * out_size / size)),
                          max(1, math.ceil(image.size[1] * out_size / size)))
                drafted = image.draft("RGB", wanted)
                if drafted is not None:
                    reduce = width / drafted[1][2]
            image.load()
            pixels = np.asarray(image.convert("RGB"))
    except UnidentifiedImageError as err:
        raise OSError(f"not a readable image ({err})") from err
    center = np.asarray(center, dtype=np.float64) / reduce
    return crop_image(pixels, center, float(size) / reduce, out_size)


def _crop_job(job: tuple[str, tuple[float, float], float, int]) -> tuple[np.ndarray | None, str | None]:
    """Worker: (path, centre, side, out_size) -> (crop, None) or (None, what went wrong)."""
    from PIL import Image

    path, center, size, out_size = job
    try:
        return load_person_crop(path, center, size, out_size), None
    except FileNotFoundError:
        return None, "missing JPEG"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        return None, f"corrupt JPEG ({err})"


def iter_crops(table: PersonTable, out_size: int, workers: int) -> Iterator[tuple[np.ndarray | None, str | None]]:
    """(crop, None) or (None, what went wrong) for every row of `table`, in order.

    With workers > 1 the JPEGs are decoded by a pool of "spawn" processes, which import
    the caller's main module: a script calling this must guard its entry point with
    `if __name__ == "__main__":` (python -m stages.preprocess does).
    """
    jobs = [(str(p), tuple(map(float, c)), float(s), int(out_size))
            for p, c, s in zip(table.image_paths, table.crop_center, table.crop_size)]
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield _crop_job(job)
        return
    # spawn: the parent may hold threads (torch, BLAS) that a fork would copy mid-state
    context = multiprocessing.get_context("spawn")
    chunksize = max(1, min(32, len(jobs) // (4 * workers)))
    with context.Pool(workers) as pool:
        yield from pool.imap(_crop_job, jobs, chunksize=chunksize)


__all__ = ["iter_crops", "load_person_crop"]
