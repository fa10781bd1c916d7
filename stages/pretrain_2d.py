"""Stage pretrain_2d: the stacked hourglass on 2D-labelled images (wild + lab 2D labels).

    python -m stages.pretrain_2d [--params params.yaml]

Writes models/pretrain_2d.pt, metrics/pretrain_2d.json, dvclive/pretrain_2d/ (curves) and
keeps resumable checkpoints in checkpoints/pretrain_2d/.
"""

from __future__ import annotations

import click

from posegan.params import load_params
from posegan.train.common import StageOutputs
from posegan.train.pretrain_2d import pretrain_2d
from stages.common import clear_errors, run_fingerprint, training_context


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="params file")
@click.option("--progress/--no-progress", default=True, help="show a progress bar")
@clear_errors
def main(params_path: str, progress: bool) -> None:
    ctx = training_context(load_params(params_path), "pretrain_2d", [])
    metrics = pretrain_2d(ctx["settings"], ctx["model"], ctx["prepared_dir"], ctx["stride"], ctx["seed"],
                          StageOutputs.for_stage("pretrain_2d"), run_fingerprint(ctx), progress, loss=ctx["loss"])
    click.echo(f"pretrain_2d: {metrics}")


if __name__ == "__main__":
    main()
