"""posegan/report/targets.py and scripts/adversarial_targets.py: issue 18's four targets read off
a Table 2, on rows whose verdicts are worked out by hand."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from posegan.report.targets import target_verdicts, verdicts_markdown

REPO = Path(__file__).resolve().parents[1]
NAN = float("nan")


def _row(method, paired, symmetry, symmetry_paired, wild, wild_se, pck, pck_se, lab, lab_se):
    """A Table 2 row: (mean, paired, paired se) per column; only the paired values matter here,
    and the symmetry mean (the Baseline's is mean - paired)."""
    return {"Method": method, "Paired": paired,
            "cross symmetry": symmetry, "cross symmetry paired": symmetry_paired, "cross symmetry paired se": 1.0,
            "wild 3D MPJPE": 300.0, "wild 3D MPJPE paired": wild, "wild 3D MPJPE paired se": wild_se,
            "3DHP PCK": 35.0, "3DHP PCK paired": pck, "3DHP PCK paired se": pck_se,
            "Mean": 100.0, "Mean paired": lab, "Mean paired se": lab_se}


TABLE = pd.DataFrame([
    # Baseline 100 mm symmetry: left out (no pair).
    _row("Baseline", 0, 100.0, NAN, NAN, NAN, NAN, NAN, NAN, NAN),
    # 75 = 100 - 25: exactly 25% lower; wild -3 < -2 x 1; PCK -0.4 >= -2 x 0.2; lab +0.6 <= 2 x 0.3;
    # PCK is not better, so no stretch.
    _row("all four", 3, 75.0, -25.0, -3.0, 1.0, -0.4, 0.2, 0.6, 0.3),
    # Symmetry -24%; wild -2 is not below -2 x 1; PCK -0.5 < -2 x 0.2; lab +0.7 > 2 x 0.3.
    _row("none", 3, 76.0, -24.0, -2.0, 1.0, -0.5, 0.2, 0.7, 0.3),
    # Every target met, and PCK +0.5 > 2 x 0.2 (stretch), but over two seeds only.
    _row("two seeds", 2, 60.0, -40.0, -5.0, 1.0, 0.5, 0.2, -1.0, 0.3),
    # One seed: no s.e., so only the symmetry target (which needs none) can be met.
    _row("one seed", 1, 50.0, -50.0, -9.0, NAN, 1.0, NAN, -1.0, NAN),
])


def test_verdicts_by_hand():
    verdicts = target_verdicts(TABLE).set_index("Method")
    assert list(verdicts.index) == ["all four", "none", "two seeds", "one seed"]
    assert verdicts.loc["all four", "symmetry change %"] == pytest.approx(-25.0)
    assert verdicts.loc["none", "symmetry change %"] == pytest.approx(-24.0)
    assert verdicts.loc["two seeds", "symmetry change %"] == pytest.approx(-40.0)
    targets = ["symmetry", "wild 3D", "PCK", "lab", "all four", "stretch"]
    expected = {"all four": [True, True, True, True, True, False],
                "none": [False, False, False, False, False, False],
                "two seeds": [True, True, True, True, False, True],
                "one seed": [True, False, False, False, False, False]}
    for method, flags in expected.items():
        assert verdicts.loc[method, targets].tolist() == flags, method


def test_thresholds_are_parameters():
    """At a 20% drop and 1 s.e. the "none" row meets the symmetry, PCK (-0.5 < -0.2) no, lab
    (0.7 > 0.3) no, wild 3D (-2 < -1) yes."""
    verdicts = target_verdicts(TABLE, symmetry_drop=0.20, z=1.0).set_index("Method")
    assert verdicts.loc["none", ["symmetry", "wild 3D", "PCK", "lab"]].tolist() == [True, True, False, False]
    assert target_verdicts(TABLE, min_pairs=2).set_index("Method").loc["two seeds", "all four"]


def test_a_table_without_the_paired_columns_is_refused():
    with pytest.raises(ValueError, match="wild 3D MPJPE paired se"):
        target_verdicts(TABLE.drop(columns=["wild 3D MPJPE paired se"]))


def test_markdown_names_the_targets_met():
    text = verdicts_markdown(target_verdicts(TABLE))
    lines = text.splitlines()
    assert len(lines) == 2 + 4
    assert lines[2] == "| all four | 3 | -25.0% | -3.0 ± 1.0 | -0.4 ± 0.2 | +0.6 ± 0.3 | all four |"
    assert lines[3].endswith("| none |")
    assert lines[4].endswith("| symmetry, wild 3D, PCK, lab + stretch |")
    assert lines[5] == "| one seed | 1 | -50.0% | -9.0 | +1.0 | -1.0 | symmetry |"


def test_script_prints_and_writes_the_table(tmp_path):
    (tmp_path / "round").mkdir()
    TABLE.to_csv(tmp_path / "round/table2.csv", index=False)
    script = [sys.executable, str(REPO / "scripts/adversarial_targets.py")]
    result = subprocess.run(script + ["round/table2.csv", "--out", "targets.md"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "| all four [round] | 3 |" in result.stdout
    assert (tmp_path / "targets.md").read_text() == result.stdout

    (tmp_path / "bad.csv").write_text("Method,Paired\nBaseline,0\n")
    bad = subprocess.run(script + ["bad.csv", "--out", "bad.md"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "bad.csv" in bad.stderr and "missing" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.md").exists()
