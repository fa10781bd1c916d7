"""Validation curves during training: fixed, evenly spaced subsets of the validation sets,
scored with the same functions as the evaluate stage. No weights are selected with them."""

from __future__ import annotations

import torch

from posegan.data.dataset import PoseDataset
from posegan.metrics import mpjpe
from posegan.models import Generator
from posegan.predict import predict
from posegan.scoring import score_wild, select_samples
from posegan.subsets import evenly_spaced


def make_validator(generator: Generator, data: dict[str, PoseDataset], count: int, device: torch.device,
                   amp: bool, with_3d: bool = True):
    """A function that scores the generator on fixed subsets of the validation sets.

    Returns {"mpjpe_lab": mm (Protocol #1, lab test subjects; only if with_3d),
    "pckh_wild": PCKh@0.5 mean, percent (wild validation set, compared in original-image
    pixels as in Table 3)}. The curves are for watching
    training; no weights are selected with them (each stage keeps its last iteration).
    """
    lab_idx = evenly_spaced(len(data["lab_val"]), count)
    wild_idx = evenly_spaced(len(data["wild_val"]), count)

    def validate() -> dict[str, float]:
        results = {}
        if with_3d:
            pred = predict(generator, data["lab_val"], lab_idx, device=device, amp=amp)
            results["mpjpe_lab"] = mpjpe(pred["joints_3d"], data["lab_val"].labels["joints_3d"][lab_idx])
        pred = predict(generator, data["wild_val"], wild_idx, device=device, amp=amp)
        labels = select_samples(data["wild_val"].labels, wild_idx)
        results["pckh_wild"] = score_wild(pred["joints_2d"], labels, data["wild_val"].image_size)["pckh"]["mean"]
        return results

    return validate
