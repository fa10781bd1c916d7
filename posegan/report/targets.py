"""Issue 18's four targets for adversarial learning, read off a Table 2 with paired columns.

A variant meets the targets when, paired against the Baseline of its own seeds and schedule
(`ablation_table`'s `<column> paired` and `<column> paired se`, over at least `min_pairs` seeds):

    cross-domain limb symmetry error (`cross symmetry`)  at least 25% lower than the Baseline's
    wild 3D MPJPE (`wild 3D MPJPE`)                      lower by more than 2 paired s.e.
    cross-domain PCK (`3DHP PCK`)                        not lower by more than 2 paired s.e.
    lab MPJPE (`Mean`, Protocol #1)                      not higher by more than 2 paired s.e.

and the stretch target (the paper's Table 4 direction) when the cross-domain PCK is higher by more
than 2 paired s.e. The Baseline's symmetry error is the variant's mean minus its paired
difference (both over the same seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SYMMETRY = "cross symmetry"
WILD_3D = "wild 3D MPJPE"
CROSS_PCK = "3DHP PCK"
LAB_MPJPE = "Mean"
REQUIRED = [f"{column}{suffix}" for column in (SYMMETRY, WILD_3D, CROSS_PCK, LAB_MPJPE)
            for suffix in ("", " paired", " paired se")] + ["Method", "Paired"]


def target_verdicts(table: pd.DataFrame, symmetry_drop: float = 0.25, z: float = 2.0,
                    min_pairs: int = 3) -> pd.DataFrame:
    """One row per variant of `table` that has a paired Baseline (Baseline rows are left out).

    Columns: Method, Paired (seeds), `symmetry change %` (paired difference / the Baseline's
    mean, in percent), `wild 3D paired`, `wild 3D se`, `PCK paired`, `PCK se`, `lab paired`,
    `lab se` (mm, points, mm), then one boolean per target: `symmetry` (change <= -100 x
    symmetry_drop), `wild 3D` (paired < -z se), `PCK` (paired >= -z se), `lab` (paired <= z se),
    `all four` (the four, and Paired >= min_pairs), `stretch` (PCK paired > z se). A paired s.e.
    that is NaN (one seed) meets no target that needs it. Raises ValueError naming the missing
    columns if `table` is not an `ablation_table(..., extra=True)`.
    """
    missing = [column for column in REQUIRED if column not in table.columns]
    if missing:
        raise ValueError(f"not a Table 2 with paired columns (ablation_table with extra=True): missing {missing}")
    rows = table[table["Paired"] > 0]
    baseline_symmetry = rows[SYMMETRY] - rows[f"{SYMMETRY} paired"]
    verdicts = pd.DataFrame({
        "Method": rows["Method"],
        "Paired": rows["Paired"].astype(int),
        "symmetry change %": 100.0 * rows[f"{SYMMETRY} paired"] / baseline_symmetry,
        "wild 3D paired": rows[f"{WILD_3D} paired"], "wild 3D se": rows[f"{WILD_3D} paired se"],
        "PCK paired": rows[f"{CROSS_PCK} paired"], "PCK se": rows[f"{CROSS_PCK} paired se"],
        "lab paired": rows[f"{LAB_MPJPE} paired"], "lab se": rows[f"{LAB_MPJPE} paired se"],
    })
    # Comparisons with NaN are False, so a missing s.e. fails every target that needs it.
    verdicts["symmetry"] = verdicts["symmetry change %"] <= -100.0 * symmetry_drop
    verdicts["wild 3D"] = verdicts["wild 3D paired"] < -z * verdicts["wild 3D se"]
    verdicts["PCK"] = verdicts["PCK paired"] >= -z * verdicts["PCK se"]
    verdicts["lab"] = verdicts["lab paired"] <= z * verdicts["lab se"]
    verdicts["all four"] = (verdicts[["symmetry", "wild 3D", "PCK", "lab"]].all(axis=1)
                            & (verdicts["Paired"] >= min_pairs))
    verdicts["stretch"] = verdicts["PCK paired"] > z * verdicts["PCK se"]
    return verdicts.reset_index(drop=True)


def verdicts_markdown(verdicts: pd.DataFrame) -> str:
    """The verdicts as a Markdown table: changes as `paired ± se`, the targets met by name."""
    lines = ["| variant | seeds | cross symmetry | wild 3D MPJPE (mm) | cross PCK | lab MPJPE (mm) | targets met |",
             "|---|---|---|---|---|---|---|"]
    for _, row in verdicts.iterrows():
        met = [name for name in ("symmetry", "wild 3D", "PCK", "lab") if row[name]]
        summary = "all four" if row["all four"] else (", ".join(met) or "none")
        if row["stretch"]:
            summary += " + stretch"
        lines.append(f"| {row['Method']} | {row['Paired']} | {_signed(row['symmetry change %'], '%')} "
                     f"| {_paired(row['wild 3D paired'], row['wild 3D se'])} | {_paired(row['PCK paired'], row['PCK se'])} "
                     f"| {_paired(row['lab paired'], row['lab se'])} | {summary} |")
    return "\n".join(lines) + "\n"


def _signed(value: float, unit: str = "") -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.1f}{unit}"


def _paired(mean: float, se: float) -> str:
    return _signed(mean) if not np.isfinite(se) else f"{mean:+.1f} ± {se:.1f}"
