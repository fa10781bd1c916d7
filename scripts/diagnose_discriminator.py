"""What does the discriminator tell real from fake by? (see posegan/report/discriminator_probe.py)

    python scripts/diagnose_discriminator.py models/pretrain_depth.pt
    python scripts/diagnose_discriminator.py models/adversarial.pt --steps 500 --variant image --variant maps

Trains a fresh discriminator per source (and all three) against the fixed generator's
predictions on the training sets, and prints its held-out accuracy on real lab poses, on
generated lab poses and on generated wild poses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.data.dataset import PoseDataset  # noqa: E402
from posegan.data.schema import prepared_path  # noqa: E402
from posegan.model_file import load_model  # noqa: E402
from posegan.report.discriminator_probe import probe_discriminator  # noqa: E402


@click.command()
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--prepared-dir", default="data/prepared", show_default=True, help="data.prepared_dir")
@click.option("--stride", default=4, show_default=True, help="data.heatmap_stride the model was trained with")
@click.option("--samples", default=512, show_default=True, help="images per set (half train D, half score it)")
@click.option("--steps", default=300, show_default=True, help="discriminator updates per variant")
@click.option("--variant", "variants", multiple=True, default=("image", "geo", "maps", "full"), show_default=True,
              help="sources of one discriminator: image, geo, maps, or a paper variant (map, geo, full)")
@click.option("--maps-from", type=click.Choice(["heatmaps", "joints"]), default="heatmaps", show_default=True,
              help="discriminator.maps_from: the maps source as the heatmaps, or as Gaussians at the joints")
@click.option("--threads", default=0, help="torch CPU threads (0: torch's default)")
def main(model_file: str, prepared_dir: str, stride: int, samples: int, steps: int, variants: tuple[str, ...],
         maps_from: str, threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    generator, _ = load_model(model_file)
    lab = PoseDataset(prepared_path(prepared_dir, "h36m", "train"), stride)
    wild = PoseDataset(prepared_path(prepared_dir, "mpii", "train"), stride)
    # A lone "geo" here means the descriptor alone, not the paper's (image, geo) variant.
    sources = [[v] if v in ("image", "geo", "maps") else v for v in variants]
    table = probe_discriminator(generator, lab, wild, samples=samples, steps=steps, variants=sources,
                                maps_from=maps_from)
    click.echo(f"{model_file}: discriminators trained {steps} steps on {samples // 2} images per set, "
               f"scored on the other {samples - samples // 2} (maps from {maps_from})")
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
