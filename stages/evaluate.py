"""Stage evaluate: score the final and the pre-adversarial generator on the three test sets.

    python -m stages.evaluate [--params params.yaml]

Reads models/adversarial.pt (the final generator), models/pretrain_depth.pt (the generator
before adversarial learning, reported as "pretrained"), the prepared test files
(h36m_test, mpii_valid, mpi_inf_3dhp_test) and h36m_train (for the mean-pose predictor).
Writes metrics/evaluate.json (Tables 1-4; layout in posegan/evaluate.py), the few figures
compared first in metrics/headline.json (`dvc metrics diff --targets metrics/headline.json`)
and predictions/<model>_<set>.npz.
"""

from __future__ import annotations

from pathlib import Path

import click

from posegan.config import ParamsFile
from posegan.data.dataset import PreparedData
from posegan.device import RuntimeSettings
from posegan.evaluate import FINAL, EvaluateSettings, evaluate_models, write_evaluation
from stages.cli import clear_errors, params_option

MODELS = {FINAL: Path("models/adversarial.pt"), "pretrained": Path("models/pretrain_depth.pt")}
METRICS = Path("metrics/evaluate.json")
HEADLINE = Path("metrics/headline.json")
PREDICTIONS = Path("predictions")


@click.command()
@params_option
@clear_errors
def main(params_path: str) -> None:
    params = ParamsFile.read(params_path)
    settings, data = params.section("evaluate", EvaluateSettings), params.section("data", PreparedData)
    runtime = params.section("runtime", RuntimeSettings)
    metrics, predictions = evaluate_models(MODELS, data.prepared_dir, settings, runtime.device, runtime.amp,
                                           log=click.echo)
    write_evaluation(metrics, predictions, METRICS, PREDICTIONS, headline_path=HEADLINE)
    click.echo(f"evaluate: h36m MPJPE {metrics['h36m']['mpjpe']:.1f} mm, P-MPJPE {metrics['h36m']['p_mpjpe']:.1f} mm; "
               f"MPII PCKh@{settings.pckh_threshold:g} {metrics['mpii']['pckh']['mean']:.1f}%; "
               f"3DHP PCK {metrics['mpi_inf_3dhp']['pck']['total']:.1f}%, "
               f"AUC {metrics['mpi_inf_3dhp']['auc']['total']:.1f}% -> {METRICS}")


if __name__ == "__main__":
    main()
