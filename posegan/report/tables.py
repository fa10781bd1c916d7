"""Tables 1-4 of the paper for one run, from metrics/evaluate.json, as Markdown and CSV.

Rows are the scored predictors - the mean-pose floor, the pre-adversarial ("pretrained")
generator and the final one - and columns follow the paper:

- Table 1 (Human3.6M-style lab test): MPJPE per action under Protocol #1 and #2 (mm); "Avg" is
  the mean over the action columns, as in the paper, "All" the error over all test samples
  (h36m.mpjpe / h36m.p_mpjpe of evaluate.json).
- Table 2: Protocol #1 error of the joints that end each limb (mm); Mean = all-joint MPJPE.
- Table 3: PCKh@0.5 by part on the wild validation set (percent).
- Table 4: 3D PCK and AUC per activity and in total on the cross-domain test set (percent).

Every writer goes through `StagedFiles`: files are written under temporary names and renamed
only when all of them are complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from posegan.skeleton import LIMB_GROUPS, LIMB_LABELS

# evaluate.json keys of the predictors, in table order (floor first, headline last).
PREDICTORS: tuple[str, ...] = ("mean_pose", "pretrained", "final")
DEFAULT_LABELS: dict[str, str] = {"mean_pose": "Mean pose", "pretrained": "Pretrained (no adv.)", "final": "Final"}
# The evaluate.json keys of the test sets that the paper's Tables 1-4 report (each is the `key` of a
# row of posegan.data.sets; sets added to that table are scored but reported only where a table names them).
DATASETS: tuple[str, ...] = ("h36m", "mpii", "mpi_inf_3dhp")
PCKH_COLUMNS: list[tuple[str, str]] = [("Head", "Head"), ("Shoulder", "Sho."), ("Elbow", "Elb."), ("Wrist", "Wri."),
                                       ("Hip", "Hip"), ("Knee", "Knee"), ("Ankle", "Ank."), ("mean", "Mean")]


class StagedFiles:
    """Write a set of output files all-or-nothing.

    `path = staged.add(final_path)` returns a temporary path to write to; `commit()` renames
    every temporary file onto its final path; `discard()` (also on leaving a `with` block
    with an exception) removes them.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []

    def add(self, final: str | Path) -> Path:
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.stem}.tmp{final.suffix}")
        self.pending.append((tmp, final))
        return tmp

    def write_text(self, final: str | Path, text: str) -> None:
        self.add(final).write_text(text)

    def commit(self) -> list[Path]:
        for tmp, final in self.pending:
            if not tmp.exists():
                raise FileNotFoundError(f"{tmp}: staged output for {final} was never written")
        for tmp, final in self.pending:
            os.replace(tmp, final)
        done = [final for _, final in self.pending]
        self.pending = []
        return done

    def discard(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending = []

    def __enter__(self) -> "StagedFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.discard()
        return False


# --------------------------------------------------------------------------- evaluate.json

def predictor_results(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """evaluate.json -> {"mean_pose": {...}, "pretrained": {...}, "final": {h36m, mpii, mpi_inf_3dhp}}.

    Predictors absent from the file are left out; the final model must be there.
    """
    missing = [key for key in DATASETS if key not in metrics]
    if missing:
        raise ValueError(f"evaluate.json: the final model's results {missing} are missing "
                         f"(expected top-level keys {list(DATASETS)}; re-run the evaluate stage)")
    results = {key: metrics[key] for key in PREDICTORS[:-1] if isinstance(metrics.get(key), Mapping)}
    results["final"] = {key: metrics[key] for key in DATASETS}
    return results


def _value(section: Mapping[str, Any], *keys: str) -> float:
    value: Any = section
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return math.nan
        value = value[key]
    return math.nan if value is None else float(value)


def _label(labels: Mapping[str, str], key: str) -> str:
    return labels.get(key, DEFAULT_LABELS[key])


# --------------------------------------------------------------------------- tables

def table1_h36m(metrics: Mapping[str, Any], labels: Mapping[str, str] = DEFAULT_LABELS) -> pd.DataFrame:
    """Table 1: one row per (protocol, predictor); columns: actions, Avg, All (mm)."""
    results = predictor_results(metrics)
    actions = list((metrics["h36m"].get("mpjpe_by_action") or {}).keys())
    rows = []
    for protocol, overall, by_action in (("Protocol #1", "mpjpe", "mpjpe_by_action"),
                                         ("Protocol #2", "p_mpjpe", "p_mpjpe_by_action")):
        for key, result in results.items():
            if "h36m" not in result:
                continue
            h36m = result["h36m"]
            row = {"Protocol": protocol, "Method": _label(labels, key)}
            values = [_value(h36m, by_action, action) for action in actions]
            row.update(dict(zip(actions, values)))
            finite = [v for v in values if not math.isnan(v)]
            row["Avg"] = sum(finite) / len(finite) if finite else math.nan
            row["All"] = _value(h36m, overall)
            rows.append(row)
    return pd.DataFrame.from_records(rows)


def table2_limbs(metrics: Mapping[str, Any], labels: Mapping[str, str] = DEFAULT_LABELS) -> pd.DataFrame:
    """Table 2: one row per predictor; columns U.Arms, L.Arms, U.Legs, L.Legs, Mean (mm, Protocol #1)."""
    rows = []
    for key, result in predictor_results(metrics).items():
        if "h36m" not in result:
            continue
        row = {"Method": _label(labels, key)}
        row.update({LIMB_LABELS[limb]: _value(result["h36m"], "limbs", limb) for limb in LIMB_GROUPS})
        row["Mean"] = _value(result["h36m"], "limbs", "mean")
        rows.append(row)
    return pd.DataFrame.from_records(rows)


def table3_mpii_pckh(metrics: Mapping[str, Any], labels: Mapping[str, str] = DEFAULT_LABELS) -> pd.DataFrame:
    """Table 3: one row per generator; PCKh@0.5 (percent) Head, Sho., Elb., Wri., Hip, Knee, Ank., Mean."""
    rows = []
    for key, result in predictor_results(metrics).items():
        if "mpii" not in result:
            continue
        row = {"Method": _label(labels, key)}
        row.update({column: _value(result["mpii"], "pckh", part) for part, column in PCKH_COLUMNS})
        rows.append(row)
    return pd.DataFrame.from_records(rows)


def table4_3dhp(metrics: Mapping[str, Any], labels: Mapping[str, str] = DEFAULT_LABELS) -> pd.DataFrame:
    """Table 4: one row per (metric, predictor); columns the activities and Total (percent)."""
    results = predictor_results(metrics)
    activities = [k for k in (metrics["mpi_inf_3dhp"].get("pck") or {}) if k != "total"]
    rows = []
    for metric, key_name in (("PCK", "pck"), ("AUC", "auc")):
        for key, result in results.items():
            if "mpi_inf_3dhp" not in result:
                continue
            row = {"Metric": metric, "Method": _label(labels, key)}
            row.update({activity: _value(result["mpi_inf_3dhp"], key_name, activity) for activity in activities})
            row["Total"] = _value(result["mpi_inf_3dhp"], key_name, "total")
            rows.append(row)
    return pd.DataFrame.from_records(rows)


# --------------------------------------------------------------------------- formats

def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def to_markdown(table: pd.DataFrame, digits: int = 1, caption: str | None = None) -> str:
    """A GitHub Markdown table (numbers to `digits` decimals, NaN as "-"), optionally captioned.

    Text columns are left-aligned, numeric ones right-aligned.
    """
    columns = list(table.columns)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in columns]
    lines = []
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in columns) + " |")
    lines.append("|" + "|".join("---:" if is_num else ":---" for is_num in numeric) + "|")
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_cell(row[c], digits) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    """CSV text with numbers to 2 decimals (as stored in evaluate.json) and NaN as empty."""
    return table.to_csv(index=False, float_format="%.2f", lineterminator="\n")


