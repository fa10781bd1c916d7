"""Where a model's depth error lives on the 3D validation sets (posegan/report/depth_oracles.py).

    python scripts/depth_oracles.py models/adversarial.pt

Predicts the validation splits with 3D labels (the cross-domain split and the wild validation
set's evaluation-only 3D file, where prepared), puts each prediction's depths on the TRUE 2D joints, and prints the MPJPE (mm) of the
predicted depths, of the true bone extents in the predicted directions, of the predicted
extents in the true directions, and of the flat pose, with the share of bones whose direction
in depth is wrong. Only validation splits are read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.data.dataset import PoseDataset  # noqa: E402
from posegan.data.sets import validation_sets  # noqa: E402
from posegan.model_file import load_model  # noqa: E402
from posegan.predict import predict  # noqa: E402
from posegan.report.depth_oracles import depth_oracles  # noqa: E402
from posegan.scoring import select_samples  # noqa: E402
from stages.cli import clear_errors  # noqa: E402


@click.command()
@click.argument("model_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--prepared-dir", default="data/prepared", show_default=True, help="data.prepared_dir")
@clear_errors
def main(model_files, prepared_dir):
    torch.set_num_threads(1)
    # The dataset table's validation splits with 3D labels, where prepared.
    splits = {key: entry.path(prepared_dir) for key, entry in validation_sets().items()
              if entry.has_3d and entry.path(prepared_dir).exists()}
    if not splits:
        raise click.UsageError(f"{prepared_dir}: no prepared validation split with 3D labels "
                               "(run the preprocess stage)")
    rows = []
    for model_file in model_files:
        generator, _ = load_model(model_file, "cpu")
        for key, path in splits.items():
            dataset = PoseDataset(path)
            pred = predict(generator, dataset)
            keep = dataset.labels["has_3d"].nonzero()[0]
            labels = select_samples(dataset.labels, keep)
            rows.append({"model": model_file, "validation split of": key, "samples": len(keep),
                         **depth_oracles(pred["depth"][keep], labels, dataset.stride)})
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 1):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
