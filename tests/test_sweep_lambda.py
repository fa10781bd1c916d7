"""scripts/sweep_lambda.py on a tiny configuration: one row per lambda, scored on the validation splits."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fakes import tiny_params, write_fake_prepared
from posegan.data.schema import prepared_path

REPO = Path(__file__).resolve().parents[1]
TINY = tiny_params(iterations=3, val_every=3, checkpoint_every=3, num_features=8, maps_from="joints",
                   adversarial_lambda=1e-4)


def run(args, cwd):
    result = subprocess.run([sys.executable, *args], cwd=cwd, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                                                   "OMP_NUM_THREADS": "1"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


@pytest.mark.slow
def test_sweep_writes_one_validation_row_per_lambda_and_reuses_finished_runs(tmp_path):
    write_fake_prepared(tmp_path / "data/prepared", n=12, size=64)
    # The fake data has no cross-domain validation split: the 3DHP test file stands in for it.
    prepared_path(tmp_path / "data/prepared", "mpi_inf_3dhp", "test").rename(
        prepared_path(tmp_path / "data/prepared", "mpi_inf_3dhp", "valid"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY))
    run(["-m", "stages.pretrain_2d", "--no-progress"], tmp_path)
    run(["-m", "stages.pretrain_depth", "--no-progress"], tmp_path)
    script = str(REPO / "scripts/sweep_lambda.py")
    first = run([script, "--lambdas", "0 1e-3", "--out", "sweep.csv"], tmp_path)
    assert "lambda 1e-3: training" in first.stdout
    with open(tmp_path / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lambda"]) for r in rows] == [0.0, 1e-3]
    assert rows[0]["d_acc_real"] == "" and rows[0]["adv_share"] == ""           # lambda 0: the Baseline, no D
    assert 0.0 <= float(rows[1]["d_acc_real"]) <= 1.0 and float(rows[1]["adv_share"]) > 0
    for row in rows:
        assert 0.0 <= float(row["val_cross_pck"]) <= 100.0 and 0.0 <= float(row["val_wild_pckh"]) <= 100.0
    assert (tmp_path / "sweeps/lambda/lambda_1e-3/models/adversarial.pt").exists()
    again = run([script, "--lambdas", "1e-3", "--out", "again.csv"], tmp_path)
    assert "training" not in again.stdout                                          # the finished run is reused
