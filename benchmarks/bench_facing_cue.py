"""How strong is the front/back cue? A small CNN learns to tell front from back views.

    python benchmarks/bench_facing_cue.py                     # cues on and off, 1500 / 500 images
    python benchmarks/bench_facing_cue.py --cues on --steps 100,200,400 --output facing_cue.json

Lab-style images (the Human3.6M stand-in: four cameras around the subject, the studio
background) are rendered by the project's generator for `--train-subjects` subjects and
separate `--test-subjects` subjects (new bodies and clothes), once with the appearance's
front cues on and once off (`Appearance.front_cues=False` reproduces the earlier renderer's
look exactly). The label is whether the chest faces the camera
(`posegan.report.facing.chest_faces_camera`, from the 3D joints). A 5-layer CNN (Adam, fixed
seed, 2 threads, no augmentation) is trained for the largest of `--steps` and its test
accuracy printed at each of them. Chance is about 50 %: the lab is balanced. About 1 to 2
minutes of CPU per setting at the defaults.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import click
import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.data.synthetic import benchmark as synthetic  # noqa: E402
from posegan.data.synthetic.benchmark import SplitSpec, generate_samples  # noqa: E402
from posegan.data.synthetic.motions import LAB_ACTIONS  # noqa: E402
from posegan.data.synthetic.scenes import LAB_CAMERA_NAMES  # noqa: E402
from posegan.report.facing import chest_faces_camera  # noqa: E402


def lab_images(subjects: list[int], per_subject: int, image_size: int, seed: int, cues: bool):
    """(images (N, S, S, 3) uint8, labels (N,) int64: 1 = faces the camera) of lab subjects."""
    spec = SplitSpec("h36m", "train", "lab", per_subject * len(subjects), [f"S{n}" for n in subjects], subjects,
                     LAB_ACTIONS, LAB_CAMERA_NAMES, per_subject)
    original = synthetic._subject
    synthetic._subject.cache_clear()

    def subject(domain, number, seed_):
        body, look = original(domain, number, seed_)
        return body, dataclasses.replace(look, front_cues=cues)

    synthetic._subject = subject
    try:
        s = generate_samples(spec, 0, spec.num_samples, image_size, seed)
    finally:
        synthetic._subject = original
    return s["images"], chest_faces_camera(s["joints_3d"]).astype(np.int64)


def small_cnn() -> nn.Module:
    layers, channels = [], 3
    for width in (16, 32, 64, 64, 128):
        layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).sub(0.5)


def train_and_test(train, test, steps: list[int], batch: int, seed: int) -> dict[int, float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = to_tensor(train[0]), torch.from_numpy(train[1])
    x_test, y_test = to_tensor(test[0]), torch.from_numpy(test[1])
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    accuracy = {}
    for step in range(1, max(steps) + 1):
        model.train()
        pick = torch.from_numpy(rng.integers(0, len(x_train), batch))
        loss = nn.functional.cross_entropy(model(x_train[pick]), y_train[pick])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in steps:
            model.eval()
            with torch.no_grad():
                predicted = torch.cat([model(x_test[i:i + 250]).argmax(1) for i in range(0, len(x_test), 250)])
            accuracy[step] = float((predicted == y_test).float().mean())
    return accuracy


@click.command()
@click.option("--cues", type=click.Choice(["both", "on", "off"]), default="both")
@click.option("--train-subjects", default=30, show_default=True, help="50 images each")
@click.option("--test-subjects", default=10, show_default=True, help="50 images each")
@click.option("--per-subject", default=50, show_default=True)
@click.option("--image-size", default=128, show_default=True)
@click.option("--steps", default="100,200,400", show_default=True)
@click.option("--batch", default=32, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="also write the results as JSON")
def main(cues, train_subjects, test_subjects, per_subject, image_size, steps, batch, seed, output):
    torch.set_num_threads(2)
    steps = sorted(int(s) for s in steps.split(","))
    train_ids = list(range(101, 101 + train_subjects))
    test_ids = list(range(501, 501 + test_subjects))
    results = {}
    for setting in (["off", "on"] if cues == "both" else [cues]):
        start = time.process_time()
        train = lab_images(train_ids, per_subject, image_size, seed, setting == "on")
        test = lab_images(test_ids, per_subject, image_size, seed, setting == "on")
        rendered = time.process_time() - start
        accuracy = train_and_test(train, test, steps, batch, seed)
        results[setting] = {"test_accuracy": accuracy, "train_images": len(train[1]), "test_images": len(test[1]),
                            "test_front_share": float(test[1].mean()), "render_cpu_s": rendered,
                            "train_cpu_s": time.process_time() - start - rendered}
        print(f"front cues {setting:3s}: test accuracy " + ", ".join(f"{acc:.3f} @ {k}" for k, acc in accuracy.items())
              + f"   ({len(train[1])} train / {len(test[1])} test images, {100 * test[1].mean():.1f} % front; "
              f"render {rendered:.0f} s, train {results[setting]['train_cpu_s']:.0f} s CPU)", flush=True)
    if output:
        Path(output).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
