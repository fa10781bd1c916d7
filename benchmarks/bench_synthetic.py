"""Speed of the synthetic benchmark: images per second, and the default dataset's time and disk size.

    python benchmarks/bench_synthetic.py                  # per-domain speed + the full default dataset
    python benchmarks/bench_synthetic.py --no-full        # per-domain speed only (about 20 s)
    python benchmarks/bench_synthetic.py --output bench_synthetic.json

Per domain (one process): wall-clock and CPU milliseconds per image and images per second
for `--samples` images, and the renderer alone (`render_pose` of one pose at
data.image_size). Full dataset: `write_benchmark` with params.yaml's `data` section
(its worker count) into a temporary folder: seconds, images per second and the size of
each file on disk. Wall times depend on what else runs on the machine; CPU times less so.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.config import ParamsFile  # noqa: E402
from posegan.data.preprocess_settings import DataSettings  # noqa: E402
from posegan.data.synthetic.benchmark import SyntheticConfig, generate_samples, split_specs, write_benchmark  # noqa: E402
from posegan.data.synthetic.body import NUM_ANGLES, BodyProportions, floor_offset, forward_kinematics  # noqa: E402
from posegan.data.synthetic.render import render_pose  # noqa: E402
from posegan.data.synthetic.scenes import look_at, world_to_camera  # noqa: E402


def time_domains(config: SyntheticConfig, samples: int) -> dict:
    """ms per image and images/s of each domain in one process."""
    results = {}
    for spec in split_specs(config):
        if spec.split in ("test", "valid") and spec.domain != "cross":
            continue  # same generator as the train split
        n = min(samples, spec.num_samples)
        generate_samples(spec, 0, min(4, n), config.image_size, config.seed)  # warm up caches and imports
        wall, cpu = time.perf_counter(), time.process_time()
        generate_samples(spec, 0, n, config.image_size, config.seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results[spec.domain] = {"images": n, "wall_ms_per_image": 1000 * wall / n, "cpu_ms_per_image": 1000 * cpu / n,
                                "images_per_s": n / wall}
    return results


def time_renderer(image_size: int, repeats: int = 200) -> dict:
    """render_pose alone: a standing person filling the image."""
    body = BodyProportions.average(1750.0)
    world = forward_kinematics(np.zeros(NUM_ANGLES), body)
    world[:, 1] += floor_offset(world, body)
    centre = np.array([0.0, 1300.0, 3000.0])
    joints = world_to_camera(world, look_at(centre, [0.0, 900.0, 0.0]), centre)
    focal = 0.75 * image_size * 3000.0 / 1750.0
    camera = np.array([focal, focal, (image_size - 1) / 2, (image_size - 1) / 2])
    render_pose(joints, camera, image_size)
    start = time.perf_counter()
    for _ in range(repeats):
        render_pose(joints, camera, image_size)
    seconds = (time.perf_counter() - start) / repeats
    return {"ms_per_render": 1000 * seconds, "renders_per_s": 1 / seconds}


def time_full(config: SyntheticConfig, keep: str | None) -> dict:
    """Write the whole dataset; seconds, images/s, bytes per file."""
    with tempfile.TemporaryDirectory(prefix="bench_synthetic_") as tmp:
        out = Path(keep) if keep else Path(tmp) / "prepared"
        start = time.perf_counter()
        paths = write_benchmark(out, config)
        seconds = time.perf_counter() - start
        files = {p.name: {"samples": spec.num_samples, "megabytes": p.stat().st_size / 2**20}
                 for p, spec in zip(paths, split_specs(config))}
    total = sum(f["samples"] for f in files.values())
    return {"seconds": seconds, "images": total, "images_per_s": total / seconds, "workers": config.workers,
            "files": files, "total_megabytes": sum(f["megabytes"] for f in files.values())}


@click.command()
@click.option("--params", "params_path", default=str(ROOT / "params.yaml"), show_default=True)
@click.option("--samples", default=100, show_default=True, help="images per domain for the speed test")
@click.option("--full/--no-full", default=True, help="also generate the whole default dataset")
@click.option("--keep", default=None, help="write the full dataset here instead of a temporary folder")
@click.option("--output", default=None, help="also write the results as JSON")
def main(params_path: str, samples: int, full: bool, keep: str | None, output: str | None) -> None:
    params = ParamsFile.read(params_path)
    config = params.section("data", DataSettings).synthetic
    if config is None:
        raise click.UsageError(f"{params.name}: data.synthetic is missing (the built-in benchmark's sizes)")
    results = {"image_size": config.image_size, "domains": time_domains(config, samples),
               "renderer": time_renderer(config.image_size)}
    for domain, r in results["domains"].items():
        click.echo(f"{domain:6s} {r['images_per_s']:6.1f} images/s  ({r['wall_ms_per_image']:.1f} ms wall, "
                   f"{r['cpu_ms_per_image']:.1f} ms CPU per image, one process)")
    r = results["renderer"]
    click.echo(f"render_pose alone: {r['ms_per_render']:.2f} ms ({r['renders_per_s']:.0f} renders/s) "
               f"at {config.image_size} px")
    if full:
        results["full"] = f = time_full(config, keep)
        click.echo(f"default dataset: {f['images']} images in {f['seconds']:.1f} s with {f['workers']} workers "
                   f"({f['images_per_s']:.1f} images/s), {f['total_megabytes']:.0f} MB on disk")
        for name, info in f["files"].items():
            click.echo(f"  {name:22s} {info['samples']:6d} samples  {info['megabytes']:7.1f} MB")
    if output:
        Path(output).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
