"""Stage pretrain_2d: the stacked hourglass on 2D-labelled images (wild + lab 2D labels).

    python -m stages.pretrain_2d [--params params.yaml]

Writes models/pretrain_2d.pt, metrics/pretrain_2d.json, dvclive/pretrain_2d/ (curves) and
keeps resumable checkpoints in checkpoints/pretrain_2d/.
"""

from __future__ import annotations

import click

from posegan.config import ParamsFile
from posegan.train.pretrain_2d import pretrain_2d
from posegan.train.loop_setup import LoopSettings
from stages.cli import clear_errors, params_option, progress_option
from stages.training_run import training_run


@click.command()
@params_option
@progress_option
@clear_errors
def main(params_path: str, progress: bool) -> None:
    params = ParamsFile.read(params_path)
    settings = params.section("pretrain_2d", LoopSettings)
    metrics = pretrain_2d(settings, training_run(params, "pretrain_2d", settings, [], progress))
    click.echo(f"pretrain_2d: {metrics}")


if __name__ == "__main__":
    main()
