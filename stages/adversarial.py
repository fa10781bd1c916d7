"""Stage adversarial: alternate discriminator and generator updates (Eq. 3 and Eq. 5).

    python -m stages.adversarial [--params params.yaml]

Starts from models/pretrain_depth.pt (or, with adversarial.init: pretrain_2d, from the 2D
module alone: Table 2's "w/o pretrain"); adversarial.enabled: false is the Baseline.
Writes models/adversarial.pt, metrics/adversarial.json, dvclive/adversarial/ and checkpoints
in checkpoints/adversarial/.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from posegan.config import ParamsFile
from posegan.models.discriminator import DiscriminatorSettings
from posegan.train.adversarial import adversarial
from posegan.train.adversarial import AdversarialSettings
from stages.cli import clear_errors, params_option, progress_option
from stages.training_run import training_run

INITS = {"pretrain_depth": Path("models/pretrain_depth.pt"), "pretrain_2d": Path("models/pretrain_2d.pt")}


@click.command()
@params_option
@progress_option
@clear_errors
def main(params_path: str, progress: bool) -> None:
    params = ParamsFile.read(params_path)
    settings = params.section("adversarial", AdversarialSettings)
    discriminator = params.section("discriminator", DiscriminatorSettings)
    init = INITS[settings.init]
    run = training_run(params, "adversarial", settings, [init], progress,
                       {"discriminator": asdict(discriminator) if settings.enabled else None})
    metrics = adversarial(settings, discriminator, run, init)
    click.echo(f"adversarial: {metrics}")


if __name__ == "__main__":
    main()
