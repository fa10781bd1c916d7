"""The bookkeeping around a training loop: resume, checkpoints, logging, progress, timing.

A loop creates one `TrainingSession`, asks it where to start (`resume`), and reports each
iteration (`check_finite`, `log`); the session writes DVCLive metrics and plots, a tqdm
progress bar, periodic atomic checkpoints, and refuses to go on after a non-finite loss.
Only rank 0 writes.

DVCLive writes into the checkpoint folder (`<checkpoint_dir>/dvclive/`) while the stage runs, and
`finish` copies its curves to the stage's plots output (`<live_dir>/plots/metrics`). Neither
folder is a `persist` output, so DVC's run cache can restore the stage; the curves of a killed
run survive with its checkpoint, not in the output folder that `dvc repro` empties before it
reruns the stage.

No host synchronisation per iteration: the loops hand over losses as device tensors, and
the session reads them (`.item()`) only on the steps that log, validate or checkpoint. The
NaN guard accumulates a device-side flag each iteration and checks it on those steps, before
anything is written, so a non-finite loss is reported with the window of iterations it fell
in and the last good checkpoint, which never holds the bad weights.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from posegan.atomic_files import replacing_folder, write_json_atomic, write_text_atomic
from posegan.train.checkpoint import Checkpointer, NonFiniteError, atomic_save, unwrap
from posegan.train.distributed import Distributed, broadcast_flag


class TrainingSession:
    """The bookkeeping of one training run.

    stage: name used in messages. iterations: total iterations of the stage.
    checkpoint_dir / fingerprint: see `Checkpointer`. live_dir: the DVCLive folder the curves are
    published to at the end (None: no DVCLive); DVCLive itself writes under checkpoint_dir.
    log_every / checkpoint_every / val_every: in iterations.
    """

    def __init__(self, stage: str, iterations: int, checkpoint_dir: str | os.PathLike, fingerprint: str,
                 live_dir: str | os.PathLike | None, dist: Distributed, log_every: int = 10,
                 checkpoint_every: int = 100, val_every: int = 100, progress: bool = True):
        self.stage, self.iterations, self.dist = stage, int(iterations), dist
        self.checkpointer = Checkpointer(checkpoint_dir, fingerprint)
        self.live_dir = Path(live_dir) if live_dir is not None else None
        self.live_work_dir = self.checkpointer.folder / "dvclive"
        self.log_every, self.checkpoint_every, self.val_every = log_every, checkpoint_every, val_every
        self.progress = progress and dist.is_main
        self.live = None
        self.bar = None
        self.models: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.history: list[dict[str, float]] = []
        self.last_validation: dict[str, float] = {}
        self.data_seconds = 0.0
        self.step_seconds = 0.0
        self.start_iteration = 0
        self.nonfinite: dict[str, torch.Tensor] = {}   # loss name -> device flag since the last check
        self.unchecked_from = 0                         # first iteration not yet checked
        self.first_step_seconds = 0.0

    # ------------------------------------------------------------------ resume
    def resume(self, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> int:
        """Load the last matching checkpoint into models and optimizers; return the start iteration."""
        self.models, self.optimizers = models, optimizers
        state = self.checkpointer.load()
        if state is not None:
            for name, model in models.items():
                unwrap(model).load_state_dict(state["models"][name])
            for name, optimizer in optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
            self.start_iteration = int(state["iteration"])
            self.history = list(state["extra"].get("history", []))
            self.last_validation = dict(state["extra"].get("last_validation", {}))
            self.data_seconds = float(state["extra"].get("data_seconds", 0.0))
            self.step_seconds = float(state["extra"].get("step_seconds", 0.0))
        self.unchecked_from = self.start_iteration
        if self.dist.is_main:
            if self.live_dir is not None:
                from dvclive import Live

                if self.start_iteration > 0:
                    adopt_published_curves(self.live_dir, self.live_work_dir)
                    trim_curves(self.live_work_dir, self.start_iteration)
                self.live = Live(str(self.live_work_dir), dvcyaml=None, save_dvc_exp=False,
                                 resume=self.start_iteration > 0, report=None)
                if self.start_iteration > 0:
                    self.live.step = self.start_iteration
            if self.start_iteration > 0:
                tqdm.write(f"[{self.stage}] resuming from {self.checkpointer.path} at iteration "
                           f"{self.start_iteration}/{self.iterations}")
            if self.progress:
                self.bar = tqdm(total=self.iterations, initial=self.start_iteration, desc=self.stage,
                                dynamic_ncols=True, mininterval=1.0)
        return self.start_iteration

    # ------------------------------------------------------------------ per iteration
    @contextmanager
    def waiting_for_data(self):
        """Time spent waiting for the next batch (reported as the data-wait share)."""
        start = time.perf_counter()
        yield
        self.data_seconds += time.perf_counter() - start

    def check_finite(self, iteration: int, **losses: torch.Tensor) -> None:
        """Note whether each loss of `iteration` is finite (a device-side flag: no synchronisation).
        The flags are checked on the next step that logs, validates or checkpoints."""
        for name, value in losses.items():
            bad = ~torch.isfinite(value.detach()).all()
            self.nonfinite[name] = bad if name not in self.nonfinite else self.nonfinite[name] | bad

    def raise_if_nonfinite(self, iteration: int) -> None:
        """Stop the stage (on every rank) if a loss noted since the last check was NaN or infinite."""
        bad = [name for name, flag in self.nonfinite.items() if bool(flag)]
        first, self.unchecked_from = self.unchecked_from, iteration + 1
        self.nonfinite = {}
        if broadcast_flag(bool(bad), self.dist):
            names = ", ".join(bad) or "a loss on another rank"
            when = f"at iteration {iteration}" if first >= iteration else f"in iterations {first}..{iteration}"
            raise NonFiniteError(
                f"[{self.stage}] non-finite {names} {when} (checked on the logging steps); the last good "
                f"checkpoint is {self.checkpointer.describe()}. Lower the learning rate or lambda and rerun "
                f"(the run resumes from that checkpoint if the params are unchanged).")

    def log(self, iteration: int, values: dict[str, torch.Tensor | float], step_seconds: float,
            validate: Callable[[], dict[str, float]] | None = None) -> None:
        """Record iteration `iteration` (0-based, just finished); validate/checkpoint on schedule.

        values: the iteration's losses and statistics, as tensors (read only on logging steps)
        or numbers."""
        self.step_seconds += step_seconds
        if iteration == self.start_iteration:
            self.first_step_seconds = step_seconds   # includes compilation under runtime.compile
        done = iteration + 1
        logging = done % self.log_every == 0 or done == self.iterations
        validating = validate is not None and (done % self.val_every == 0 or done == self.iterations)
        if logging or validating or done % self.checkpoint_every == 0:
            self.raise_if_nonfinite(iteration)
        if self.bar is not None:
            self.bar.update(1)
        if logging:
            values = {k: float(v) for k, v in values.items()}
            if self.bar is not None:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            entry = {"step": done, **values}
            self.history.append(entry)
            if self.live is not None:
                self.live.step = done
                for name, value in values.items():
                    self.live.log_metric(f"train/{name}", float(value))
        if validating:
            results = validate()
            self.last_validation = {k: float(v) for k, v in results.items()}
            if self.live is not None:
                self.live.step = done
                for name, value in results.items():
                    self.live.log_metric(f"val/{name}", float(value))
            if self.bar is not None:
                self.bar.write(f"[{self.stage}] iteration {done}: " +
                               ", ".join(f"{k} {v:.2f}" for k, v in results.items()))
        if self.live is not None and (done % self.log_every == 0 or done == self.iterations):
            self.live.make_summary()
        if done % self.checkpoint_every == 0 or done == self.iterations:
            self.save_checkpoint(done)

    def save_checkpoint(self, done: int) -> None:
        if self.dist.is_main:
            self.checkpointer.save(done, self.models, self.optimizers, extra={
                "history": self.history, "last_validation": self.last_validation,
                "data_seconds": self.data_seconds, "step_seconds": self.step_seconds})

    # ------------------------------------------------------------------ end
    def summary(self) -> dict[str, Any]:
        total = self.data_seconds + self.step_seconds
        last = self.history[-1] if self.history else {}
        return {
            "iterations": self.iterations,
            "train_seconds": round(total, 2),
            "data_wait_share": round(self.data_seconds / total, 4) if total > 0 else 0.0,
            "first_step_seconds": round(self.first_step_seconds, 3),
            **{f"final_{k}": v for k, v in last.items() if k != "step"},
            **{f"late_mean_{k}": v for k, v in self.late_means().items()},
            **{f"val_{k}": v for k, v in self.last_validation.items()},
        }

    def late_means(self) -> dict[str, float]:
        """Each logged value averaged over the log entries of the last fifth of the schedule
        (less noisy than the last entry; D's accuracy and the adversarial share, for example)."""
        late = [entry for entry in self.history if entry["step"] > 0.8 * self.iterations]
        keys = sorted({k for entry in late for k in entry if k != "step"})
        return {k: round(float(np.mean([e[k] for e in late if k in e])), 6) for k in keys}

    def finish(self, model_path: str | os.PathLike, model_payload: dict[str, Any],
               metrics_path: str | os.PathLike) -> dict[str, Any]:
        """Write the stage's model and metrics (rank 0, atomically) and close the logs."""
        summary = self.summary()
        self.close()
        if self.dist.is_main:
            if self.live_dir is not None:
                publish_curves(self.live_work_dir, self.live_dir)
            atomic_save(model_payload, model_path)
            write_json_atomic(metrics_path, summary, sort_keys=True)
        return summary

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.live is not None:
            self.live.end()
            self.live = None


def trim_curves(live_dir: str | os.PathLike, last_step: int) -> None:
    """Drop the DVCLive plot rows logged after `last_step` (the checkpoint a run resumes from).

    A run killed between two checkpoints has logged steps it will log again after resuming;
    without this the curves would hold those steps twice.
    """
    for tsv in Path(live_dir).glob("plots/metrics/**/*.tsv"):
        lines = tsv.read_text().splitlines()
        if not lines:
            continue
        kept = [lines[0]] + [line for line in lines[1:] if int(float(line.split("\t", 1)[0])) <= last_step]
        if len(kept) != len(lines):
            write_text_atomic(tsv, "\n".join(kept) + "\n")


CURVES = Path("plots") / "metrics"   # DVCLive's metric curves, relative to a DVCLive folder


def publish_curves(work_dir: str | os.PathLike, live_dir: str | os.PathLike) -> None:
    """Replace `<live_dir>/plots/metrics` (the stage's plots output) by the curves DVCLive wrote
    under `work_dir` (an empty folder if it wrote none), swapped in as a whole."""
    source = Path(work_dir) / CURVES
    with replacing_folder(Path(live_dir) / CURVES) as staging:
        if source.is_dir():
            shutil.copytree(source, staging, dirs_exist_ok=True)


def adopt_published_curves(live_dir: str | os.PathLike | None, work_dir: str | os.PathLike) -> None:
    """Before resuming: a checkpoint folder without curves (written before DVCLive wrote into it)
    takes the published ones, if any, so that the resumed run still keeps its whole curve."""
    source, target = (Path(live_dir) / CURVES if live_dir is not None else None), Path(work_dir) / CURVES
    if source is not None and source.is_dir() and not target.exists():
        shutil.copytree(source, target)