def stage_table(staged: StagedFiles, table: pd.DataFrame, stem: str | Path, caption: str, digits: int = 1) -> None:
    """Stage <stem>.md (captioned Markdown) and <stem>.csv."""
    stem = Path(stem)
    staged.write_text(stem.with_suffix(".md"), to_markdown(table, digits, caption))
    staged.write_text(stem.with_suffix(".csv"), to_csv(table))


# name -> (builder, caption); the caption is formatted with the numbers of samples.
TABLES: dict[str, tuple[Callable[..., pd.DataFrame], str]] = {
    "table1_h36m": (table1_h36m,
                    "**Table 1.** MPJPE (mm) per action on the lab test set ({h36m} samples) under Protocol #1 "
                    "(root-aligned) and Protocol #2 (after a similarity alignment). Avg: mean of the action "
                    "columns; All: over all samples."),
    "table2_limbs": (table2_limbs,
                     "**Table 2.** Protocol #1 error (mm) of the joints that end each limb on the lab test set "
                     "({h36m} samples). Mean: all 16 joints (= MPJPE)."),
    "table3_mpii_pckh": (table3_mpii_pckh,
                         "**Table 3.** PCKh@{pckh_threshold} (%) on the wild validation set ({mpii} samples); "
                         "Mean over all joints but pelvis and thorax."),
    "table4_3dhp": (table4_3dhp,
                    "**Table 4.** 3D PCK@{pck_threshold} mm and AUC (0-150 mm) in % on the cross-domain test set "
                    "({mpi_inf_3dhp} samples), root-centred, 14 joints, per activity and in total."),
}


def stage_tables(staged: StagedFiles, metrics: Mapping[str, Any], reports_dir: str | Path,
                 labels: Mapping[str, str] = DEFAULT_LABELS, pck_threshold: float = 150.0,
                 pckh_threshold: float = 0.5) -> list[str]:
    """Stage reports_dir/<table>.md and .csv for Tables 1-4; returns the table names."""
    counts: dict[str, Any] = {}
    for key in DATASETS:
        samples = _value(metrics.get(key, {}), "samples")
        counts[key] = "?" if math.isnan(samples) else int(samples)
    for name, (builder, caption) in TABLES.items():
        table = builder(metrics, labels)
        text = caption.format(pck_threshold=f"{pck_threshold:g}", pckh_threshold=f"{pckh_threshold:g}", **counts)
        stage_table(staged, table, Path(reports_dir) / name, text)
    return list(TABLES)


def labels_for(final_name: str) -> dict[str, str]:
    """Row labels with the final model named after its variant (e.g. "Full", "Baseline")."""
    return {**DEFAULT_LABELS, "final": final_name}
