"""What does the discriminator tell real from fake by, and does following it help? (posegan/report/discriminator_probe.py)

    python scripts/diagnose_discriminator.py models/pretrain_depth.pt
    python scripts/diagnose_discriminator.py models/pretrain_depth.pt --variant geo --pose-scale body \\
        --objective wasserstein --gradient-penalty 10 --follow

Trains a fresh discriminator per variant (a source alone, a paper variant, or a list such as
geo,kcs) against the fixed generator's predictions on the training sets, and prints the share
of each held-out group it calls real: real lab poses, predictions on lab and wild images, and
(where prepared) the TRUE and the predicted poses of the dataset table's validation splits
with 3D labels (the cross-domain validation split and the wild validation set's
evaluation-only 3D file, named by their keys: true_mpi_inf_3dhp, fake_mpii_3d, ...), which D
never sees in training. With
--follow it then moves the predicted poses of those 3D sets along the trained D's gradient
(the depths alone, and the whole pose) and prints MPJPE and limb symmetry before and after.
Only validation splits are read.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.data.dataset import PoseDataset  # noqa: E402
from posegan.data.sets import training_sets, validation_sets  # noqa: E402
from posegan.model_file import load_model  # noqa: E402
from posegan.models.discriminator import POSE_SCALES, DiscriminatorSettings, parse_sources  # noqa: E402
from posegan.report.discriminator_probe import (_group, _split, follow_critic, probe_discriminator,  # noqa: E402
                                                train_probe)
from posegan.subsets import evenly_spaced  # noqa: E402



@click.command()
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--prepared-dir", default="data/prepared", show_default=True, help="data.prepared_dir")
@click.option("--samples", default=512, show_default=True, help="images per set (half train D, half score it)")
@click.option("--steps", default=300, show_default=True, help="discriminator updates per variant")
@click.option("--variant", "variants", multiple=True, default=("image", "geo", "maps", "full"), show_default=True,
              help="sources of one discriminator: image, geo, maps, kcs, a paper variant (map, geo, full) or a "
                   "comma-separated list")
@click.option("--maps-from", type=click.Choice(["heatmaps", "joints"]), default="joints", show_default=True,
              help="discriminator.maps_from")
@click.option("--pose-scale", type=click.Choice(POSE_SCALES), default="heatmap", show_default=True,
              help="discriminator.pose_scale")
@click.option("--heads", type=click.Choice(["joint", "per_source"]), default="joint", show_default=True,
              help="discriminator.heads")
@click.option("--image-samples", type=click.Choice(["all", "lab"]), default="all", show_default=True,
              help="discriminator.image_samples")
@click.option("--objective", type=click.Choice(["bce", "wasserstein"]), default="bce", show_default=True,
              help="discriminator.objective")
@click.option("--gradient-penalty", default=0.0, show_default=True, help="discriminator.gradient_penalty")
@click.option("--follow/--no-follow", default=False, help="also move the predicted 3D poses along D's gradient")
@click.option("--follow-steps", default=40, show_default=True, help="gradient steps on the poses")
@click.option("--step-size", default=0.05, show_default=True, help="heatmap pixels per joint and step")
@click.option("--threads", default=0, help="torch CPU threads (0: torch's default)")
def main(model_file: str, prepared_dir: str, samples: int, steps: int, variants: tuple[str, ...],
         maps_from: str, pose_scale: str, heads: str, image_samples: str, objective: str, gradient_penalty: float,
         follow: bool, follow_steps: int, step_size: float, threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    generator, _ = load_model(model_file)
    training = training_sets()
    lab, wild = (PoseDataset(training[name].path(prepared_dir)) for name in ("lab_train", "wild_train"))
    # The held-out groups: the dataset table's validation splits with 3D labels, where prepared.
    held_out = {key: PoseDataset(entry.path(prepared_dir)) for key, entry in validation_sets().items()
                if entry.has_3d and entry.path(prepared_dir).exists()}
    # A lone "geo" here means the descriptor alone, not the paper's (image, geo) variant.
    sources = [[v] if v in ("image", "geo", "maps", "kcs") else v for v in variants]
    settings = DiscriminatorSettings(pose_scale=pose_scale, heads=heads, image_samples=image_samples,
                                     objective=objective, gradient_penalty=gradient_penalty)
    table = probe_discriminator(generator, lab, wild, samples=samples, steps=steps, variants=sources,
                                maps_from=maps_from, held_out=held_out, settings=settings)
    click.echo(f"{model_file}: discriminators trained {steps} steps on {samples // 2} images per set, scored on "
               f"the rest (maps from {maps_from}, pose scale {pose_scale}, heads {heads}, {objective}, "
               f"penalty {gradient_penalty:g}); share of each held-out group called real:")
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if not follow:
        return
    lab_idx, wild_idx = evenly_spaced(len(lab), samples), evenly_spaced(len(wild), samples)
    train = {"real_lab": _split(_group(lab, lab_idx, None), len(lab_idx) // 2),
             "fake_lab": _split(_group(lab, lab_idx, generator), len(lab_idx) // 2),
             "fake_wild": _split(_group(wild, wild_idx, generator), len(wild_idx) // 2)}
    rows = []
    for variant in sources:
        variant_settings = replace(settings, sources=variant, maps_from=maps_from)
        disc, _ = train_probe(variant_settings, train, lab.image_size, lab.heatmap_size, steps, 16, 1e-4, 0)
        if not any(s in parse_sources(variant) for s in ("geo", "maps", "kcs")):
            continue
        for name, dataset in held_out.items():
            for move in ("depth", "pose"):
                result = follow_critic(disc, generator, dataset, samples=samples // 2, steps=follow_steps,
                                       step_size=step_size, move=move, objective=objective,
                                       image_samples=image_samples)
                rows.append({"sources": "+".join(disc.sources), "set": name, "move": move, **result})
    click.echo(f"following D's gradient for {follow_steps} steps of {step_size} heatmap px per joint (mm):")
    click.echo(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
