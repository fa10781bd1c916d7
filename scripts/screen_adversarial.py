"""Screen adversarial variants against their Baseline on the validation splits, seed by seed.

    python scripts/screen_adversarial.py --variants ablation/screen_variants.yaml \
        --pretrained runs/seed0/pretrain_depth.pt --seed 0 --work-dir sweeps/screen/s0 \
        --out ablation/screen_s0.csv

`--variants` is a YAML mapping of variant name -> overrides of params.yaml's sections, e.g.

    baseline: {adversarial: {enabled: false}}
    geo_wgan: {discriminator: {sources: [geo], objective: wasserstein, gradient_penalty: 10.0},
               adversarial: {lambda: 1.0e-3, d_warmup: 200}}

Every variant runs the adversarial stage from the same pretrained model (`--pretrained`, the
pretrain_depth model of training seed `--seed`) into `--work-dir/<name>/`, so the variants of
one seed differ only in what the overrides change; a finished run is reused when the screen is
repeated, an interrupted one resumes. Every run is scored on the validation splits of the
dataset table only, never on the test sets (`posegan.evaluate.score_on_validation`): the
cross-domain validation split (PCK, AUC, MPJPE, limb symmetry, bone-length error,
decomposition), the wild validation set (PCKh) and its evaluation-only 3D (MPJPE, symmetry;
empty columns where that file is not prepared). The CSV has one row per variant
with the seed, and `python scripts/screen_adversarial.py --pair a.csv b.csv ...` prints the
paired differences to the `baseline` row of each seed (mean over seeds and standard error).

Each run folder also gets the params it ran with (`params.yaml`); with `--test`, once the
settings are chosen, the run is also scored on the test sets as the evaluate stage scores them
(`metrics/evaluate.json`), so that `python -m stages.tables ablation --runs '<work-dir>/*'`
builds Table 2's rows, paired by seed, from the run folders.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.atomic_files import replacing  # noqa: E402
from posegan.config import ParamsFile, load_yaml  # noqa: E402
from posegan.data.dataset import PreparedData  # noqa: E402
from posegan.device import RuntimeSettings  # noqa: E402
from posegan.evaluate import EvaluateSettings, evaluate_models, score_on_validation  # noqa: E402
from posegan.metrics_json import lookup, rounded  # noqa: E402
from posegan.models.discriminator import DiscriminatorSettings  # noqa: E402
from posegan.train.adversarial import AdversarialSettings, adversarial  # noqa: E402
from posegan.train.loop_setup import StageOutputs  # noqa: E402
from stages.cli import clear_errors, params_option  # noqa: E402
from stages.training_run import training_run  # noqa: E402

BASELINE = "baseline"
# The validation columns (percent, mm): name -> dotted key in the validation scores (laid out as in evaluate.json).
COLUMNS = {"cross_pck": "mpi_inf_3dhp.pck.total", "cross_auc": "mpi_inf_3dhp.auc.total",
           "cross_mpjpe": "mpi_inf_3dhp.mpjpe", "cross_symmetry": "mpi_inf_3dhp.plausibility.symmetry_error",
           "cross_bone_error": "mpi_inf_3dhp.plausibility.bone_length_error",
           "cross_true2d_depth_error": "mpi_inf_3dhp.decomposition.true_2d_pred_depth",
           "cross_true_depth_2d_error": "mpi_inf_3dhp.decomposition.pred_2d_true_depth",
           "wild_pckh": "mpii.pckh.mean",
           "wild3d_mpjpe": "mpii_3d.mpjpe", "wild3d_symmetry": "mpii_3d.plausibility.symmetry_error",
           "wild3d_true2d_depth_error": "mpii_3d.decomposition.true_2d_pred_depth"}


def merged(raw: dict, overrides: dict) -> dict:
    """params.yaml's sections with `overrides` written over them (nested mappings merged key by key)."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def paired_table(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per variant and column: the mean over seeds of (variant - the same seed's baseline) and its
    standard error (sample std / sqrt(seeds); NaN for one seed)."""
    rows = pd.concat(frames)
    columns = [c for c in rows.columns if c not in ("variant", "seed") and pd.api.types.is_numeric_dtype(rows[c])]
    base = rows[rows.variant == BASELINE].set_index("seed")[columns]
    out = []
    for name, group in rows[rows.variant != BASELINE].groupby("variant", sort=False):
        diff = group.set_index("seed")[columns] - base.loc[group.seed.values].values
        n = len(diff)
        row = {"variant": name, "seeds": n}
        for c in columns:
            row[c] = diff[c].mean()
            row[f"{c} se"] = diff[c].std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        out.append(row)
    return pd.DataFrame(out)


@click.command()
@params_option
@click.option("--variants", "variants_path", type=click.Path(exists=True, dir_okay=False),
              help="YAML: variant name -> params overrides")
@click.option("--pretrained", type=click.Path(exists=True, dir_okay=False), help="the seed's pretrain_depth.pt")
@click.option("--seed", type=int, default=0, show_default=True, help="training seed (the pretrained model's)")
@click.option("--only", default="", help="space-separated subset of the variants to run")
@click.option("--work-dir", default="sweeps/screen", show_default=True, help="one folder of outputs per variant")
@click.option("--out", "out_path", default="ablation/screen.csv", show_default=True, help="the table (CSV)")
@click.option("--pair", "pair_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="only print the paired differences of these screen tables")
@click.option("--test", "on_test", is_flag=True,
              help="also score each run on the test sets (<run>/metrics/evaluate.json, for Table 2)")
@clear_errors
def main(params_path, variants_path, pretrained, seed, only, work_dir, out_path, pair_paths, on_test) -> None:
    if pair_paths:
        table = paired_table([pd.read_csv(p) for p in pair_paths])
        click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        return
    base = ParamsFile.read(params_path)
    variants = load_yaml(Path(variants_path).read_text(), variants_path)
    chosen = only.split() or list(variants)
    rows = []
    for name in chosen:
        params = ParamsFile(base.path, merged(base.raw, {**(variants[name] or {}), "seed": seed}))
        run_settings = params.section("adversarial", AdversarialSettings)
        discriminator = params.section("discriminator", DiscriminatorSettings)
        run = training_run(params, "adversarial", run_settings, [Path(pretrained)], False,
                           {"discriminator": dataclasses.asdict(discriminator) if run_settings.enabled else None})
        run = dataclasses.replace(run, outputs=StageOutputs.for_stage("adversarial", Path(work_dir) / name))
        run_dir = Path(work_dir) / name
        run_dir.mkdir(parents=True, exist_ok=True)
        with replacing(run_dir / "params.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(params.raw, sort_keys=False))
        if not run.outputs.metrics_path.exists():
            click.echo(f"{name}: training -> {run.outputs.model_path}")
            adversarial(run_settings, discriminator, run, pretrained)
        data, runtime = params.section("data", PreparedData), params.section("runtime", RuntimeSettings)
        evaluate_settings = params.section("evaluate", EvaluateSettings)
        test_path = run_dir / "metrics" / "evaluate.json"
        if on_test and not test_path.exists():
            metrics, _ = evaluate_models({"final": run.outputs.model_path}, data.prepared_dir, evaluate_settings,
                                         runtime.device, runtime.amp)
            with replacing(test_path) as tmp:
                tmp.write_text(json.dumps(rounded(metrics), indent=2))
        stage = json.loads(run.outputs.metrics_path.read_text())
        scores = score_on_validation(run.outputs.model_path, data.prepared_dir, evaluate_settings,
                                     runtime.device, runtime.amp)
        row = {"variant": name, "seed": seed,
               **{k: stage.get(f"late_mean_{k}") for k in ("d_acc_real", "d_acc_fake", "d_acc_fake_wild",
                                                           "d_score_gap", "adv_share")},
               **{column: lookup(scores, key) for column, key in COLUMNS.items()}}
        click.echo(f"{name}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in row.items()))
        rows.append(row)
        table = pd.DataFrame(rows)
        with replacing(out_path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    click.echo(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
