"""What does the discriminator tell real from fake by?

A discriminator that separates real from generated poses by something the generator cannot
change (the image domain: wild images only ever appear with generated poses) or by
something that carries no pose information (real heatmaps are clean Gaussians, predicted
ones are not) teaches the generator nothing about plausible poses. This probe trains a
fresh discriminator with each source alone, and with all three, against one fixed
generator's predictions, and scores it on held-out samples by group:

- real lab: ground-truth heatmaps and depths of lab images (labelled real);
- fake lab: the generator's predictions on lab images (labelled fake);
- fake wild: its predictions on wild images (labelled fake).

A branch that reaches high accuracy on "fake wild" but not on "fake lab" separates by domain;
high accuracy on both while the generator's poses are close to the truth points at the map
appearance. The generator is not trained here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from posegan.data.dataset import PoseDataset
from posegan.losses import discriminator_loss
from posegan.models import Generator, MultiSourceDiscriminator, normalize_images
from posegan.predict import predict
from posegan.subsets import evenly_spaced


def _stack(dataset: PoseDataset, indices: np.ndarray) -> dict[str, torch.Tensor]:
    items = [dataset[int(i)] for i in indices]
    return {key: torch.stack([item[key] for item in items]) for key in ("image", "heatmaps", "depth")}


def _group(dataset: PoseDataset, indices: np.ndarray, generator: Generator | None) -> dict[str, torch.Tensor]:
    """Images with ground-truth pose inputs (generator None) or with the generator's predictions."""
    data = _stack(dataset, indices)
    if generator is not None:
        pred = predict(generator, dataset, indices, with_heatmaps=True)
        data["heatmaps"] = torch.from_numpy(pred["heatmaps"])
        data["depth"] = torch.from_numpy(pred["depth"])
    data["image"] = normalize_images(data["image"])
    data["depth"] = torch.nan_to_num(data["depth"].float())
    return data


def probe_discriminator(generator: Generator, lab: PoseDataset, wild: PoseDataset, samples: int = 512,
                        steps: int = 300, batch_size: int = 16,
                        variants: Sequence[str | Sequence[str]] = ("image", "geo", "maps", "full"),
                        width: int = 16, embed_dim: int = 128, hidden_dim: int = 256, lr: float = 1e-4,
                        seed: int = 0, maps_from: str = "heatmaps") -> pd.DataFrame:
    """Train one discriminator per entry of `variants` and score it on held-out samples.

    samples: images of each set used (evenly spaced; the first half trains D, the second half
    scores it). Each step shows D `batch_size` real lab samples against as many fakes, half
    lab and half wild (as the adversarial stage does). Returns one row per variant: sources,
    acc_real_lab, acc_fake_lab, acc_fake_wild (shares of the held-out samples D classifies
    right) and final_loss. maps_from: how the maps source is encoded (see
    `posegan.models.MultiSourceDiscriminator`).
    """
    lab_idx, wild_idx = evenly_spaced(len(lab), samples), evenly_spaced(len(wild), samples)
    half_lab, half_wild = len(lab_idx) // 2, len(wild_idx) // 2
    groups = {"real_lab": _group(lab, lab_idx, None), "fake_lab": _group(lab, lab_idx, generator),
              "fake_wild": _group(wild, wild_idx, generator)}
    train = {k: {f: v[: (half_wild if k == "fake_wild" else half_lab)] for f, v in g.items()} for k, g in groups.items()}
    test = {k: {f: v[(half_wild if k == "fake_wild" else half_lab):] for f, v in g.items()} for k, g in groups.items()}

    rows = []
    for variant in variants:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        disc = MultiSourceDiscriminator(variant, lab.labels["joints_2d"].shape[1], lab.image_size, lab.heatmap_size,
                                        width=width, embed_dim=embed_dim, hidden_dim=hidden_dim, maps_from=maps_from)
        optimizer = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))

        def draw(group, n):
            pick = torch.from_numpy(rng.integers(0, len(train[group]["image"]), n))
            return [train[group][f][pick] for f in ("image", "heatmaps", "depth")]

        for _ in range(steps):
            real = draw("real_lab", batch_size)
            fake = [torch.cat(pair) for pair in zip(draw("fake_lab", batch_size // 2),
                                                    draw("fake_wild", batch_size - batch_size // 2))]
            loss = discriminator_loss(disc(*real), disc(*fake))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        row = {"sources": "+".join(disc.sources), "final_loss": float(loss.detach())}
        with torch.no_grad():
            for name, group in test.items():
                logits = torch.cat([disc(*(group[f][i:i + 64] for f in ("image", "heatmaps", "depth")))
                                    for i in range(0, len(group["image"]), 64)])
                correct = logits > 0 if name.startswith("real") else logits < 0
                row[f"acc_{name}"] = float(correct.float().mean())
        rows.append(row)
    return pd.DataFrame(rows)
