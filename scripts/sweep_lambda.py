"""Sweep the adversarial weight lambda (Eq. 5) and score each run on the validation sets.

    python scripts/sweep_lambda.py                       # lambda 0 (Baseline), 1e-5 ... 1e-1
    python scripts/sweep_lambda.py --lambdas "0 1e-4 1e-2" --out ablation/lambda_sweep.csv

Each lambda runs the adversarial stage of params.yaml (from models/pretrain_depth.pt, with
the stage's own schedule and the `loss` section's reduction) into `--work-dir/lambda_<value>/`,
so a finished run is reused when the sweep is repeated; lambda 0 is the Baseline (no
discriminator). Every run is scored on the validation sets only, never on the test sets:
the cross-domain validation split (mpi_inf_3dhp_valid.h5: PCK@150 mm, AUC, MPJPE) and the
wild validation set (mpii_valid.h5: PCKh@0.5). The table also holds what the stage logged over
the last fifth of its schedule: the discriminator's accuracy on real and fake samples and the
adversarial share lambda x L_adv / L_pose. Choose lambda on these columns.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.data.dataset import PoseDataset  # noqa: E402
from posegan.data.schema import prepared_path  # noqa: E402
from posegan.evaluate import EvaluateSettings, evaluate_generator, load_generator, subset_indices  # noqa: E402
from posegan.params import get, load_params  # noqa: E402
from posegan.train.adversarial import adversarial  # noqa: E402
from posegan.train.common import StageOutputs  # noqa: E402
from stages.common import run_fingerprint, training_context  # noqa: E402

INIT = Path("models/pretrain_depth.pt")
VALIDATION_SETS = {"mpi_inf_3dhp": ("mpi_inf_3dhp", "valid"), "mpii": ("mpii", "valid")}


def score_on_validation(model_path: Path, prepared_dir: str, stride: int, settings: EvaluateSettings) -> dict:
    """PCK, AUC and MPJPE on the cross-domain validation split and PCKh on the wild one."""
    generator, _ = load_generator(model_path)
    sets = {key: PoseDataset(prepared_path(prepared_dir, *name), stride) for key, name in VALIDATION_SETS.items()}
    indices = {key: subset_indices(len(dataset), None) for key, dataset in sets.items()}
    scores, _ = evaluate_generator(generator, sets, indices, settings)
    return {"val_cross_pck": scores["mpi_inf_3dhp"]["pck"]["total"],
            "val_cross_auc": scores["mpi_inf_3dhp"]["auc"]["total"],
            "val_cross_mpjpe": scores["mpi_inf_3dhp"]["mpjpe"],
            "val_wild_pckh": scores["mpii"]["pckh"]["mean"]}


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="params file")
@click.option("--lambdas", default="0 1e-5 1e-4 1e-3 1e-2 1e-1", show_default=True, help="values of lambda")
@click.option("--work-dir", default="sweeps/lambda", show_default=True, help="one folder of outputs per lambda")
@click.option("--out", "out_path", default="ablation/lambda_sweep.csv", show_default=True, help="the table (CSV)")
def main(params_path: str, lambdas: str, work_dir: str, out_path: str) -> None:
    params = load_params(params_path)
    settings = EvaluateSettings.from_params(get(params, "evaluate", dict))
    rows = []
    for text in lambdas.split():
        lam = float(text)
        run_params = json.loads(json.dumps(params))
        run_params["adversarial"].update({"lambda": lam, "enabled": lam > 0})
        ctx = training_context(run_params, "adversarial", [INIT], enabled=True, init="pretrain_depth",
                               **{"lambda": 1e-4}, lr_d=1e-4, d_steps=1)
        disc = get(run_params, "discriminator", dict)
        outputs = StageOutputs.for_stage("adversarial", Path(work_dir) / f"lambda_{text}")
        if not outputs.metrics_path.exists():
            click.echo(f"lambda {text}: training -> {outputs.model_path}")
            adversarial(ctx["settings"], ctx["model"], disc, ctx["options"], ctx["prepared_dir"], ctx["stride"],
                        ctx["seed"], INIT, outputs, run_fingerprint(ctx, {"discriminator": disc}), progress=False,
                        loss=ctx["loss"])
        stage = json.loads(outputs.metrics_path.read_text())
        row = {"lambda": lam,
               "d_acc_real": stage.get("late_mean_d_acc_real"), "d_acc_fake": stage.get("late_mean_d_acc_fake"),
               "adv_share": stage.get("late_mean_adv_share"), "g_adv": stage.get("late_mean_g_adv"),
               **score_on_validation(outputs.model_path, ctx["prepared_dir"], ctx["stride"], settings)}
        click.echo(f"lambda {text}: {row}")
        rows.append(row)
    table = pd.DataFrame(rows)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(out)
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
