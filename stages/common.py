"""What the stage commands share: turning library errors into a clear message and exit 1."""

from __future__ import annotations

import functools
import sys

from pathlib import Path

import click

from posegan.data.schema import SchemaError, prepared_path
from posegan.losses import LossSettings
from posegan.params import ParamsError, get
from posegan.train.checkpoint import NonFiniteError, fingerprint
from posegan.train.common import LoopSettings

# The prepared files every training stage reads (training sets and validation sets).
TRAINING_INPUTS = [("h36m", "train"), ("mpii", "train"), ("h36m", "test"), ("mpii", "valid")]

# Errors that are the user's input or a diverged run, not a bug: print the message, exit 1.
EXPECTED_ERRORS = (ParamsError, SchemaError, NonFiniteError, FileNotFoundError, ValueError, KeyError)


def clear_errors(command):
    """Decorator for a stage's main(): expected errors become one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            click.echo(f"error: {message}", err=True)
            sys.exit(1)

    return wrapper


# Model keys that change the network (device and amp do not: a run may resume elsewhere).
ARCHITECTURE_KEYS = ("num_stacks", "num_blocks", "num_features", "depth_pooling", "fix_2d")


def architecture(model: dict) -> dict:
    return {k: model[k] for k in ARCHITECTURE_KEYS if k in model}


def training_context(params: dict, stage: str, extra_inputs: list[Path], **own_defaults) -> dict:
    """Everything a training stage command hands its loop, checked, plus the run's fingerprint.

    The fingerprint covers the stage's params block, the architecture, the heatmap stride, the
    seed, `extra` (e.g. the discriminator) and the contents of its input files (the prepared
    files and the model it starts from), so a checkpoint is resumed only by the same run.
    """
    section = get(params, stage, dict)
    settings, options = LoopSettings.from_params(stage, section, **own_defaults)
    model = get(params, "model", dict)
    prepared_dir = get(params, "data.prepared_dir", str)
    stride = get(params, "data.heatmap_stride", int, positive=True)
    seed = get(params, "seed", int)
    loss = loss_settings(params)
    inputs = [prepared_path(prepared_dir, *name) for name in TRAINING_INPUTS] + list(extra_inputs)
    for path in inputs:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: input of stage {stage} not found (run the earlier stages: dvc repro)")
    return {"settings": settings, "options": options, "model": model, "prepared_dir": prepared_dir,
            "stride": stride, "seed": seed, "inputs": inputs, "loss": loss,
            "fingerprint_params": {"stage": stage, stage: section, "model": architecture(model),
                                   "heatmap_stride": stride, "seed": seed,
                                   "loss": {"reduction": loss.reduction, "depth_weight": loss.depth_weight}}}


def loss_settings(params: dict) -> LossSettings:
    """The `loss` section (reduction of Eq. 2-5 and the depth term's weight), checked."""
    section = get(params, "loss", dict)
    unknown = set(section) - {"reduction", "depth_weight"}
    if unknown:
        raise ParamsError(f"params.yaml: unknown key(s) {', '.join('loss.' + k for k in sorted(unknown))}; "
                          f"expected loss.reduction, loss.depth_weight")
    reduction = get(params, "loss.reduction", str)
    depth_weight = get(params, "loss.depth_weight", (int, float))
    try:
        return LossSettings(reduction, float(depth_weight))
    except ValueError as err:
        raise ParamsError(f"params.yaml: {err}") from err


def run_fingerprint(context: dict, extra: dict | None = None) -> str:
    return fingerprint({**context["fingerprint_params"], **(extra or {})}, context["inputs"])
