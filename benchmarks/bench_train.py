"""Training throughput of the real stage loops: images/s, ms per iteration, data-wait share.

    python benchmarks/bench_train.py                                   # CPU, default config
    python benchmarks/bench_train.py --configs default,paper-2x256 --device cuda \
        --set runtime.compile=reduce-overhead --set runtime.amp=bf16 --out benchmarks/results/h200.json

Each (config, stage) runs the stage's own loop (`posegan.train.<stage>`: data loading and
augmentation in loader workers, the loss, the optimiser, the NaN guard, logging and the
checkpoint schedule of the params) for warmup + N iterations, from a model file of random
weights, writing into a temporary folder. The timed window is iterations warmup .. warmup+N-1
(the device synchronised at both ends); the first iteration (compilation, if any) and the last
(validation and the model file) are outside it.

Configurations (overrides on the params file, then --set):
- default:      the params file as it is (the CPU-sized network at data.image_size);
- paper-2x256:  the paper's ablation network, 2 stacks x 256 features at 256 px, batch 12;
- paper-4x256:  the Table 1 network, 4 stacks x 256 features at 256 px, batch 12.
The prepared data of the params file is used when its crop side matches; otherwise a small
synthetic benchmark at the config's crop side is generated into the temporary folder first.

Output: a JSON list of records, one per (config, stage): config, device (its name), stage,
batch_size, iterations (timed), images_per_s, ms_per_iteration, data_wait_share,
peak_gpu_memory_mib (null on CPU), first_step_seconds (includes compilation), amp, compile,
workers, paper_schedule_hours (the paper's schedule at this speed: pretrain_depth 200k and
adversarial 120k iterations of batch 12; pretrain_2d: not part of it, null), torch, commit.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posegan.atomic_files import write_json_atomic  # noqa: E402
from posegan.config import ParamsFile, load_yaml  # noqa: E402
from stages.cli import clear_errors  # noqa: E402
from posegan.data.dataset import PreparedData  # noqa: E402
from posegan.data.schema import prepared_path, read_prepared  # noqa: E402
from posegan.device import RuntimeSettings, resolve_device  # noqa: E402
from posegan.losses import LossSettings  # noqa: E402
from posegan.model_file import model_payload  # noqa: E402
from posegan.models import Generator  # noqa: E402
from posegan.models.discriminator import DiscriminatorSettings  # noqa: E402
from posegan.models.generator import ModelSettings  # noqa: E402
from posegan.train.adversarial import AdversarialSettings, adversarial  # noqa: E402
from posegan.train.checkpoint import atomic_save  # noqa: E402
from posegan.train.loop_setup import LoopSettings, StageOutputs, TrainingRun  # noqa: E402
from posegan.train.pretrain_2d import pretrain_2d  # noqa: E402
from posegan.train.pretrain_depth import pretrain_depth  # noqa: E402
from posegan.train.session import TrainingSession  # noqa: E402

PAPER_NETWORK = {"data.image_size": 256, "model.num_features": 256, "pretrain_2d.batch_size": 12,
                 "pretrain_depth.batch_size": 12, "adversarial.batch_size": 12}
CONFIGS = {
    "default": {},
    "paper-2x256": {**PAPER_NETWORK, "model.num_stacks": 2},
    "paper-4x256": {**PAPER_NETWORK, "model.num_stacks": 4},
}
STAGES = ("pretrain_2d", "pretrain_depth", "adversarial")
# The paper's schedule (section 5): iterations of batch 12 per stage.
PAPER_SCHEDULE = {"pretrain_depth": 200_000, "adversarial": 120_000}
PAPER_BATCH = 12


def set_dotted(params: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    holder = params
    for part in path:
        holder = holder.setdefault(part, {})
    holder[last] = value


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads)"


def commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def prepared_data(params: ParamsFile, scratch: Path, log) -> Path:
    """A prepared folder at the config's crop side: the params' own, or a small generated one."""
    data = params.section("data", PreparedData)
    folder = Path(data.prepared_dir)
    if not folder.is_absolute():
        folder = ROOT / folder
    path = prepared_path(folder, "h36m", "train")
    if path.exists() and read_prepared(path, fields=[])[1]["image_size"] == data.image_size:
        return folder
    from posegan.data.preprocess_settings import DataSettings
    from posegan.data.synthetic.benchmark import write_benchmark

    synthetic = params.section("data", DataSettings).synthetic
    small = dataclasses.replace(synthetic, lab_train_per_subject=60, lab_test_per_subject=20, wild_train=300,
                                wild_valid=40, cross_test=35, cross_valid=21,
                                workers=max(1, min(8, (os.cpu_count() or 2) - 1)))
    out = scratch / f"prepared-{data.image_size}"
    if not out.exists():
        log(f"generating a small synthetic benchmark at {data.image_size} px into {out}")
        write_benchmark(out, small)
    return out


class Window:
    """Marks the timed window inside a running loop (by wrapping TrainingSession.log)."""

    def __init__(self, start: int, end: int, device: torch.device):
        self.start, self.end, self.device = start, end, device
        self.marks: dict[int, tuple[float, float]] = {}
        self.first_step = 0.0

    def __enter__(self):
        self.original = TrainingSession.log
        window = self

        def log(session, iteration, *args, **kwargs):
            window.original(session, iteration, *args, **kwargs)
            if iteration in (window.start - 1, window.end - 1):
                if window.device.type == "cuda":
                    torch.cuda.synchronize(window.device)
                window.marks[iteration] = (time.perf_counter(), session.data_seconds)
                window.first_step = session.first_step_seconds

        TrainingSession.log = log
        return self

    def __exit__(self, *exc):
        TrainingSession.log = self.original

    def seconds(self) -> tuple[float, float]:
        (t0, d0), (t1, d1) = self.marks[self.start - 1], self.marks[self.end - 1]
        return t1 - t0, d1 - d0


def run_stage(stage: str, params: ParamsFile, prepared: Path, scratch: Path, warmup: int, iterations: int,
              device: torch.device) -> dict:
    """One stage's loop, timed. Returns the record's measured fields."""
    cls = AdversarialSettings if stage == "adversarial" else LoopSettings
    settings = params.section(stage, cls)
    total = warmup + iterations + 1
    settings = dataclasses.replace(settings, iterations=total, val_every=10 * total)
    model = params.section("model", ModelSettings)
    runtime = dataclasses.replace(params.section("runtime", RuntimeSettings), device=device)
    image_size = params.section("data", PreparedData).image_size
    folder = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{stage}-"))
    try:
        import dvclive  # noqa: F401
        live = True
    except ImportError:
        live = False
    outputs = dataclasses.replace(StageOutputs.for_stage(stage, folder),
                                  live_dir=(folder / "dvclive" / stage) if live else None)
    run = TrainingRun(model=model, runtime=runtime, loss=params.section("loss", LossSettings), prepared_dir=prepared,
                      seed=params.seed, outputs=outputs, fingerprint=f"bench-{time.time()}", progress=False)
    init = folder / "init.pt"
    atomic_save(model_payload(Generator.build(model), model, "bench", 0, image_size), init)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with Window(warmup, warmup + iterations, device) as window:
        if stage == "pretrain_2d":
            pretrain_2d(settings, run)
        elif stage == "pretrain_depth":
            pretrain_depth(settings, run, init)
        else:
            adversarial(settings, params.section("discriminator", DiscriminatorSettings), run, init)
    seconds, data_seconds = window.seconds()
    images = iterations * settings.batch_size
    record = {
        "batch_size": settings.batch_size,
        "iterations": iterations,
        "images_per_s": round(images / seconds, 1),
        "ms_per_iteration": round(1000 * seconds / iterations, 2),
        "data_wait_share": round(data_seconds / seconds, 4),
        "peak_gpu_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        if device.type == "cuda" else None,
        "first_step_seconds": round(window.first_step, 2),
        "amp": runtime.amp, "compile": runtime.compile, "workers": settings.workers,
    }
    hours = PAPER_SCHEDULE.get(stage)
    record["paper_schedule_hours"] = round(hours * PAPER_BATCH / record["images_per_s"] / 3600, 2) if hours else None
    return record


@click.command()
@click.option("--params", "params_path", default=str(ROOT / "params.yaml"), show_default=True)
@click.option("--configs", default="default", show_default=True, help=f"comma-separated, of {', '.join(CONFIGS)}")
@click.option("--stages", default=",".join(STAGES), show_default=True, help="comma-separated")
@click.option("--device", "device_name_", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
@click.option("--iterations", default=30, show_default=True, help="timed iterations per stage")
@click.option("--warmup", default=5, show_default=True, help="untimed iterations first (compilation, caches)")
@click.option("--set", "overrides", multiple=True, help="KEY=VALUE on the params (YAML value), e.g. runtime.amp=bf16")
@click.option("--out", "out_path", default=None, help="JSON file to write (default: print only)")
@clear_errors
def main(params_path: str, configs: str, stages: str, device_name_: str, iterations: int, warmup: int,
         overrides: tuple[str, ...], out_path: str | None) -> None:
    device = resolve_device(device_name_)
    base = ParamsFile.read(params_path).raw
    records = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        scratch = Path(scratch)
        for config in configs.split(","):
            if config not in CONFIGS:
                raise click.BadParameter(f"unknown config {config!r}; expected {', '.join(CONFIGS)}", param_hint="--configs")
            raw = copy.deepcopy(base)
            for key, value in CONFIGS[config].items():
                set_dotted(raw, key, value)
            for item in overrides:
                key, sep, value = item.partition("=")
                if not sep:
                    raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
                set_dotted(raw, key.strip(), load_yaml(value, f"--set {item}"))
            params = ParamsFile(Path(params_path).with_name(f"{config}.yaml"), raw)
            prepared = prepared_data(params, scratch, lambda m: click.echo(m, err=True))
            for stage in stages.split(","):
                record = {"config": config, "device": device_name(device), "stage": stage}
                record.update(run_stage(stage, params, prepared, scratch, warmup, iterations, device))
                record.update(torch=torch.__version__, commit=commit())
                click.echo(json.dumps(record))
                records.append(record)
    if out_path:
        write_json_atomic(out_path, records)
        click.echo(f"bench_train: {len(records)} records -> {out_path}", err=True)


if __name__ == "__main__":
    main()
