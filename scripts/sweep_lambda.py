"""Sweep the adversarial weight lambda (Eq. 5) and score each run on the validation sets.

    python scripts/sweep_lambda.py                       # lambda 0 (Baseline), 1e-5 ... 1e-1
    python scripts/sweep_lambda.py --lambdas "0 1e-4 1e-2" --out ablation/lambda_sweep.csv

Each lambda runs the adversarial stage of params.yaml (from models/pretrain_depth.pt, with
the stage's own schedule and the `loss` section's reduction) into `--work-dir/lambda_<value>/`,
so a finished run is reused when the sweep is repeated; lambda 0 is the Baseline (no
discriminator). Every run is scored on validation splits of the dataset table only, never on
the test sets (`posegan.evaluate.score_on_validation`): the cross-domain validation split
(PCK@150 mm, AUC, MPJPE) and the wild validation set (PCKh@0.5). The table also holds what the stage logged over
the last fifth of its schedule: the discriminator's accuracy on real and fake samples and the
adversarial share lambda x L_adv / L_pose. Choose lambda on these columns.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.atomic_files import replacing  # noqa: E402
from posegan.config import ParamsFile  # noqa: E402
from posegan.data.dataset import PreparedData  # noqa: E402
from posegan.device import RuntimeSettings  # noqa: E402
from posegan.evaluate import EvaluateSettings, score_on_validation  # noqa: E402
from posegan.metrics_json import lookup  # noqa: E402
from posegan.models.discriminator import DiscriminatorSettings  # noqa: E402
from posegan.train.adversarial import AdversarialSettings, adversarial  # noqa: E402
from posegan.train.loop_setup import StageOutputs  # noqa: E402
from stages.cli import clear_errors, params_option  # noqa: E402
from stages.training_run import training_run  # noqa: E402

INIT = Path("models/pretrain_depth.pt")
# The table's validation columns: name -> dotted key in the validation scores (laid out as in evaluate.json).
COLUMNS = {"val_cross_pck": "mpi_inf_3dhp.pck.total", "val_cross_auc": "mpi_inf_3dhp.auc.total",
           "val_cross_mpjpe": "mpi_inf_3dhp.mpjpe", "val_wild_pckh": "mpii.pckh.mean"}


@click.command()
@params_option
@click.option("--lambdas", default="0 1e-5 1e-4 1e-3 1e-2 1e-1", show_default=True, help="values of lambda")
@click.option("--work-dir", default="sweeps/lambda", show_default=True, help="one folder of outputs per lambda")
@click.option("--out", "out_path", default="ablation/lambda_sweep.csv", show_default=True, help="the table (CSV)")
@clear_errors
def main(params_path: str, lambdas: str, work_dir: str, out_path: str) -> None:
    params = ParamsFile.read(params_path)
    settings = params.section("evaluate", EvaluateSettings)
    data = params.section("data", PreparedData)
    runtime = params.section("runtime", RuntimeSettings)
    stage_settings = params.section("adversarial", AdversarialSettings)
    discriminator = params.section("discriminator", DiscriminatorSettings)
    rows = []
    for text in lambdas.split():
        lam = float(text)
        run_settings = dataclasses.replace(stage_settings, lambda_=lam, enabled=lam > 0)
        run = training_run(params, "adversarial", run_settings, [INIT], False,
                           {"discriminator": dataclasses.asdict(discriminator) if run_settings.enabled else None})
        run = dataclasses.replace(run, outputs=StageOutputs.for_stage("adversarial", Path(work_dir) / f"lambda_{text}"))
        outputs = run.outputs
        if not outputs.metrics_path.exists():
            click.echo(f"lambda {text}: training -> {outputs.model_path}")
            adversarial(run_settings, discriminator, run, INIT)
        stage = json.loads(outputs.metrics_path.read_text())
        scores = score_on_validation(outputs.model_path, data.prepared_dir, settings, runtime.device, runtime.amp,
                                     keys={key.split(".")[0] for key in COLUMNS.values()})
        row = {"lambda": lam,
               "d_acc_real": stage.get("late_mean_d_acc_real"), "d_acc_fake": stage.get("late_mean_d_acc_fake"),
               "adv_share": stage.get("late_mean_adv_share"), "g_adv": stage.get("late_mean_g_adv"),
               **{name: lookup(scores, key) for name, key in COLUMNS.items()}}
        click.echo(f"lambda {text}: {row}")
        rows.append(row)
    table = pd.DataFrame(rows)
    with replacing(out_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
