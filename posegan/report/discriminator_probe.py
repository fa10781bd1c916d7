"""What does the discriminator tell real from fake by, and does following it make poses better?

A discriminator that separates real from generated poses by something the generator cannot
change (the image domain: wild images only ever appear with generated poses) or by
something that carries no pose information (real heatmaps are clean Gaussians, predicted
ones are not) teaches the generator nothing about plausible poses. This probe trains a
fresh discriminator for each variant against one fixed generator's predictions, as the
adversarial stage trains it (real lab poses against predictions on lab and wild images), and
scores it on held-out samples by group (`probe_discriminator`):

- real lab: ground-truth poses of lab images (labelled real in training);
- fake lab / fake wild: the generator's predictions on lab / wild images (labelled fake);
- true cross / fake cross (optional): the ground truth and the predictions of a cross-domain
  3D set that D never sees in training (wild poses, wild cameras);
- true wild 3D / fake wild 3D (optional): the same for the wild validation set's
  evaluation-only 3D file.

A branch that reaches high accuracy on "fake wild" but not on "fake lab" separates by domain;
one that calls the true cross-domain poses real and their predictions fake has learnt what a
plausible pose is rather than what a lab pose is.

`follow_critic` then asks the question that matters for the generator: starting from the
generator's predictions on a 3D set, take gradient steps on the poses themselves (the depths
alone, or the 2D joints too) that lower the generator's adversarial loss under the trained,
frozen D, and measure whether MPJPE and limb symmetry against the truth improve. A critic
whose input gradient points towards plausible poses improves them; one that separates the
sets by other features does not. The generator is not trained here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from posegan.camera import pose_from_prediction
from posegan.data.dataset import PoseDataset
from posegan.heatmaps import heatmap_to_crop, soft_argmax
from posegan.losses import adversarial_loss, discriminator_loss, interpolation_penalty, r1_penalty
from posegan.metrics import joint_errors
from posegan.models import Generator, MultiSourceDiscriminator, normalize_images
from posegan.models.discriminator import DiscriminatorSettings, gaussian_maps
from posegan.plausibility import limb_symmetry
from posegan.predict import predict
from posegan.subsets import evenly_spaced

FIELDS = ("image", "heatmaps", "depth")


def _stack(dataset: PoseDataset, indices: np.ndarray) -> dict[str, torch.Tensor]:
    items = [dataset[int(i)] for i in indices]
    return {key: torch.stack([item[key] for item in items]) for key in FIELDS}


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


def _split(group: dict[str, torch.Tensor], stop: int | None, start: int = 0) -> dict[str, torch.Tensor]:
    return {f: v[start:stop] for f, v in group.items()}


@dataclass
class ProbedDiscriminator:
    """One trained probe discriminator and the held-out groups it was scored on."""

    discriminator: MultiSourceDiscriminator
    row: dict


def train_probe(settings: DiscriminatorSettings, train: Mapping[str, dict[str, torch.Tensor]], image_size: int,
                heatmap_size: int, steps: int, batch_size: int, lr: float, seed: int) -> tuple[
                    MultiSourceDiscriminator, float]:
    """A discriminator trained `steps` updates on real lab poses against half-lab, half-wild fakes,
    with the objective and gradient penalty of `settings`, as the adversarial stage trains it."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    disc = MultiSourceDiscriminator.build(settings, 16, image_size, heatmap_size)
    optimizer = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    head_lab = torch.ones(batch_size, dtype=torch.bool)
    fake_is_lab = torch.arange(batch_size) < batch_size // 2

    def draw(group, n):
        pick = torch.from_numpy(rng.integers(0, len(train[group]["image"]), n))
        return [train[group][f][pick] for f in FIELDS]

    loss = torch.zeros(())
    for _ in range(steps):
        real = disc.encode(*draw("real_lab", batch_size))
        fake = disc.encode(*[torch.cat(pair) for pair in zip(draw("fake_lab", batch_size // 2),
                                                             draw("fake_wild", batch_size - batch_size // 2))])
        real_mask = disc.head_mask(head_lab, settings.image_samples)
        fake_mask = disc.head_mask(fake_is_lab, settings.image_samples)
        loss = discriminator_loss(disc.score(real), disc.score(fake), objective=settings.objective,
                                  real_mask=real_mask, fake_mask=fake_mask)
        if settings.gradient_penalty > 0:
            if settings.objective == "bce":
                loss = loss + settings.gradient_penalty * r1_penalty(disc.score, real, real_mask)
            else:
                loss = loss + settings.gradient_penalty * interpolation_penalty(disc.score, real, fake, fake_mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return disc.eval(), float(loss.detach())


@torch.no_grad()
def called_real(disc: MultiSourceDiscriminator, group: dict[str, torch.Tensor], image_samples: str,
                is_lab: bool) -> float:
    """Share of a group D calls real (every head it applies to says real: logit > 0; a
    Wasserstein critic: a score above the midpoint between its mean real and fake scores is
    not defined per sample, so its logit's sign is used as for BCE)."""
    logits = torch.cat([disc(*(group[f][i:i + 64] for f in FIELDS)) for i in range(0, len(group["image"]), 64)])
    mask = disc.head_mask(torch.full((len(logits),), is_lab), image_samples)
    votes = torch.where(mask, logits > 0, torch.ones_like(mask))
    return float(votes.all(dim=1).float().mean())


def probe_discriminator(generator: Generator, lab: PoseDataset, wild: PoseDataset, samples: int = 512,
                        steps: int = 300, batch_size: int = 16,
                        variants: Sequence[str | Sequence[str]] = ("image", "geo", "maps", "full"),
                        width: int = 16, embed_dim: int = 128, hidden_dim: int = 256, lr: float = 1e-4,
                        seed: int = 0, maps_from: str = "heatmaps",
                        held_out: Mapping[str, PoseDataset] | None = None,
                        settings: DiscriminatorSettings | None = None) -> pd.DataFrame:
    """Train one discriminator per entry of `variants` and score it on held-out samples.

    samples: images of each set used (evenly spaced; the first half trains D, the second half
    scores it). Each step shows D `batch_size` real lab samples against as many fakes, half
    lab and half wild (as the adversarial stage does). held_out: name -> a 3D set D never
    trains on (e.g. {"cross": the cross-domain validation set}), scored as "true <name>" (its
    ground truth) and "fake <name>" (the generator's predictions), up to `samples` // 2 each.
    settings: the discriminator's other options (pose scale, heads, objective, penalty);
    width / embed_dim / hidden_dim / maps_from override them. Returns one row per variant:
    sources and the share of each group D calls real (real_lab, fake_lab, fake_wild, then
    true_<name>, fake_<name>), and final_loss.
    """
    base = settings or DiscriminatorSettings()
    base = replace(base, width=width, embed_dim=embed_dim, hidden_dim=hidden_dim, maps_from=maps_from)
    lab_idx, wild_idx = evenly_spaced(len(lab), samples), evenly_spaced(len(wild), samples)
    half_lab, half_wild = len(lab_idx) // 2, len(wild_idx) // 2
    groups = {"real_lab": _group(lab, lab_idx, None), "fake_lab": _group(lab, lab_idx, generator),
              "fake_wild": _group(wild, wild_idx, generator)}
    train = {k: _split(g, half_wild if k == "fake_wild" else half_lab) for k, g in groups.items()}
    test = {k: _split(g, None, half_wild if k == "fake_wild" else half_lab) for k, g in groups.items()}
    for name, dataset in (held_out or {}).items():
        index = evenly_spaced(len(dataset), max(samples // 2, 1))
        test[f"true_{name}"] = _group(dataset, index, None)
        test[f"fake_{name}"] = _group(dataset, index, generator)

    rows = []
    for variant in variants:
        variant_settings = replace(base, sources=variant)
        disc, final_loss = train_probe(variant_settings, train, lab.image_size, lab.heatmap_size, steps, batch_size,
                                       lr, seed)
        row = {"sources": "+".join(disc.sources), "final_loss": final_loss}
        for name, group in test.items():
            row[name] = called_real(
                disc, group, variant_settings.image_samples, is_lab=name.endswith("_lab"))
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- following the critic

def follow_critic(disc: MultiSourceDiscriminator, generator: Generator, dataset: PoseDataset, samples: int = 256,
                  steps: int = 50, step_size: float = 0.05, move: str = "depth", objective: str = "bce",
                  image_samples: str = "all", is_lab: bool = False) -> dict[str, float]:
    """Move the generator's poses on `dataset` (a 3D set) along the frozen D's gradient and score them.

    The poses are (x, y, depth) in heatmap pixels: the soft-argmax of the predicted heatmaps and
    the predicted depths. Each of `steps` steps lowers the generator's adversarial loss (Eq. 4,
    or -score for a Wasserstein critic) by normalised gradient descent: every pose moves by
    `step_size` heatmap pixels x sqrt(number of joints) in the direction of steepest descent
    (so the distance moved does not depend on the critic's gradient scale). move: "depth" (the
    2D joints stay: what the wild images' 2D labels would hold) or "pose" (both).
    The 2D joints reach D as Gaussian heatmaps drawn at their positions (the maps' soft-argmax
    returns them to within 0.004 px). Returns MPJPE and limb symmetry error (mm) before and
    after, and the adversarial loss before and after.
    """
    index = evenly_spaced(len(dataset), samples)
    data = _group(dataset, index, None)
    pred = predict(generator, dataset, index, with_heatmaps=True)

    xy0 = soft_argmax(torch.from_numpy(pred["heatmaps"]))
    depth0 = torch.from_numpy(pred["depth"]).float()
    labels = dataset.labels
    gt = labels["joints_3d"][index]

    def in_mm(xy: torch.Tensor, depth: torch.Tensor) -> np.ndarray:
        crop = heatmap_to_crop(xy.detach().numpy(), dataset.stride)
        return pose_from_prediction(crop, depth.detach().numpy(), labels["root_depth"][index],
                                    labels["camera"][index], dataset.stride)

    def scores(xy, depth) -> dict[str, float]:
        pose = in_mm(xy, depth)
        return {"mpjpe": float(joint_errors(pose, gt).mean()), "symmetry": float(limb_symmetry(pose)[0].mean())}

    xy, depth = xy0.clone().requires_grad_(move == "pose"), depth0.clone().requires_grad_(True)
    mask = disc.head_mask(torch.full((len(index),), is_lab), image_samples)
    disc.requires_grad_(False)

    def loss_of(xy, depth):
        maps = gaussian_maps(xy, dataset.heatmap_size)
        return adversarial_loss(disc(data["image"], maps, depth), objective=objective, mask=mask)

    before = {**scores(xy0, depth0), "adv_loss": float(loss_of(xy0, depth0))}
    variables = [depth] + ([xy] if move == "pose" else [])
    per_pose = step_size * np.sqrt(dataset.labels["joints_2d"].shape[1])
    for _ in range(steps):
        loss = loss_of(xy, depth) * len(index)           # per-pose gradients, not divided by the batch
        grads = torch.autograd.grad(loss, variables)
        norm = torch.sqrt(sum(g.flatten(1).square().sum(1) for g in grads)).clamp_min(1e-12)   # (N,)
        with torch.no_grad():
            for v, g in zip(variables, grads):
                v -= per_pose * g / norm.view(-1, *[1] * (g.ndim - 1))
    with torch.no_grad():
        after = {**scores(xy, depth), "adv_loss": float(loss_of(xy.detach(), depth.detach()))}
    disc.requires_grad_(True)
    return {**{f"{k}_before": v for k, v in before.items()}, **{f"{k}_after": v for k, v in after.items()}}
