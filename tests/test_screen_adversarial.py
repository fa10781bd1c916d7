"""scripts/screen_adversarial.py on a tiny configuration: variants from one pretrained model,
validation rows, test-set run folders that the ablation table pairs by seed."""

import csv
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from fakes import REPO, run_python as run

# The run folder (fakes.SCRIPT_PARAMS, both pretraining stages run) comes from conftest's
# pretrained_script_run, shared with test_sweep_lambda.
VARIANTS = {"baseline": {"adversarial": {"enabled": False}},
            "kcs": {"adversarial": {"lambda": 1.0e-3, "d_warmup": 2},
                    "discriminator": {"sources": ["kcs"], "pose_scale": "body", "objective": "wasserstein",
                                      "gradient_penalty": 10.0}}}


def test_paired_table_is_the_mean_and_standard_error_of_per_seed_differences():
    sys.path.insert(0, str(REPO / "scripts"))
    from screen_adversarial import merged, paired_table

    rows = pd.DataFrame({"variant": ["baseline", "kcs", "baseline", "kcs"], "seed": [0, 0, 1, 1],
                         "cross_symmetry": [100.0, 80.0, 110.0, 70.0]})
    table = paired_table([rows])
    assert list(table["variant"]) == ["kcs"] and table.loc[0, "seeds"] == 2
    assert table.loc[0, "cross_symmetry"] == pytest.approx(-30.0)              # (-20 - 40) / 2
    assert table.loc[0, "cross_symmetry se"] == pytest.approx(np.std([-20.0, -40.0], ddof=1) / np.sqrt(2))
    base = {"adversarial": {"lambda": 1e-4, "iterations": 500}, "seed": 0}
    assert merged(base, {"adversarial": {"lambda": 1e-3}}) == {"adversarial": {"lambda": 1e-3, "iterations": 500},
                                                               "seed": 0}
    assert base["adversarial"]["lambda"] == 1e-4                                  # the base is not changed


@pytest.mark.slow
def test_screen_trains_each_variant_once_and_its_run_folders_make_table2(pretrained_script_run):
    root = pretrained_script_run
    (root / "variants.yaml").write_text(yaml.safe_dump(VARIANTS))
    script = str(REPO / "scripts/screen_adversarial.py")
    args = [script, "--variants", "variants.yaml", "--pretrained", "models/pretrain_depth.pt", "--seed", "0",
            "--work-dir", "screen", "--out", "screen.csv", "--test"]
    first = run(args, root)
    assert "kcs: training" in first.stdout and "baseline: training" in first.stdout
    with open(root / "screen.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["variant"] for r in rows] == ["baseline", "kcs"]
    assert rows[0]["d_score_gap"] == "" and rows[1]["d_score_gap"] != ""
    for row in rows:
        assert float(row["cross_symmetry"]) >= 0 and float(row["wild3d_mpjpe"]) > 0
    ran = yaml.safe_load((root / "screen/kcs/params.yaml").read_text())
    assert ran["discriminator"]["sources"] == ["kcs"] and ran["seed"] == 0 and ran["adversarial"]["lambda"] == 1e-3
    assert "training" not in run(args, root).stdout                        # finished runs are reused
    run(["-m", "stages.tables", "ablation", "--extra", "--out-dir", "abl", "screen/baseline", "screen/kcs"], root)
    table = pd.read_csv(root / "abl/table2.csv").set_index("Method")
    assert table.index[0] == "Baseline" and table.index[1].startswith("Adv. (kcs) (")
    kcs = table.iloc[1]
    assert kcs["Paired"] == 1 and kcs["cross symmetry paired"] == pytest.approx(
        kcs["cross symmetry"] - table.loc["Baseline", "cross symmetry"])
