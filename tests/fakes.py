"""Tiny prepared files for tests that need data but not the real synthetic benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posegan.camera import project
from posegan.data.schema import PreparedWriter, prepared_path

FILES = {  # (dataset, split): (has 3D, subject names)
    ("h36m", "train"): (True, ["S1", "S5"]),
    ("h36m", "test"): (True, ["S9", "S11"]),
    ("mpii", "train"): (False, []),
    ("mpii", "valid"): (False, []),
    ("mpi_inf_3dhp", "test"): (True, ["TS1"]),
}


def write_fake_prepared(folder: str | Path, n: int = 24, size: int = 64, seed: int = 0) -> list[Path]:
    """Five prepared files of n samples with blob images drawn at random projected poses."""
    rng = np.random.default_rng(seed)
    paths = []
    for k, ((dataset, split), (has_3d, subjects)) in enumerate(FILES.items()):
        cam = np.array([size * 2.2, size * 2.2, (size - 1) / 2, (size - 1) / 2], np.float32)
        joints_3d = np.array([0.0, 0.0, 4500.0]) + rng.normal(scale=[250, 350, 200], size=(n, 16, 3))
        joints_2d = project(joints_3d, cam).astype(np.float32)
        images = np.full((n, size, size, 3), 40, np.uint8)
        for i in range(n):
            for j, (x, y) in enumerate(np.clip(joints_2d[i].round().astype(int), 1, size - 2)):
                images[i, y - 1 : y + 2, x - 1 : x + 2] = (255 - 8 * j, 12 * j, 128)
        path = prepared_path(folder, dataset, split)
        with PreparedWriter(path, n, size, dataset=dataset, split=split, source="synthetic",
                            subject_names=subjects, action_names=["A", "B"]) as w:
            w.write(slice(None), images=images, joints_2d=joints_2d, annotated=np.ones((n, 16), bool),
                    visible=np.ones((n, 16), bool), has_3d=np.full(n, has_3d),
                    camera=np.tile(cam, (n, 1)), root_depth=joints_3d[:, 6, 2].astype(np.float32),
                    head_size=np.full(n, size / 6, np.float32), crop_center=np.tile([size / 2, size / 2], (n, 1)),
                    crop_size=np.full(n, size, np.float32), action=(np.arange(n) % 2).astype(np.int32),
                    subject=(np.arange(n) % max(len(subjects), 1) if subjects else np.full(n, -1)).astype(np.int32))
            if has_3d:
                w.write(slice(None), joints_3d=joints_3d.astype(np.float32))
        paths.append(path)
    return paths
