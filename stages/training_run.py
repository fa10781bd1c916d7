"""The `TrainingRun` of a training stage, from the params file: the typed sections every loop
needs, the input files checked, and the run's fingerprint."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from posegan.config import ParamsFile
from posegan.data.dataset import PreparedData
from posegan.data.sets import training_sets
from posegan.device import RuntimeSettings
from posegan.errors import InputMissingError
from posegan.losses import LossSettings
from posegan.models.generator import ModelSettings
from posegan.train.checkpoint import fingerprint
from posegan.train.loop_setup import StageOutputs, TrainingRun


def training_run(params: ParamsFile, stage: str, settings: Any, extra_inputs: list[Path], progress: bool,
                 extra_fingerprint: dict[str, Any] | None = None) -> TrainingRun:
    """The `TrainingRun` of `stage` (whose own section is `settings`).

    The fingerprint covers the stage's settings, the model (not the runtime: a checkpoint
    resumes on another device), the seed, the loss, `extra_fingerprint` (e.g. the
    discriminator) and the contents of the input files (the prepared files and the model the
    stage starts from), so a checkpoint is resumed only by the same run.
    """
    data = params.section("data", PreparedData)
    model, loss = params.section("model", ModelSettings), params.section("loss", LossSettings)
    runtime, seed = params.section("runtime", RuntimeSettings), params.seed
    inputs = [entry.path(data.prepared_dir) for entry in training_sets().values()] + list(extra_inputs)
    for path in inputs:
        if not Path(path).exists():
            raise InputMissingError(f"{path}: input of stage {stage} not found (run the earlier stages: dvc repro)")
    identity = {"stage": stage, stage: asdict(settings), "model": asdict(model), "seed": seed, "loss": asdict(loss),
                **(extra_fingerprint or {})}
    return TrainingRun(model=model, runtime=runtime, loss=loss, prepared_dir=Path(data.prepared_dir), seed=seed,
                       outputs=StageOutputs.for_stage(stage), fingerprint=fingerprint(identity, inputs),
                       progress=progress)
