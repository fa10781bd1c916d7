"""Does the critic's gradient move the predicted depths towards the truth?

Following a critic is a gradient step: on held-out samples with 3D labels, the direction in
which L_adv alone moves a pose's predicted depths is minus its gradient with respect to them.
If that direction carried information about the true depths it would point, on average, along
the depth error (truth minus prediction); a critic that only knows what plausible poses look
like need not: a bone of the right length can point towards the camera or away.

- `descent_alignment`: how well one set of descent directions agrees with the errors (of the
  depths, or of the 2D coordinates).
- `critic_depth_descent`: those directions for a generator and a trained discriminator on a
  dataset, with the fakes built as the adversarial stage builds them.
- `critic_2d_descent`: the same for the 2D joints: where L_adv alone moves each predicted joint
  in the image (through the heatmaps and the soft-argmax D reads them with), with D shown the
  predicted depths or the true ones, so that one sees whether the critic's 2D pull points to
  the labelled 2D when the depths are right and away from it when they are not.

`scripts/critic_gradient.py` runs them on the validation splits with 3D labels for finished
adversarial runs (docs/adversarial.md, rounds 6 and 8).
"""

from __future__ import annotations

import numpy as np
import torch

from posegan.data.dataset import PoseDataset
from posegan.heatmaps import soft_argmax
from posegan.losses import Reduction, adversarial_loss
from posegan.models import Generator, MultiSourceDiscriminator, normalize_images
from posegan.train.adversarial import fake_heatmaps_2d


def descent_alignment(descent: np.ndarray, error: np.ndarray) -> dict[str, float]:
    """Agreement of descent directions with errors, per sample and per coordinate.

    descent: (N, P) the direction L_adv moves each sample's P coordinates (its depths, or its
    flattened 2D joints; minus the gradient; any unit). error: (N, P) true minus predicted
    coordinate (heatmap pixels; 0 where there is no label). Samples whose descent or error is
    all zero are left out (their direction is undefined).

    Returns, over the samples left in:
    - samples: how many;
    - cosine: mean cosine between descent and error (1: straight towards the truth, 0: no
      relation, -1: away from it);
    - towards_truth: share of samples whose cosine is positive (a small step lowers their
      squared depth error);
    - joint_agreement: share of the joints, weighted by |error|, whose depth the descent
      moves in the error's direction (0.5: chance).
    """
    descent, error = np.asarray(descent, np.float64), np.asarray(error, np.float64)
    if descent.shape != error.shape or descent.ndim != 2:
        raise ValueError(f"descent and error must both be (N, P), got {descent.shape} and {error.shape}")
    d_norm, e_norm = np.linalg.norm(descent, axis=1), np.linalg.norm(error, axis=1)
    keep = (d_norm > 0) & (e_norm > 0)
    if not keep.any():
        return {"samples": 0, "cosine": float("nan"), "towards_truth": float("nan"),
                "joint_agreement": float("nan")}
    descent, error = descent[keep], error[keep]
    cosine = (descent * error).sum(axis=1) / (d_norm[keep] * e_norm[keep])
    weight = np.abs(error)
    agree = (np.sign(descent) == np.sign(error)) & (descent != 0)
    return {"samples": int(keep.sum()), "cosine": float(cosine.mean()),
            "towards_truth": float((cosine > 0).mean()),
            "joint_agreement": float((weight * agree).sum() / weight.sum())}


def _predictions(generator: Generator, discriminator: MultiSourceDiscriminator, dataset: PoseDataset,
                 indices: np.ndarray, batch_size: int):
    """Both networks in eval mode; for each minibatch of `indices` (in order, no augmentation):
    the batch, its normalised images and the generator's predictions (computed without grad)."""
    generator.eval()
    discriminator.eval()
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, np.asarray(indices).tolist()),
                                         batch_size=batch_size, shuffle=False)
    for batch in loader:
        images = normalize_images(batch["image"])
        with torch.no_grad():
            predicted = generator(images)
        yield batch, images, predicted


