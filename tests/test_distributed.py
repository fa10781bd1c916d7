"""The training stages under torchrun: 2 processes, gloo backend, CPU, tiny configuration."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from fakes import tiny_params, write_fake_prepared

REPO = Path(__file__).resolve().parents[1]
TINY = tiny_params(iterations=4, val_every=4, checkpoint_every=2, num_features=16, maps_from="heatmaps",
                   adversarial_lambda=0.1)


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
