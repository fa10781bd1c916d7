"""Stage pretrain_depth: the full generator (2D module + depth regressor) with Eq. 2.

    python -m stages.pretrain_depth [--params params.yaml]

Starts from models/pretrain_2d.pt; writes models/pretrain_depth.pt, metrics/pretrain_depth.json,
dvclive/pretrain_depth/ and checkpoints in checkpoints/pretrain_depth/.
"""

from __future__ import annotations

from pathlib import Path

import click

from posegan.params import load_params
from posegan.train.common import StageOutputs
from posegan.train.pretrain_depth import pretrain_depth
from stages.common import clear_errors, run_fingerprint, training_context

INIT = Path("models/pretrain_2d.pt")


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="params file")
@click.option("--progress/--no-progress", default=True, help="show a progress bar")
@clear_errors
def main(params_path: str, progress: bool) -> None:
    ctx = training_context(load_params(params_path), "pretrain_depth", [INIT])
    metrics = pretrain_depth(ctx["settings"], ctx["model"], ctx["prepared_dir"], ctx["stride"], ctx["seed"],
                             INIT, StageOutputs.for_stage("pretrain_depth"), run_fingerprint(ctx), progress, loss=ctx["loss"])
    click.echo(f"pretrain_depth: {metrics}")


if __name__ == "__main__":
    main()
