"""Table 2 across experiments: one row per DVC experiment, named like the paper's variants.

A stage inside one experiment cannot see the others, so this table is built from
`dvc exp show --json` (DVC 3.x), whose output is a list of records:

    [{"rev": "workspace", "name": null, "data": {...}, "error": null, "experiments": null},
     {"rev": "<sha>", "name": "main", "data": {...}, "error": null,
      "experiments": [{"name": "exp-a", "executor": null | {"state": "queued" | "running" |
                       "success" | "failed", ...}, "revs": [{"rev": ..., "name": ..., "data": {...},
                       "error": null | {"msg": ...}, "experiments": null}]}, ...]}]

where "data" holds {"params": {"params.yaml": {"data": {...}}}, "metrics":
{"metrics/evaluate.json": {"data": {...}}}, ...}. Queued, running and failed experiments are
left out (a failed one still shows its parent commit's metrics), and so is the workspace when
it merely repeats a committed row or an applied experiment.

Variant names (paper, section 5.1.1), from four params:

    adversarial.enabled: false        -> Baseline
    discriminator.sources: map | geo | full -> Map | Geo | Full (a custom list: "Adv. (geo+maps)")
    model.fix_2d: true                -> "(fix 2D)"
    adversarial.init: pretrain_2d     -> "(w/o pretrain)"
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posegan.metrics_json import lookup
from posegan.report.files import read_json
from posegan.skeleton import LIMB_GROUPS, LIMB_LABELS
from posegan.errors import PoseganError

PARAMS_FILE = "params.yaml"
METRICS_FILE = "metrics/evaluate.json"

# The paper's Table 2 rows, top to bottom.
PAPER_ORDER: list[str] = ["Baseline (fix 2D)", "Baseline", "Map", "Geo", "Full (fix 2D)", "Full (w/o pretrain)",
                          "Full"]
# The params that tell the variants apart, with the value a missing key means.
VARIANT_DEFAULTS: dict[str, Any] = {
    "adversarial.enabled": True,
    "discriminator.sources": "full",
    "model.fix_2d": False,
    "adversarial.init": "pretrain_depth",
}
# Options beyond the paper, and settings of the schedule, with the value a missing key means. A
# table names its rows by those of them whose values differ between its rows (`varying_options`),
# options only on adversarial rows, the schedule on every row (a variant and its Baseline share it).
OPTION_DEFAULTS: dict[str, Any] = {
    "discriminator.pose_scale": "heatmap",
    "discriminator.heads": "joint",
    "discriminator.image_samples": "all",
    "discriminator.objective": "bce",
    "discriminator.gradient_penalty": 0.0,
    "adversarial.lambda": 1.0e-4,
    "adversarial.d_warmup": 0,
    "adversarial.d_steps": 1,
    "adversarial.lr_d": 1.0e-4,
    "adversarial.adversarial_gradient": "pose",
    "adversarial.fake_2d": "predicted",
    "adversarial.adversarial_samples": "all",
    "adversarial.conflict": "add",
}
SCHEDULE_DEFAULTS: dict[str, Any] = {
    "adversarial.iterations": 500,
}
# Treatments beyond the paper that are not adversarial, so that a Baseline can carry them: named
# on any row where they are not the default, and off in the Baseline a row is paired with.
CONTROL_DEFAULTS: dict[str, Any] = {
    "adversarial.symmetry_weight": 0.0,
}
# Table 2 columns: (metrics key under h36m.limbs, column label).
TABLE2_COLUMNS: list[tuple[str, str]] = [*((k, LIMB_LABELS[k]) for k in LIMB_GROUPS), ("mean", "Mean")]
# Optional columns from the other test sets: (dotted metrics key, column label).
EXTRA_COLUMNS: list[tuple[str, str]] = [
    ("h36m.p_mpjpe", "P-MPJPE"),
    ("mpii.pckh.mean", "PCKh@0.5 (wild)"),
    ("mpi_inf_3dhp.pck.total", "3DHP PCK"),
    ("mpi_inf_3dhp.auc.total", "3DHP AUC"),
    ("mpi_inf_3dhp.plausibility.symmetry_error", "cross symmetry"),
    ("mpii_3d.mpjpe", "wild 3D MPJPE"),
]


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{key}: expected true or false, got {value!r}")


def sources_label(sources: Any) -> str:
    """The discriminator's sources as the paper names them: Map, Geo, Full, or 'Adv. (a+b)'."""
    from posegan.models import VARIANTS, parse_sources

    try:
        canonical = parse_sources(sources)
    except ValueError:
        return f"Adv. ({sources})"
    for name, variant in VARIANTS.items():
        if canonical == variant:
            return name.capitalize()
    return f"Adv. ({'+'.join(canonical)})"


