"""Stage pretrain_depth: the full generator (2D module + depth regressor) with Eq. 2.

    python -m stages.pretrain_depth [--params params.yaml]

Starts from models/pretrain_2d.pt; writes models/pretrain_depth.pt, metrics/pretrain_depth.json,
dvclive/pretrain_depth/ and checkpoints in checkpoints/pretrain_depth/.
"""

from __future__ import annotations

from pathlib import Path

import click

from posegan.config import ParamsFile
from posegan.train.pretrain_depth import pretrain_depth
from posegan.train.loop_setup import LoopSettings
from stages.cli import clear_errors, params_option, progress_option
from stages.training_run import training_run

INIT = Path("models/pretrain_2d.pt")


@click.command()
@params_option
@progress_option
@clear_errors
def main(params_path: str, progress: bool) -> None:
    params = ParamsFile.read(params_path)
    settings = params.section("pretrain_depth", LoopSettings)
    metrics = pretrain_depth(settings, training_run(params, "pretrain_depth", settings, [INIT], progress), INIT)
    click.echo(f"pretrain_depth: {metrics}")


if __name__ == "__main__":
    main()
