"""Does a trained 2D module tell left limbs from right ones? (see posegan/left_right.py)

    python scripts/diagnose_left_right.py models/adversarial.pt data/prepared/h36m_test.h5
    python scripts/diagnose_left_right.py models/pretrain_2d.pt data/prepared/h36m_train.h5 --samples 1000

Prints one row per left/right pair: the median correlation of the two heatmap channels
(1: identical maps), the share of samples where the prediction puts the pair in the true
x order (0.5: chance), overall and for people seen from the front and from the back, and
the share where the two predictions coincide. Evenly spaced samples; no augmentation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.data.dataset import PoseDataset  # noqa: E402
from posegan.model_file import load_model  # noqa: E402
from posegan.left_right import left_right_report  # noqa: E402
from posegan.subsets import evenly_spaced  # noqa: E402


@click.command()
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("prepared_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--samples", default=600, show_default=True, help="evenly spaced samples of the file")
def main(model_file: str, prepared_file: str, samples: int) -> None:
    generator, _ = load_model(model_file)
    dataset = PoseDataset(prepared_file)
    indices = evenly_spaced(len(dataset), samples)
    table = left_right_report(generator, dataset, indices)
    click.echo(f"{model_file} on {prepared_file}, {len(indices)} samples")
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