def _option_label(key: str, value: Any) -> str:
    """How a non-default option reads in a variant's name."""
    short = key.split(".", 1)[1]
    if key == "discriminator.gradient_penalty":
        return f"penalty {float(value):g}"
    if key == "adversarial.lambda":
        return f"lambda {float(value):g}"
    if key == "adversarial.d_warmup":
        return f"D warm-up {int(value)}"
    if key == "adversarial.d_steps":
        return f"{int(value)} D steps"
    if key == "adversarial.lr_d":
        return f"D lr {float(value):g}"
    if key == "adversarial.adversarial_gradient":
        return f"L_adv on {value} only"
    if key == "adversarial.fake_2d":
        return f"fakes with {value} 2D"
    if key == "adversarial.adversarial_samples":
        return f"L_adv on {value} samples"
    if key == "adversarial.conflict":
        return "L_adv projected off L_pose" if value == "project" else f"conflict {value}"
    if key == "adversarial.iterations":
        return f"{int(value)} it"
    if key == "adversarial.symmetry_weight":
        return f"symmetry rule {float(value):g}"
    return f"{short.replace('_', ' ')} {value}"


def _setting(params: Mapping[str, Any], key: str) -> Any:
    """The value of an option or schedule key, numbers as floats (so 1e-3 and 0.001 agree)."""
    default = {**OPTION_DEFAULTS, **SCHEDULE_DEFAULTS, **CONTROL_DEFAULTS}[key]
    value = lookup(params, key, default)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def varying_options(all_params: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The option and schedule keys whose values differ between these params dicts: the ones a
    table of them must name its rows by."""
    keys = [*OPTION_DEFAULTS, *SCHEDULE_DEFAULTS, *CONTROL_DEFAULTS]
    return tuple(k for k in keys if len({repr(_setting(p, k)) for p in all_params}) > 1)


def variant_name(params: Mapping[str, Any], named: Sequence[str] = ()) -> str:
    """The paper's name of the variant that `params` (a params.yaml dict) trains.

    Baseline / Map / Geo / Full, with "(fix 2D)" and "(w/o pretrain)" qualifiers; keys that are
    absent take their defaults. `named`: option and schedule keys (`varying_options`) to add
    with their values, options only for an adversarial variant (a Baseline has no D).
    """
    value = {key: lookup(params, key, default) for key, default in VARIANT_DEFAULTS.items()}
    enabled = _flag(value["adversarial.enabled"], "adversarial.enabled")
    name = sources_label(value["discriminator.sources"]) if enabled else "Baseline"
    qualifiers = [_option_label(key, lookup(params, key, {**OPTION_DEFAULTS, **SCHEDULE_DEFAULTS}[key]))
                  for key in named if (enabled and key in OPTION_DEFAULTS) or key in SCHEDULE_DEFAULTS]
    qualifiers += [_option_label(key, _setting(params, key)) for key in named
                   if key in CONTROL_DEFAULTS and _setting(params, key) != CONTROL_DEFAULTS[key]]
    if _flag(value["model.fix_2d"], "model.fix_2d"):
        qualifiers.append("fix 2D")
    if str(value["adversarial.init"]) == "pretrain_2d":
        qualifiers.append("w/o pretrain")
    elif str(value["adversarial.init"]) != "pretrain_depth":
        qualifiers.append(f"init {value['adversarial.init']}")
    return f"{name} ({', '.join(qualifiers)})" if qualifiers else name


def baseline_name(params: Mapping[str, Any], named: Sequence[str] = ()) -> str:
    """The name of the Baseline that a variant is paired with: the same model, initialisation
    and schedule, with adversarial learning off."""
    section = dict(params.get("adversarial") or {})
    controls_off = {key.split(".", 1)[1]: value for key, value in CONTROL_DEFAULTS.items()}
    return variant_name({**params, "adversarial": {**section, "enabled": False, **controls_off}}, named)


# --------------------------------------------------------------------------- dvc exp show

@dataclass
class ExperimentRow:
    """One finished experiment (or commit, or workspace) of `dvc exp show --json`.

    label: the experiment's name, the branch name of a commit, or "workspace". rev: its git
    revision. kind: "experiment", "commit" or "workspace". params: params.yaml as a dict.
    metrics: metrics/evaluate.json as a dict.
    """

    label: str
    rev: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        return variant_name(self.params)


def _file_data(data: Mapping[str, Any], section: str, path: str) -> dict[str, Any] | None:
    """data[section][path]["data"] (normalising Windows separators), or None if absent/failed."""
    files = data.get(section) or {}
    for name, entry in files.items():
        if name.replace("\\", "/") == path and isinstance(entry, Mapping) and not entry.get("error"):
            content = entry.get("data")
            return dict(content) if isinstance(content, Mapping) else None
    return None


def _row(record: Mapping[str, Any], label: str, kind: str, params_file: str, metrics_file: str,
         skipped: list[str]) -> ExperimentRow | None:
    rev = str(record.get("rev", ""))
    if record.get("error"):
        error = record["error"]
        message = error.get("msg", error) if isinstance(error, Mapping) else error
        skipped.append(f"{label}: {message}")
        return None
    data = record.get("data") or {}
    params = _file_data(data, "params", params_file)
    metrics = _file_data(data, "metrics", metrics_file)
    if params is None or metrics is None:
        skipped.append(f"{label}: no {params_file if params is None else metrics_file}")
        return None
    return ExperimentRow(label, rev, kind, params, metrics)


def experiment_rows(exp_show: Sequence[Mapping[str, Any]], params_file: str = PARAMS_FILE,
                    metrics_file: str = METRICS_FILE, skipped: list[str] | None = None) -> list[ExperimentRow]:
    """The finished rows of `dvc exp show --json` output (DVC 3.x), in its order.

    Each commit is followed by its experiments. Queued, running and failed experiments, and
    records without the params or metrics file, are left out (with a reason appended to
    `skipped`); the workspace is kept only if its params and metrics differ from every other row.
    """
    if not isinstance(exp_show, Sequence) or isinstance(exp_show, (str, bytes)):
        raise ValueError("dvc exp show --json: expected a JSON list of records (DVC 3.x); got "
                         f"{type(exp_show).__name__}")
    skipped = [] if skipped is None else skipped
    rows: list[ExperimentRow] = []
    workspace: ExperimentRow | None = None
    for record in exp_show:
        if not isinstance(record, Mapping) or "rev" not in record:
            raise ValueError(f"dvc exp show --json: expected records with a 'rev' key, got {record!r:.80}")
        if record["rev"] == "workspace":
            workspace = _row(record, "workspace", "workspace", params_file, metrics_file, skipped)
            continue
        label = record.get("name") or str(record["rev"])[:7]
        commit = _row(record, label, "commit", params_file, metrics_file, skipped)
        if commit is not None:
            rows.append(commit)
        for experiment in record.get("experiments") or []:
            state = (experiment.get("executor") or {}).get("state")
            for revision in experiment.get("revs") or []:
                name = revision.get("name") or experiment.get("name") or str(revision.get("rev", ""))[:7]
                if state not in (None, "success"):
                    skipped.append(f"{name}: {state}")
                    continue
                row = _row(revision, name, "experiment", params_file, metrics_file, skipped)
                if row is not None:
                    rows.append(row)
    if workspace is not None and not any(r.params == workspace.params and r.metrics == workspace.metrics
                                         for r in rows):
        rows.append(workspace)
    return rows


def run_folder_rows(folders: Sequence[str | Path], params_file: str = PARAMS_FILE, metrics_file: str = METRICS_FILE,
                    skipped: list[str] | None = None) -> list[ExperimentRow]:
    """Rows from run folders, each holding the params it ran with (`params_file`) and its
    test-set metrics (`metrics_file`), e.g. the folders of `scripts/screen_adversarial.py --test`;
    a folder without either is left out (with a reason appended to `skipped`)."""
    from posegan.config import load_yaml

    skipped = [] if skipped is None else skipped
    rows = []
    for folder in map(Path, folders):
        params_path, metrics_path = folder / params_file, folder / metrics_file
        missing = [p for p in (params_path, metrics_path) if not p.exists()]
        if missing:
            skipped.append(f"{folder}: no {missing[0].relative_to(folder)}")
            continue
        params = load_yaml(params_path.read_text(), str(params_path)) or {}
        rows.append(ExperimentRow(str(folder), "", "run", params,
                                  read_json(metrics_path, "metrics not found", "score the run on the test sets again")))
    return rows


class ExpShowError(PoseganError, ValueError):
    """`dvc exp show --json` failed or printed something that is not its JSON."""


def run_exp_show(all_commits: bool = False, cwd: str | Path | None = None) -> list[dict[str, Any]]:
    """`dvc exp show --json` of the repository at `cwd`, parsed (run with this Python's dvc)."""
    command = [sys.executable, "-m", "dvc", "exp", "show", "--json"] + (["--all-commits"] if all_commits else [])
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExpShowError(f"`dvc exp show --json` failed (exit {result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise ExpShowError(f"`dvc exp show --json` did not print JSON ({err}): {result.stdout[:200]!r}") from err


def load_exp_show(path: str | Path) -> list[dict[str, Any]]:
    """A saved `dvc exp show --json` output (ValueError naming the file if it is not JSON)."""
    path = Path(path)
    return read_json(path, "saved `dvc exp show --json` output not found",
                     f"save it with `dvc exp show --json > {path.name}`")


# --------------------------------------------------------------------------- the table

def _number(value: Any) -> float:
    """A metric value as float; NaN where it is missing or not a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float("nan")


def ablation_table(rows: Sequence[ExperimentRow], extra: bool = False):
    """Table 2 as a DataFrame: one row per variant, paper order first, then the others by name.

    Rows are named by `variant_name` with the option and schedule settings that differ between
    them (`varying_options`), so that two runs that differ only in, say, lambda are two rows.

    The experiments of one variant (the same params but the training `seed`) are pooled:
    each value column holds their mean and `<column> std` their standard deviation (ddof 1;
    NaN for a single seed). Variants of one seed share its pretrained model, so they are also
    compared pair by pair: `<column> paired` is the mean over seeds of (the variant's value -
    its Baseline's value at the same seed; `baseline_name`) and `<column> paired se` its
    standard error (std ddof 1 / sqrt(pairs); NaN for one pair, and both NaN where no seed has
    the Baseline). The same run listed twice (a commit and the experiment it came from: same
    variant, seed and metrics) counts once. Columns: Method, U.Arms, L.Arms, U.Legs, L.Legs,
    Mean (mm, Protocol #1; Mean = all-joint MPJPE), [the `EXTRA_COLUMNS` if extra], each
    followed by its std, paired and paired se, then Seeds (how many), Paired (how many seeds
    have the Baseline too), Experiments (their names). A row without h36m limb metrics raises
    ValueError naming the experiment.
    """
    import numpy as np
    import pandas as pd

    if not rows:
        raise ValueError(f"no finished experiment with {PARAMS_FILE} and {METRICS_FILE} found in "
                         "`dvc exp show --json` (run the pipeline or the queued experiments first)")
    columns = [(f"h36m.limbs.{key}", label) for key, label in TABLE2_COLUMNS] + (EXTRA_COLUMNS if extra else [])
    named = varying_options([row.params for row in rows])
    runs: dict[tuple[str, Any, tuple], dict] = {}
    for row in rows:
        limbs = lookup(row.metrics, "h36m.limbs")
        if not isinstance(limbs, Mapping) or any(key not in limbs for key, _ in TABLE2_COLUMNS):
            raise ValueError(f"experiment {row.label}: {METRICS_FILE} has no h36m.limbs "
                             f"{[k for k, _ in TABLE2_COLUMNS]} (re-run its evaluate stage)")
        values = tuple(_number(lookup(row.metrics, key)) for key, _ in columns)
        seed = lookup(row.params, "seed", 0)
        key = (variant_name(row.params, named), seed, tuple(None if v != v else v for v in values))  # NaN-safe
        run = runs.setdefault(key, {"values": values, "names": [], "seed": seed,
                                    "baseline": baseline_name(row.params, named)})
        run["names"].append(row.label)

    by_variant: dict[str, list[dict]] = {}
    for (variant, _, _), run in runs.items():
        by_variant.setdefault(variant, []).append(run)
    # Each seed's Baseline values (the first run listed where a seed has several).
    baselines = {(variant, run["seed"]): np.array(run["values"], dtype=np.float64)
                 for variant, group in by_variant.items() for run in reversed(group)}
    records = []
    for variant, group in by_variant.items():
        values = np.array([run["values"] for run in group], dtype=np.float64)
        pairs = [np.array(run["values"], dtype=np.float64) - baselines[(run["baseline"], run["seed"])]
                 for run in group if (run["baseline"], run["seed"]) in baselines and run["baseline"] != variant]
        diffs = np.array(pairs).reshape(len(pairs), len(columns))
        record: dict[str, Any] = {"Method": variant}
        for k, (_, label) in enumerate(columns):
            record[label] = float(np.mean(values[:, k]))
            record[f"{label} std"] = float(np.std(values[:, k], ddof=1)) if len(group) > 1 else float("nan")
            record[f"{label} paired"] = float(np.mean(diffs[:, k])) if len(pairs) else float("nan")
            record[f"{label} paired se"] = (float(np.std(diffs[:, k], ddof=1) / np.sqrt(len(pairs)))
                                            if len(pairs) > 1 else float("nan"))
        record["Seeds"] = len(group)
        record["Paired"] = len(pairs)
        record["Experiments"] = " ".join(sorted(min(run["names"]) for run in group))
        records.append(record)

    def order(record: dict) -> tuple:
        method = record["Method"]
        paper = method if method in PAPER_ORDER else method.split(" (")[0]
        rank = PAPER_ORDER.index(paper) if paper in PAPER_ORDER else len(PAPER_ORDER)
        return (rank, "" if method in PAPER_ORDER else method)

    return pd.DataFrame.from_records(sorted(records, key=order))
