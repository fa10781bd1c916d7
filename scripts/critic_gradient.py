"""Does a trained critic's gradient move the predicted depths (or 2D joints) towards the truth?

    python scripts/critic_gradient.py RUN_DIR [RUN_DIR ...] [--joints depth|2d] [--out table.csv]

Each RUN_DIR is a finished adversarial run with a discriminator: `models/adversarial.pt` (the
generator and D at the end of training) and the `params.yaml` it ran with (as
`scripts/screen_adversarial.py` writes them). On the validation splits with 3D labels (the
cross-domain split and the wild validation set's evaluation-only 3D, where prepared), the fakes
are built as the run built them (`adversarial.fake_2d`) from the run's final generator (or the
model file `--generator`), and the direction in which L_adv alone moves each pose's predicted
depths is compared with the depth error (`posegan/report/critic_gradient.py`): mean cosine,
share of poses it moves towards the truth, and the |error|-weighted share of joints moved the
right way (0.5 is chance). Only validation splits are read.

With `--joints 2d` the same is measured for the 2D joints (labelled joints only): the direction
in which L_adv moves each predicted joint in the image against its 2D error, once with D shown
the predicted depths (as in training) and once with the true depths, in two rows per split: if
the critic's 2D pull points to the labelled 2D only when the depths are right, following it on
images whose depths are wrong moves the 2D joints to make up for the depths (round 8).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.atomic_files import replacing  # noqa: E402
from posegan.config import ParamsFile  # noqa: E402
from posegan.data.dataset import PoseDataset, PreparedData  # noqa: E402
from posegan.data.sets import validation_sets  # noqa: E402
from posegan.model_file import load_model, read_model_file  # noqa: E402
from posegan.models import MultiSourceDiscriminator  # noqa: E402
from posegan.models.discriminator import DiscriminatorSettings  # noqa: E402
from posegan.report.critic_gradient import critic_2d_descent, critic_depth_descent, descent_alignment  # noqa: E402
from posegan.train.adversarial import AdversarialSettings  # noqa: E402
from stages.cli import clear_errors  # noqa: E402


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_path", default=None, help="also write the table here (CSV)")
@click.option("--generator", "generator_path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="score this model file's predictions instead of each run's final generator (e.g. the "
                   "pretrained model a D warm-up trained the critic against)")
@click.option("--joints", type=click.Choice(["depth", "2d"]), default="depth", show_default=True,
              help="what the critic's descent is compared with: the depth errors, or the 2D errors (with D "
                   "shown the predicted and the true depths)")
@clear_errors
def main(run_dirs, out_path, generator_path, joints):
    torch.set_num_threads(1)
    rows = []
    for run_dir in map(Path, run_dirs):
        params = ParamsFile.read(run_dir / "params.yaml")
        settings = params.section("adversarial", AdversarialSettings)
        d_settings = params.section("discriminator", DiscriminatorSettings)
        prepared_dir = params.section("data", PreparedData).prepared_dir
        model_path = run_dir / "models" / "adversarial.pt"
        payload = read_model_file(model_path)
        if "discriminator" not in payload:
            raise click.UsageError(f"{model_path}: no discriminator in this model file (a Baseline run?)")
        generator, _ = load_model(generator_path or model_path, "cpu")
        splits = {key: entry.path(prepared_dir) for key, entry in validation_sets().items()
                  if entry.has_3d and entry.path(prepared_dir).exists()}
        for key, path in splits.items():
            dataset = PoseDataset(path)
            num_joints = dataset.labels["joints_2d"].shape[1]
            discriminator = MultiSourceDiscriminator.build(d_settings, num_joints, dataset.image_size,
                                                           dataset.heatmap_size)
            discriminator.load_state_dict(payload["discriminator"])
            keep = dataset.labels["has_3d"].nonzero()[0]
            row = {"run": str(run_dir), "generator": "final" if generator_path is None else generator_path,
                   "validation split of": key}
            if joints == "depth":
                out = critic_depth_descent(generator, discriminator, dataset, keep, d_settings.objective,
                                           settings.fake_2d)
                rows.append({**row, **descent_alignment(out["descent"], out["true_depth"] - out["depth"])})
                continue
            for depths in ("predicted", "truth"):
                out = critic_2d_descent(generator, discriminator, dataset, keep, d_settings.objective, depths)
                labelled = out["annotated"][..., None]
                descent = np.where(labelled, out["descent"], 0.0).reshape(len(keep), -1)
                error = np.where(labelled, out["true_xy"] - out["xy"], 0.0).reshape(len(keep), -1)
                rows.append({**row, "D sees depths": depths, **descent_alignment(descent, error)})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(table.to_string(index=False))
    if out_path:
        with replacing(out_path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
