"""Throughput of the generator (and the default discriminator): images per second.

    python benchmarks/bench_models.py                         # CPU: default config, paper 2x1 and 4x1
    python benchmarks/bench_models.py --device cuda --amp     # on a GPU, with mixed precision
    python benchmarks/bench_models.py --configs default --iters 20 --output bench.json
    python benchmarks/bench_models.py --configs default --layout contiguous   # NCHW, for comparison

Configurations:
- default:   params.yaml's model / discriminator sections at data.image_size;
- paper-2x1: 2 stacks x 1 block, 256 features, 256 px (the paper's ablation network);
- paper-4x1: 4 stacks x 1 block, 256 features, 256 px (the paper's Table 1 network).
For each: forward (eval mode, no grad) and forward+backward (train mode, Eq. 2 loss) of the
generator; for the default one also the discriminator (forward+backward on real + fake).
On CUDA it also times the paper's test-time figure: the forward pass of a batch of 24
256-px images through 4 stacks (paper: 1.1 s on a Titan X), with and without AMP.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.atomic_files import write_json_atomic  # noqa: E402
from posegan.config import ParamsFile  # noqa: E402
from posegan.data.dataset import PreparedData  # noqa: E402
from posegan.device import autocast, resolve_device  # noqa: E402
from posegan.losses import discriminator_loss, pose_loss  # noqa: E402
from posegan.models import Generator, MultiSourceDiscriminator  # noqa: E402
from posegan.models.discriminator import DiscriminatorSettings  # noqa: E402
from posegan.models.generator import ModelSettings  # noqa: E402

# name -> (the generator, the crop side in pixels)
PAPER = {
    "paper-2x1": (ModelSettings(num_stacks=2, num_blocks=1, num_features=256), 256),
    "paper-4x1": (ModelSettings(num_stacks=4, num_blocks=1, num_features=256), 256),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(step, iters: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of `step` (after `warmup` untimed calls)."""
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _sync(device)
    return (time.perf_counter() - start) / iters


LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def bench_generator(settings: ModelSettings, size: int, batch: int, iters: int, warmup: int, device: torch.device,
                    amp: bool, layout: str = "channels_last") -> dict:
    joints = 16
    model = Generator.build(settings, num_joints=joints).use_memory_format(LAYOUTS[layout]).to(device)
    images = torch.randn(batch, 3, size, size, device=device)
    targets = torch.rand(batch, joints, size // 4, size // 4, device=device)
    depth = torch.randn(batch, joints, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def forward():
        with torch.no_grad(), autocast(device, amp):
            model(images)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, amp):
            out = model(images)
        pose_loss(out.heatmaps, out.depth, targets, depth).total.backward()
        optimizer.step()

    model.eval()
    t_fwd = _timed(forward, iters, warmup, device)
    model.train()
    t_train = _timed(train_step, iters, warmup, device)
    return {
        "params_2d": sum(p.numel() for p in model.pose_2d.parameters()),
        "params_depth": sum(p.numel() for p in model.depth_regressor.parameters()),
        "batch": batch,
        "forward_images_per_s": batch / t_fwd,
        "forward_backward_images_per_s": batch / t_train,
    }


def bench_discriminator(settings: DiscriminatorSettings, size: int, batch: int, iters: int, warmup: int,
                        device: torch.device, amp: bool) -> dict:
    joints = 16
    model = MultiSourceDiscriminator.build(settings, joints, size, size // 4).to(device)
    images = torch.randn(batch, 3, size, size, device=device)
    maps = torch.rand(batch, joints, size // 4, size // 4, device=device)
    depth = torch.randn(batch, joints, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, amp):
            real, fake = model(images, maps, depth), model(images, maps, depth)
        discriminator_loss(real, fake).backward()
        optimizer.step()

    t = _timed(step, iters, warmup, device)
    return {"sources": list(model.sources), "params": sum(p.numel() for p in model.parameters()),
            "batch": batch, "real_plus_fake_forward_backward_images_per_s": batch / t}


def bench_test_time(device: torch.device, amp: bool, iters: int) -> dict:
    """The paper's figure: forward of 24 images at 256 px through 4 stacks x 1 block."""
    model = Generator(16, 4, 1, 256).to(device).eval()
    images = torch.randn(24, 3, 256, 256, device=device)

    def forward():
        with torch.no_grad(), autocast(device, amp):
            model(images)

    return {"batch": 24, "amp": amp, "seconds_per_batch": _timed(forward, iters, 2, device)}


@click.command()
@click.option("--params", "params_path", default=str(ROOT / "params.yaml"), show_default=True)
@click.option("--configs", default="default,paper-2x1,paper-4x1", show_default=True)
@click.option("--device", "device_name", default="cpu", show_default=True, help="auto | cpu | cuda")
@click.option("--amp/--no-amp", default=False, help="mixed precision (CUDA only)")
@click.option("--batch", default=8, show_default=True, help="batch of the default configuration")
@click.option("--paper-batch", default=2, show_default=True, help="batch of the 256-px configurations")
@click.option("--iters", default=5, show_default=True, help="timed iterations (default configuration)")
@click.option("--paper-iters", default=2, show_default=True, help="timed iterations (256-px configurations)")
@click.option("--layout", type=click.Choice(list(LAYOUTS)), default="channels_last", show_default=True,
              help="memory format of the generator's weights and activations")
@click.option("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="also write the results as JSON")
def main(params_path, configs, device_name, amp, batch, paper_batch, iters, paper_iters, layout, threads, output):
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    params = ParamsFile.read(params_path)
    default = (params.section("model", ModelSettings), params.section("data", PreparedData).image_size)
    results = {"device": str(device), "amp": amp, "layout": layout, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "configs": {}}
    for name in [c.strip() for c in configs.split(",") if c.strip()]:
        if name == "default":
            (model, size), b, n = default, batch, iters
        elif name in PAPER:
            (model, size), b, n = PAPER[name], paper_batch, paper_iters
        else:
            raise click.BadParameter(f"unknown config {name!r}; expected default, {', '.join(PAPER)}",
                                     param_hint="--configs")
        entry = {"config": {**model.as_dict(), "image_size": size},
                 "generator": bench_generator(model, size, b, n, 1, device, amp, layout)}
        if name == "default":
            entry["discriminator"] = bench_discriminator(params.section("discriminator", DiscriminatorSettings),
                                                         size, b, n, 1, device, amp)
        results["configs"][name] = entry
        click.echo(f"{name}: {json.dumps(entry)}")
    if device.type == "cuda":
        results["paper_test_time"] = [bench_test_time(device, False, 5)] + (
            [bench_test_time(device, True, 5)] if amp else [])
        click.echo(f"paper test time: {json.dumps(results['paper_test_time'])}")
    if output:
        write_json_atomic(output, results)


if __name__ == "__main__":
    main()
