"""Where one pretrain_2d iteration spends its time: torch.profiler over the network's step.

    python benchmarks/profile_step.py                                # default params, fp32 eager
    python benchmarks/profile_step.py --set runtime.amp=bf16 --channels-last --out benchmarks/results/cpu_profile_bf16.json

The step is pretrain_2d's: the stacked hourglass forward on one minibatch of the lab training
file (batch of `pretrain_2d.batch_size`, no augmentation, so that every step sees the same
tensors), the heatmap loss on every stack, backward, RMSprop. Data loading is not in it
(`benchmarks/bench_train.py` measures the loader's share of the real loop: data_wait_share).
After `--warmup` untimed steps, `--steps` steps run under the profiler. The operators'
self CPU time is summed into groups (convolution, batch norm, elementwise and activation,
resampling and pooling, loss, optimiser, other), so that the groups add up to the step, and
the step is split into its forward, backward and optimiser phases.

Output: the top operators and the groups as a table; with --out, a JSON record (ms per step,
the groups' and phases' ms and shares, the top operators, amp, channels_last, threads, torch,
commit).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch
from torch.profiler import ProfilerActivity, profile, record_function

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_train import commit, device_name, set_dotted  # noqa: E402
from posegan.atomic_files import write_json_atomic  # noqa: E402
from posegan.config import ParamsFile, load_yaml  # noqa: E402
from posegan.data.dataset import PoseDataset, PreparedData  # noqa: E402
from posegan.data.sets import training_sets  # noqa: E402
from posegan.device import RuntimeSettings, autocast  # noqa: E402
from posegan.losses import LossSettings, pose_loss  # noqa: E402
from posegan.models import Generator, normalize_images  # noqa: E402
from posegan.models.generator import ModelSettings  # noqa: E402
from posegan.train.loop_setup import LoopSettings  # noqa: E402
from stages.cli import clear_errors  # noqa: E402

# Operator name fragments -> group (first match wins; names are aten::<op> and their backwards).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("convolution", ("conv", "mkldnn_convolution")),
    ("batch norm", ("batch_norm",)),
    ("optimiser", ("optimizer", "rmsprop", "addcmul", "addcdiv", "_foreach")),
    ("loss", ("mse", "pow", "sum", "mean")),
    ("resampling and pooling", ("upsample", "max_pool", "pool")),
    ("elementwise and activation", ("relu", "threshold", "add", "mul", "sub", "div", "sqrt", "copy_", "fill_",
                                    "zero_", "clamp")),
)
PHASES = ("forward", "backward", "optimiser")


def group_of(name: str) -> str:
    lowered = name.lower()
    for group, fragments in GROUPS:
        if any(fragment in lowered for fragment in fragments):
            return group
    return "other"


@click.command()
@click.option("--params", "params_path", default=str(ROOT / "params.yaml"), show_default=True)
@click.option("--set", "overrides", multiple=True, help="KEY=VALUE on the params (YAML value), e.g. runtime.amp=bf16")
@click.option("--channels-last", is_flag=True, help="the network and its input in channels_last memory format")
@click.option("--foreach", is_flag=True, help="RMSprop's multi-tensor (foreach) update instead of its per-tensor loop")
@click.option("--warmup", default=5, show_default=True, help="untimed steps first")
@click.option("--steps", default=10, show_default=True, help="profiled steps")
@click.option("--top", default=15, show_default=True, help="operators listed")
@click.option("--out", "out_path", default=None, help="JSON file to write (default: print only)")
@clear_errors
def main(params_path, overrides, channels_last, foreach, warmup, steps, top, out_path):
    """Profile pretrain_2d's network step on this machine's CPU (or GPU, by runtime.device)."""
    raw = ParamsFile.read(params_path).raw
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        set_dotted(raw, key.strip(), load_yaml(value, f"--set {item}"))
    params = ParamsFile(Path(params_path), raw)
    runtime = params.section("runtime", RuntimeSettings)
    if runtime.threads:
        torch.set_num_threads(runtime.threads)
    settings = params.section("pretrain_2d", LoopSettings)
    model = params.section("model", ModelSettings)
    loss = params.section("loss", LossSettings)
    prepared = Path(params.section("data", PreparedData).prepared_dir)
    if not prepared.is_absolute():
        prepared = ROOT / prepared
    dataset = PoseDataset(training_sets()["lab_train"].path(prepared))
    device = runtime.device
    batch = torch.utils.data.default_collate([dataset[i] for i in range(settings.batch_size)])
    images = normalize_images(batch["image"].to(device))
    targets, annotated = batch["heatmaps"].to(device), batch["annotated"].to(device)
    torch.manual_seed(params.seed)
    net = Generator.build(model).pose_2d.to(device).train()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(net.parameters(), lr=settings.lr, foreach=foreach or None)

    def step():
        with record_function("forward"):
            with autocast(device, runtime.amp):
                heatmaps = net(images).heatmaps
            total = pose_loss(heatmaps, None, targets, joint_mask=annotated, reduction=loss.reduction).total
        with record_function("backward"):
            optimizer.zero_grad(set_to_none=True)
            total.backward()
        with record_function("optimiser"):
            optimizer.step()

    for _ in range(warmup):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    phases = {e.key: e.cpu_time_total / 1000 / steps for e in events if e.key in PHASES}
    operators = [e for e in events if e.key not in PHASES and not e.key.startswith("ProfilerStep")]
    step_ms = sum(phases.values())
    groups: dict[str, float] = {}
    for event in operators:
        group = group_of(event.key)
        groups[group] = groups.get(group, 0.0) + event.self_cpu_time_total / 1000 / steps
    ranked = sorted(operators, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    record = {
        "stage": "pretrain_2d", "what": "network step (forward, loss, backward, RMSprop), no data loading",
        "device": device_name(device), "batch_size": settings.batch_size, "steps": steps,
        "ms_per_step": round(step_ms, 2), "images_per_s": round(1000 * settings.batch_size / step_ms, 1),
        "phases_ms": {k: round(v, 2) for k, v in phases.items()},
        "groups_ms": {k: round(v, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "groups_share": {k: round(v / sum(groups.values()), 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "top_operators_ms": {e.key: round(e.self_cpu_time_total / 1000 / steps, 2) for e in ranked},
        "amp": runtime.amp, "channels_last": channels_last, "foreach": foreach, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "commit": commit(),
    }
    click.echo(f"{record['device']}: {record['ms_per_step']} ms per step ({record['images_per_s']} images/s), "
               f"amp {runtime.amp}, channels_last {channels_last}, foreach {foreach}")
    click.echo("phases (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    for name, ms in record["groups_ms"].items():
        click.echo(f"  {name:28s} {ms:8.1f} ms  {100 * record['groups_share'][name]:5.1f}%")
    click.echo("top operators by self CPU time (ms per step):")
    for name, ms in record["top_operators_ms"].items():
        click.echo(f"  {name:40s} {ms:8.2f}")
    if out_path:
        write_json_atomic(Path(out_path), record)
        click.echo(f"wrote {out_path}")


if __name__ == "__main__":
    main()
