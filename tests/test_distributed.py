"""The training stages under torchrun: 2 processes, gloo backend, CPU, tiny configuration."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from fakes import write_fake_prepared

REPO = Path(__file__).resolve().parents[1]
# Every key of each section the stages read (params.yaml's, sized down); no augmentation.
AUGMENTATION = {"enabled": False, "rotation": 30, "rotation_prob": 0.5, "scale": [0.75, 1.25], "flip": 0.5,
                "color": 0.2}
LOOP = {"iterations": 4, "batch_size": 4, "lr": 2.5e-4, "lr_decay_at": [], "lr_decay": 0.1, "lab_fraction": 0.5,
        "log_every": 10, "val_every": 4, "checkpoint_every": 2, "val_samples": 4, "workers": 0,
        "augmentation": AUGMENTATION}
TINY = {
    "seed": 0,
    "data": {"prepared_dir": "data/prepared", "image_size": 64, "heatmap_stride": 4},
    "loss": {"reduction": "backbone", "depth_weight": 0.1},
    "model": {"num_stacks": 1, "num_blocks": 1, "num_features": 16, "depth_pooling": "global", "fix_2d": False},
    "runtime": {"device": "cpu", "amp": False, "threads": 0},
    "discriminator": {"sources": "full", "width": 4, "embed_dim": 16, "hidden_dim": 16, "maps_from": "heatmaps"},
    "pretrain_2d": LOOP,
    "pretrain_depth": LOOP,
    "adversarial": {**LOOP, "enabled": True, "init": "pretrain_depth", "lambda": 0.1, "lr_d": 1e-3, "d_steps": 1},
}


def run(args, cwd, nproc=None):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] \
        if nproc else [sys.executable]
    result = subprocess.run([*launcher, "-m", *args, "--no-progress"], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_training_stages_run_under_torchrun_with_two_processes(tmp_path):
    write_fake_prepared(tmp_path / "data/prepared", n=16, size=64)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY))
    run(["stages.pretrain_2d"], tmp_path, nproc=2)
    run(["stages.pretrain_depth"], tmp_path)
    run(["stages.adversarial"], tmp_path, nproc=2)
    payload = torch.load(tmp_path / "models/adversarial.pt", map_location="cpu", weights_only=True)
    assert payload["iteration"] == 4 and "discriminator" in payload
    assert all(torch.isfinite(v).all() for v in payload["generator"].values() if v.is_floating_point())
    assert (tmp_path / "metrics/adversarial.json").exists()
