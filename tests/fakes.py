"""Tiny prepared files for tests that need data but not the real synthetic benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from posegan.camera import project
from posegan.data.schema import PreparedWriter, prepared_path

REPO = Path(__file__).resolve().parents[1]
# params.yaml's data.real block (every key; all roots null), for params files of tests that set a few.
DEFAULT_REAL = yaml.safe_load((REPO / "params.yaml").read_text())["data"]["real"]

FILES = {  # (dataset, split): (has 3D, subject names)
    ("h36m", "train"): (True, ["S1", "S5"]),
    ("h36m", "test"): (True, ["S9", "S11"]),
    ("mpii", "train"): (False, []),
    ("mpii", "valid"): (False, []),
    ("mpi_inf_3dhp", "test"): (True, ["TS1"]),
    ("mpii", "valid3d"): (True, []),     # the synthetic wild validation set's evaluation-only 3D
}


def write_fake_prepared(folder: str | Path, n: int = 24, size: int = 64, seed: int = 0) -> list[Path]:
    """Six prepared files of n samples with blob images drawn at random projected poses."""
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


def tiny_params(iterations: int, val_every: int, checkpoint_every: int, num_features: int, maps_from: str,
                adversarial_lambda: float) -> dict:
    """A complete params dict (every key of each section the stages read, as in params.yaml)
    for the stage commands on `write_fake_prepared` data: 64-px crops, a 1-stack generator,
    no augmentation, CPU."""
    augmentation = {"enabled": False, "rotation": 30, "rotation_prob": 0.5, "scale": [0.75, 1.25], "flip": 0.5,
                    "color": 0.2}
    loop = {"iterations": iterations, "batch_size": 4, "lr": 2.5e-4, "lr_decay_at": [], "lr_decay": 0.1,
            "lab_fraction": 0.5, "log_every": 10, "val_every": val_every, "checkpoint_every": checkpoint_every,
            "val_samples": 4, "workers": 0, "augmentation": augmentation}
    return {
        "seed": 0,
        "data": {"prepared_dir": "data/prepared", "image_size": 64},
        "loss": {"reduction": "backbone", "depth_weight": 0.1},
        "model": {"num_stacks": 1, "num_blocks": 1, "num_features": num_features, "depth_pooling": "global",
                  "fix_2d": False},
        "runtime": {"device": "cpu", "amp": False, "threads": 0},
        "discriminator": {"sources": "full", "width": 4, "embed_dim": num_features, "hidden_dim": num_features,
                          "maps_from": maps_from, "pose_scale": "heatmap", "heads": "joint", "image_samples": "all",
                          "objective": "bce", "gradient_penalty": 0.0},
        "pretrain_2d": loop, "pretrain_depth": loop,
        "adversarial": {**loop, "enabled": True, "init": "pretrain_depth", "lambda": adversarial_lambda,
                        "lr_d": 1e-3, "d_steps": 1, "d_warmup": 0, "adversarial_gradient": "pose",
                        "fake_2d": "predicted", "adversarial_samples": "all",
                        "conflict": "add", "symmetry_weight": 0.0},
        "evaluate": {"batch_size": 4, "workers": 0, "max_samples": None, "pck_threshold": 150.0,
                     "pckh_threshold": 0.5},
        "tables": {"figure_samples": 4},
    }




def run_python(args: list[str], cwd: str | Path) -> subprocess.CompletedProcess:
    """`python args...` in `cwd` with the repository on the path and one CPU thread; asserts exit 0."""
    result = subprocess.run([sys.executable, *args], cwd=cwd, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                                                   "OMP_NUM_THREADS": "1"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


# The configuration of the script tests (sweep_lambda, screen_adversarial), which start from one
# pretrained run folder (conftest's `pretrained_script_run`).
SCRIPT_PARAMS = tiny_params(iterations=3, val_every=3, checkpoint_every=3, num_features=8, maps_from="joints",
                            adversarial_lambda=1e-4)


def pretrained_run_folder(root: Path, params: dict) -> None:
    """A run folder under `root` (params.yaml, fake prepared data, the two pretraining stages run),
    from which the adversarial stage's sweeps and screens start. The fake data has no cross-domain
    validation split: the 3DHP test file stands in for it (a hard link, so the test file stays)."""
    write_fake_prepared(root / "data/prepared", n=12, size=64)
    prepared_path(root / "data/prepared", "mpi_inf_3dhp", "valid").hardlink_to(
        prepared_path(root / "data/prepared", "mpi_inf_3dhp", "test"))
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run_python(["-m", "stages.pretrain_2d", "--no-progress"], root)
    run_python(["-m", "stages.pretrain_depth", "--no-progress"], root)
