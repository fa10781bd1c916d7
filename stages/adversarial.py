"""Stage adversarial: alternate discriminator and generator updates (Eq. 3 and Eq. 5).

    python -m stages.adversarial [--params params.yaml]

Starts from models/pretrain_depth.pt (or, with adversarial.init: pretrain_2d, from the 2D
module alone: Table 2's "w/o pretrain"); adversarial.enabled: false is the Baseline.
Writes models/adversarial.pt, metrics/adversarial.json, dvclive/adversarial/ and checkpoints
in checkpoints/adversarial/.
"""

from __future__ import annotations

from pathlib import Path

import click

from posegan.models import parse_sources
from posegan.params import ParamsError, get, load_params
from posegan.train.adversarial import adversarial
from posegan.train.common import StageOutputs
from stages.common import clear_errors, run_fingerprint, training_context

INITS = {"pretrain_depth": Path("models/pretrain_depth.pt"), "pretrain_2d": Path("models/pretrain_2d.pt")}


@click.command()
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="params file")
@click.option("--progress/--no-progress", default=True, help="show a progress bar")
@clear_errors
def main(params_path: str, progress: bool) -> None:
    params = load_params(params_path)
    init = get(params, "adversarial.init", str)
    if init not in INITS:
        raise ParamsError(f"params.yaml: adversarial.init must be one of {sorted(INITS)}, got {init!r}")
    ctx = training_context(params, "adversarial", [INITS[init]], enabled=True, init="pretrain_depth",
                           **{"lambda": 1e-4}, lr_d=1e-4, d_steps=1)
    options = ctx["options"]
    disc = get(params, "discriminator", dict)
    parse_sources(get(params, "discriminator.sources"))  # fail early on a bad source list
    if not isinstance(options["enabled"], bool):
        raise ParamsError(f"params.yaml: adversarial.enabled must be true or false, got {options['enabled']!r}")
    if not isinstance(options["d_steps"], int) or options["d_steps"] < 1:
        raise ParamsError(f"params.yaml: adversarial.d_steps must be a positive integer, got {options['d_steps']!r}")
    for key in ("lambda", "lr_d"):
        if not isinstance(options[key], (int, float)) or options[key] < 0:
            raise ParamsError(f"params.yaml: adversarial.{key} must be a non-negative number, got {options[key]!r}")
    fingerprint = run_fingerprint(ctx, {"discriminator": disc if options["enabled"] else None})
    metrics = adversarial(ctx["settings"], ctx["model"], disc, options, ctx["prepared_dir"], ctx["stride"],
                          ctx["seed"], INITS[init], StageOutputs.for_stage("adversarial"), fingerprint, progress,
                          loss=ctx["loss"])
    click.echo(f"adversarial: {metrics}")


if __name__ == "__main__":
    main()