def critic_depth_descent(generator: Generator, discriminator: MultiSourceDiscriminator, dataset: PoseDataset,
                         indices: np.ndarray, objective: str, fake_2d: str = "predicted",
                         batch_size: int = 32) -> dict[str, np.ndarray]:
    """The generator's predicted depths on `indices` of `dataset` and the direction L_adv moves them.

    Both networks run in eval mode (no augmentation). Each fake is what the adversarial stage
    shows D (`fake_heatmaps_2d`): the image, the last stack's heatmaps ("predicted") or the
    sample's ground-truth heatmaps where annotated ("truth"), and the predicted depths. L_adv (Eq. 4, `objective`
    "bce" or "wasserstein") is summed over the samples and D's heads, so each sample's
    gradient is its own.

    Returns float32 arrays: depth (n, P) predicted, heatmap pixels; true_depth (n, P);
    descent (n, P) minus dL_adv/d depth.
    """
    out = {"depth": [], "true_depth": [], "descent": []}
    for batch, images, predicted in _predictions(generator, discriminator, dataset, indices, batch_size):
        heatmaps = fake_heatmaps_2d(predicted.heatmaps[-1].float(), batch, fake_2d)
        depth = predicted.depth.float().detach().requires_grad_(True)
        loss = adversarial_loss(discriminator(images, heatmaps, depth), Reduction.SUM, objective)
        (gradient,) = torch.autograd.grad(loss, depth)
        out["depth"].append(depth.detach().numpy())
        out["true_depth"].append(batch["depth"].numpy())
        out["descent"].append(-gradient.numpy())
    return {key: np.concatenate(values).astype(np.float32) for key, values in out.items()}


def critic_2d_descent(generator: Generator, discriminator: MultiSourceDiscriminator, dataset: PoseDataset,
                      indices: np.ndarray, objective: str, depths: str = "predicted",
                      batch_size: int = 32) -> dict[str, np.ndarray]:
    """The generator's 2D joints on `indices` of `dataset` and the direction L_adv moves them.

    Both networks run in eval mode. D is shown the image, the last stack's predicted heatmaps
    and the predicted depths ("predicted", as in training) or the sample's true depths
    ("truth"). The heatmaps' descent direction (minus dL_adv/d heatmaps, L_adv summed over the
    samples and D's heads) is carried to the joints through the soft-argmax D reads them with:
    the first-order change of each joint's (x, y) when the heatmaps take a unit step along it.

    Returns float32 arrays: xy (n, P, 2) the soft-argmax joints, heatmap pixels; true_xy
    (n, P, 2); descent (n, P, 2); and annotated (n, P) bool (where true_xy is a label).
    """
    if depths not in ("predicted", "truth"):
        raise ValueError(f"depths must be 'predicted' or 'truth', got {depths!r}")
    window = discriminator.soft_argmax_window
    out = {"xy": [], "true_xy": [], "descent": [], "annotated": []}
    for batch, images, predicted in _predictions(generator, discriminator, dataset, indices, batch_size):
        heatmaps = predicted.heatmaps[-1].float().detach().requires_grad_(True)
        depth = predicted.depth.float() if depths == "predicted" else batch["depth"].float()
        loss = adversarial_loss(discriminator(images, heatmaps, depth), Reduction.SUM, objective)
        (gradient,) = torch.autograd.grad(loss, heatmaps)
        xy, descent = torch.func.jvp(lambda maps: soft_argmax(maps, window), (heatmaps.detach(),), (-gradient,))
        out["xy"].append(xy.numpy())
        out["true_xy"].append(batch["joints_2d"].numpy())
        out["descent"].append(descent.numpy())
        out["annotated"].append(batch["annotated"].numpy().astype(bool))
    return {key: np.concatenate(values).astype(bool if key == "annotated" else np.float32)
            for key, values in out.items()}
