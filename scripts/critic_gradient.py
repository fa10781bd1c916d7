"""Does a trained critic's gradient move the predicted depths towards the truth?

    python scripts/critic_gradient.py RUN_DIR [RUN_DIR ...] [--out table.csv]

Each RUN_DIR is a finished adversarial run with a discriminator: `models/adversarial.pt` (the
generator and D at the end of training) and the `params.yaml` it ran with (as
`scripts/screen_adversarial.py` writes them). On the validation splits with 3D labels (the
cross-domain split and the wild validation set's evaluation-only 3D, where prepared), the fakes
are built as the run built them (`adversarial.fake_2d`) from the run's final generator (or the
model file `--generator`), and the direction in which L_adv alone moves each pose's predicted
depths is compared with the depth error (`posegan/report/critic_gradient.py`): mean cosine,
share of poses it moves towards the truth, and the |error|-weighted share of joints moved the
right way (0.5 is chance). Only validation splits are read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
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
from posegan.report.critic_gradient import critic_depth_descent, descent_alignment  # noqa: E402
from posegan.train.adversarial import AdversarialSettings  # noqa: E402
from stages.cli import clear_errors  # noqa: E402


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_path", default=None, help="also write the table here (CSV)")
@click.option("--generator", "generator_path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="score this model file's predictions instead of each run's final generator (e.g. the "
                   "pretrained model a D warm-up trained the critic against)")
@clear_errors
def main(run_dirs, out_path, generator_path):
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
            out = critic_depth_descent(generator, discriminator, dataset, keep, d_settings.objective,
                                       settings.fake_2d)
            rows.append({"run": str(run_dir), "generator": "final" if generator_path is None else generator_path,
                         "validation split of": key,
                         **descent_alignment(out["descent"], out["true_depth"] - out["depth"])})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(table.to_string(index=False))
    if out_path:
        with replacing(out_path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
