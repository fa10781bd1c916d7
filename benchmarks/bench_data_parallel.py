"""Does data parallelism over the CPU's cores train pretrain_2d faster than one process?

    python benchmarks/bench_data_parallel.py --iterations 240 --repeats 2 \
        --out benchmarks/results/cpu_data_parallel.json

Runs the real stage (`python -m stages.pretrain_2d`, its loaders, loss, optimiser, logging) in a
scratch folder on the prepared data of the params file, validation and checkpoints pushed past
the end, once per configuration and repeat (the configurations alternate, so the machine's drift
is shared):

- single: one process, `runtime.threads` = the core count, batch `batch_size`;
- ddp: torchrun with one process per core, one thread each, batch `batch_size` per process (the
  effective batch is processes x batch_size);
- ddp_half: the same, batch_size / processes per process (the effective batch of `single`).

images/s = effective batch x iterations / the stage's own train_seconds (metrics/pretrain_2d.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import yaml

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_config(name: str, params: dict, scratch: Path, processes: int, iterations: int) -> dict:
    """One timed run of pretrain_2d in its own folder; returns the record."""
    folder = scratch / name
    (folder / "data").mkdir(parents=True)
    for package in ("posegan", "stages"):
        (folder / package).symlink_to(ROOT / package)
    (folder / "data/prepared").symlink_to((ROOT / params["data"]["prepared_dir"]).resolve())
    run_params = json.loads(json.dumps(params))
    stage = run_params["pretrain_2d"]
    stage.update(iterations=iterations, val_every=10 ** 9, checkpoint_every=10 ** 9)
    per_process = stage["batch_size"]
    if name == "single":
        run_params["runtime"]["threads"] = processes
        command = [sys.executable, "-m", "stages.pretrain_2d", "--no-progress"]
        world = 1
    else:
        run_params["runtime"]["threads"] = 1
        if name == "ddp_half":
            per_process = max(1, stage["batch_size"] // processes)
            stage["batch_size"] = per_process
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(processes), "-m", "stages.pretrain_2d", "--no-progress"]
        world = processes
    run_params["data"]["prepared_dir"] = "data/prepared"
    (folder / "params.yaml").write_text(yaml.safe_dump(run_params, sort_keys=False))
    env = dict(os.environ, PYTHONPATH=str(folder), OMP_NUM_THREADS=str(run_params["runtime"]["threads"]))
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"{name}: the stage failed:\n{done.stderr[-2000:]}")
    metrics = json.loads((folder / "metrics/pretrain_2d.json").read_text())
    seconds = metrics["train_seconds"]
    return {"config": name, "stage": "pretrain_2d", "processes": world,
            "threads_per_process": run_params["runtime"]["threads"], "batch_per_process": per_process,
            "effective_batch": per_process * world, "iterations": iterations,
            "ms_per_iteration": round(1000 * seconds / iterations, 1),
            "images_per_s": round(per_process * world * iterations / seconds, 1),
            "data_wait_share": metrics.get("data_wait_share")}


@click.command()
@click.option("--params", "params_path", default=str(ROOT / "params.yaml"), show_default=True,
              type=click.Path(exists=True, dir_okay=False))
@click.option("--iterations", default=240, show_default=True, type=click.IntRange(min=10))
@click.option("--repeats", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--processes", default=os.cpu_count() or 2, show_default=True, type=click.IntRange(min=2))
@click.option("--configs", default="single,ddp,ddp_half", show_default=True)
@click.option("--out", "out_path", default=None, help="write the records here (JSON)")
def main(params_path, iterations, repeats, processes, configs, out_path):
    params = yaml.safe_load(Path(params_path).read_text())
    names = [c.strip() for c in configs.split(",") if c.strip()]
    unknown = sorted(set(names) - {"single", "ddp", "ddp_half"})
    if unknown:
        raise click.BadParameter(f"unknown configuration(s) {unknown}; expected single, ddp, ddp_half",
                                 param_hint="--configs")
    records = []
    for repeat in range(1, repeats + 1):
        for name in names:
            with tempfile.TemporaryDirectory() as scratch:
                record = run_config(name, params, Path(scratch), processes, iterations)
            record.update(repeat=repeat, cores=os.cpu_count(), commit=commit())
            click.echo(json.dumps(record))
            records.append(record)
    if out_path:
        Path(out_path).write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
