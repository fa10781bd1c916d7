"""scripts/sweep_lambda.py on a tiny configuration: one row per lambda, scored on the validation splits."""

import csv

import pytest

from fakes import REPO, run_python as run

# The run folder (fakes.SCRIPT_PARAMS, both pretraining stages run) comes from conftest's
# pretrained_script_run, shared with test_screen_adversarial.


@pytest.mark.slow
def test_sweep_writes_one_validation_row_per_lambda_and_reuses_finished_runs(pretrained_script_run):
    root = pretrained_script_run
    script = str(REPO / "scripts/sweep_lambda.py")
    first = run([script, "--lambdas", "0 1e-3", "--out", "sweep.csv"], root)
    assert "lambda 1e-3: training" in first.stdout
    with open(root / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lambda"]) for r in rows] == [0.0, 1e-3]
    assert rows[0]["d_acc_real"] == "" and rows[0]["adv_share"] == ""           # lambda 0: the Baseline, no D
    assert 0.0 <= float(rows[1]["d_acc_real"]) <= 1.0 and float(rows[1]["adv_share"]) > 0
    for row in rows:
        assert 0.0 <= float(row["val_cross_pck"]) <= 100.0 and 0.0 <= float(row["val_wild_pckh"]) <= 100.0
    assert (root / "sweeps/lambda/lambda_1e-3/models/adversarial.pt").exists()
    again = run([script, "--lambdas", "1e-3", "--out", "again.csv"], root)
    assert "training" not in again.stdout                                          # the finished run is reused
