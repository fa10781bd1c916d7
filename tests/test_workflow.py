"""The user's DVC workflow end to end, with the real `dvc` and `git` CLIs in a temporary repo.

On a tiny configuration (64 px crops, a one-stack 16-feature hourglass, a handful of iterations):

- `dvc repro` runs the whole pipeline and writes every metric, model, table and figure; after
  it nothing is stale and a second `dvc repro` does nothing;
- a `dvc repro` killed (SIGKILL) during adversarial training resumes from its checkpoint on the
  next `dvc repro` and ends with the same weights as an unbroken run of the same seed;
- a changed param makes adversarial training start from scratch (the checkpoint fingerprint),
  and changing it back restores the earlier run's stages from DVC's run cache, byte for byte;
- `dvc exp run -S discriminator.sources=geo` makes an experiment that `dvc params diff`,
  `dvc metrics diff` and `dvc exp show` tell apart from the committed run, and
  `python -m stages.tables ablation` builds Table 2 from the two;
- a queued experiment runs the code as it was when it was queued (DVC snapshots the workspace,
  uncommitted changes to git-tracked files included, at `dvc exp run --queue`), imported from
  the experiment's own copy of the repo, not the workspace's code as it is when the queue runs
  nor an installed posegan.

- a resumed run keeps the whole training curve, a forced rerun of a finished stage works, and a
  queued experiment reuses the unchanged pretraining stages (dvc.lock says they did not change).

One pipeline run is shared (module fixture); tests that change anything work on copies of it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from dvc_repo import DvcRepo, make_dvc_repo

pytestmark = pytest.mark.slow

ADV_ITERATIONS = 40     # long enough for a kill to land mid-run (a checkpoint every 4)
ADV_CHECKPOINT_EVERY = 4


def _loop(iterations: int, **changes) -> dict:
    settings = {"iterations": iterations, "batch_size": 4, "lr": 2.5e-4, "lab_fraction": 0.5, "log_every": 1,
                "val_every": iterations, "checkpoint_every": iterations, "val_samples": 4, "workers": 0}
    return {**settings, **changes}


TINY_PARAMS = {
    "seed": 0,
    "data": {"source": "synthetic", "prepared_dir": "data/prepared", "image_size": 64,
             "synthetic": {"seed": 1, "lab_train_per_subject": 4, "lab_test_per_subject": 4, "wild_train": 8,
                           "wild_valid": 4, "cross_test": 7, "cross_valid": 4, "workers": 1}},
    "model": {"num_stacks": 1, "num_blocks": 1, "num_features": 16},
    "runtime": {"device": "cpu", "amp": False, "threads": 1},
    "discriminator": {"sources": "full", "width": 4, "embed_dim": 16, "hidden_dim": 16},
    "pretrain_2d": _loop(3),
    "pretrain_depth": _loop(3),
    "adversarial": {**_loop(ADV_ITERATIONS, val_every=20, checkpoint_every=ADV_CHECKPOINT_EVERY),
                    "lambda": 0.1, "lr_d": 1.0e-3},
    "evaluate": {"batch_size": 8, "workers": 0, "max_samples": 8},
    "tables": {"figure_samples": 2},
}
STAGES = ["preprocess", "pretrain_2d", "pretrain_depth", "adversarial", "evaluate", "tables"]
TABLES = [f"{name}.{ext}" for name in ("table1_h36m", "table2_limbs", "table3_mpii_pckh", "table4_3dhp")
          for ext in ("md", "csv")]
FIGURES = ["qualitative_h36m.png", "qualitative_mpii.png", "training_curves.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# Appended to the copy's posegan/train/adversarial.py: with WORKFLOW_CODE_LOG set, each import
# of the module logs a tag and the file it was imported from (the queued-experiment test).
CODE_LOG_ENV = "WORKFLOW_CODE_LOG"
CODE_LOG_HOOK = ("\n# workflow test: which copy of the code runs\n"
                 "import os as _os\n"
                 "if _os.environ.get({env!r}):\n"
                 "    with open(_os.environ[{env!r}], 'a') as _log:\n"
                 "        _log.write({tag!r} + ' ' + __file__ + '\\n')\n")
HOOKED_FILE = "posegan/train/adversarial.py"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> DvcRepo:
    """A repo in which `dvc repro` ran the whole tiny pipeline, its results committed."""
    repo = make_dvc_repo(tmp_path_factory.mktemp("pipeline"), params=TINY_PARAMS, commit=False)
    hooked = repo.path / HOOKED_FILE
    hooked.write_text(hooked.read_text() + CODE_LOG_HOOK.format(env=CODE_LOG_ENV, tag="committed"))
    repo.commit("tiny configuration")
    repo.dvc("repro")
    repo.commit("tiny pipeline run")
    return repo


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_state(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for key in a:
        assert torch.equal(a[key], b[key]), f"{what}: {key} differs"


def ran_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", output)


def test_repro_runs_the_whole_pipeline_then_nothing(pipeline):
    root = pipeline.path
    for stage in ("pretrain_2d", "pretrain_depth", "adversarial"):
        metrics = json.loads((root / f"metrics/{stage}.json").read_text())
        assert metrics["iterations"] == TINY_PARAMS[stage]["iterations"]
        assert 0.0 <= metrics["data_wait_share"] <= 1.0 and "val_pckh_wild" in metrics
        payload = load(root / f"models/{stage}.pt")
        assert payload["stage"] == stage and payload["iteration"] == TINY_PARAMS[stage]["iterations"]
    assert "discriminator" in load(root / "models/adversarial.pt")
    evaluation = json.loads((root / "metrics/evaluate.json").read_text())
    assert {"h36m", "mpii", "mpi_inf_3dhp", "pretrained", "mean_pose"} <= evaluation.keys()
    assert evaluation["h36m"]["samples"] == TINY_PARAMS["evaluate"]["max_samples"]
    assert sorted(p.name for p in (root / "reports/tables").iterdir()) == sorted(TABLES)
    assert "| Method |" in (root / "reports/tables/table2_limbs.md").read_text()
    assert sorted(p.name for p in (root / "figures").iterdir()) == sorted(FIGURES)
    for figure in FIGURES:
        assert (root / "figures" / figure).read_bytes()[:8] == PNG_SIGNATURE
    assert (root / "dvclive/adversarial/plots/metrics/val/mpjpe_lab.tsv").exists()
    assert not list(root.glob("**/*.tmp"))

    # Every stage recorded in dvc.lock; nothing stale; git sees only committed files.
    assert list(yaml.safe_load((root / "dvc.lock").read_text())["stages"]) == STAGES
    assert "Data and pipelines are up to date" in pipeline.dvc("status").stdout
    assert pipeline.git("status", "--porcelain").stdout == ""

    model_time = (root / "models/adversarial.pt").stat().st_mtime_ns
    start = time.perf_counter()
    again = pipeline.dvc("repro")
    seconds = time.perf_counter() - start
    assert ran_stages(again.stdout) == []
    assert all(f"Stage '{stage}' didn't change, skipping" in again.stdout for stage in STAGES)
    assert (root / "models/adversarial.pt").stat().st_mtime_ns == model_time
    assert seconds < 15, f"a dvc repro with nothing to do took {seconds:.1f} s"


@pytest.fixture(scope="module")
def killed_and_resumed(pipeline, tmp_path_factory) -> dict:
    """A copy in which `dvc repro` was SIGKILLed during adversarial training, then rerun."""
    repo = pipeline.copy(tmp_path_factory.mktemp("killed"))
    checkpoint = repo.path / "checkpoints/adversarial/last.pt"
    # Start adversarial training over (as after `dvc repro -f`); the committed run is the unbroken one.
    checkpoint.unlink()
    (repo.path / "models/adversarial.pt").unlink()
    # ... and as if that run had never finished: without this, dvc.lock and DVC's run cache record
    # it, and `dvc repro` would restore the committed run's outputs from the cache instead of
    # training (after the kill too, which is what a user wants, but not what this test is about).
    lock = yaml.safe_load((repo.path / "dvc.lock").read_text())
    del lock["stages"]["adversarial"]
    (repo.path / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    shutil.rmtree(repo.path / ".dvc/cache/runs")

    log_path = repo.path.parent / "killed_repro.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["dvc", "repro"], cwd=repo.path, env=repo.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 180
            while not checkpoint.exists():
                assert process.poll() is None, f"dvc repro ended before a checkpoint:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, "no adversarial checkpoint within 180 s"
                time.sleep(0.02)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # dvc and the stage it runs
            process.wait()
    killed = {"output": log_path.read_text(), "returncode": process.returncode, "pid": process.pid,
              "checkpoint_iteration": load(checkpoint)["iteration"],
              "model_left": (repo.path / "models/adversarial.pt").exists(),
              "rwlock": (repo.path / ".dvc/tmp/rwlock").read_text()}
    rerun = repo.dvc("repro")
    return {"repo": repo, "killed": killed, "rerun": rerun.stdout + rerun.stderr, "rerun_stdout": rerun.stdout}


def test_killed_adversarial_training_resumes_to_the_unbroken_weights(pipeline, killed_and_resumed):
    repo, killed = killed_and_resumed["repo"], killed_and_resumed["killed"]
    assert "Running stage 'adversarial'" in killed["output"], killed["output"]
    assert killed["returncode"] == -signal.SIGKILL
    killed_at = killed["checkpoint_iteration"]
    assert 0 < killed_at < ADV_ITERATIONS and killed_at % ADV_CHECKPOINT_EVERY == 0
    assert not killed["model_left"]
    # The dead dvc process was still listed in DVC's stage lock; the rerun removed it by itself.
    assert f'"pid": {killed["pid"]}' in killed["rwlock"]
    output = killed_and_resumed["rerun"]
    assert "had been killed. Auto removed it from the lock file" in output

    resumed = re.search(r"\[adversarial\] resuming from \S*last\.pt at iteration (\d+)/(\d+)", output)
    assert resumed, output
    assert int(resumed.group(1)) >= killed_at and int(resumed.group(2)) == ADV_ITERATIONS
    assert ran_stages(killed_and_resumed["rerun_stdout"])[0] == "adversarial"

    resumed_model = load(repo.path / "models/adversarial.pt")
    unbroken_model = load(pipeline.path / "models/adversarial.pt")
    assert resumed_model["iteration"] == unbroken_model["iteration"] == ADV_ITERATIONS
    assert_same_state(resumed_model["generator"], unbroken_model["generator"], "generator")
    assert_same_state(resumed_model["discriminator"], unbroken_model["discriminator"], "discriminator")
    assert load(repo.path / "checkpoints/adversarial/last.pt")["iteration"] == ADV_ITERATIONS
    assert "Data and pipelines are up to date" in repo.dvc("status").stdout


def train_steps(repo: DvcRepo, stage: str, metric: str) -> list[int]:
    with open(repo.path / f"dvclive/{stage}/plots/metrics/train/{metric}.tsv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f, delimiter="\t")]


def test_resumed_training_keeps_the_whole_training_curve(killed_and_resumed):
    assert train_steps(killed_and_resumed["repo"], "adversarial", "g_loss") == list(range(1, ADV_ITERATIONS + 1))


def test_a_forced_rerun_of_a_finished_stage_succeeds(pipeline, tmp_path):
    repo = pipeline.copy(tmp_path)
    result = repo.dvc("repro", "-f", "-s", "adversarial", check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert train_steps(repo, "adversarial", "g_loss") == list(range(1, ADV_ITERATIONS + 1))


def test_a_changed_param_trains_from_scratch_and_changing_it_back_uses_the_run_cache(pipeline, tmp_path):
    repo = pipeline.copy(tmp_path)
    old = load(repo.path / "checkpoints/adversarial/last.pt")
    assert old["iteration"] == ADV_ITERATIONS  # a finished run's checkpoint is there to be (wrongly) reused
    repo.set_params({"adversarial": {"lr_d": 2.0e-3}})

    result = repo.dvc("repro")
    assert ran_stages(result.stdout) == ["adversarial", "evaluate", "tables"]
    assert "resuming" not in result.stdout + result.stderr
    assert re.search(rf"adversarial:\s+0%.*\s0/{ADV_ITERATIONS}\b", result.stderr), result.stderr
    new = load(repo.path / "checkpoints/adversarial/last.pt")
    assert new["fingerprint"] != old["fingerprint"] and new["iteration"] == ADV_ITERATIONS
    trained = load(repo.path / "models/adversarial.pt")
    before = load(pipeline.path / "models/adversarial.pt")
    assert any(not torch.equal(trained["generator"][k], before["generator"][k]) for k in before["generator"])
    # One fresh curve, not one appended to the old run's.
    assert train_steps(repo, "adversarial", "g_loss") == list(range(1, ADV_ITERATIONS + 1))

    # Back to the committed params: no stage runs; DVC's run cache restores the committed run's
    # model, metrics and curves (the training stages have no persist output, which would keep
    # them out of the run cache), so git sees exactly the committed files again.
    repo.git("checkout", "--", "params.yaml")
    result = repo.dvc("repro")
    assert ran_stages(result.stdout) == []
    for stage in ("adversarial", "evaluate", "tables"):
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in result.stdout, result.stdout
    assert repo.git("status", "--porcelain").stdout == ""
    assert ((repo.path / "models/adversarial.pt").read_bytes() ==
            (pipeline.path / "models/adversarial.pt").read_bytes())


def _experiment(exp_show: list, name: str) -> dict:
    """The finished revision of experiment `name` in `dvc exp show --json`."""
    for record in exp_show:
        for experiment in record.get("experiments") or []:
            if experiment["name"] == name:
                assert len(experiment["revs"]) == 1
                return experiment["revs"][0]
    raise AssertionError(f"experiment {name!r} not in dvc exp show: {json.dumps(exp_show)[:2000]}")


def _file(data: dict, section: str, path: str) -> dict:
    return data[section][path]["data"]


def test_exp_run_geo_differs_and_the_ablation_table_has_both(pipeline, tmp_path):
    repo = pipeline.copy(tmp_path)
    head = repo.git("rev-parse", "HEAD").stdout.strip()
    committed = json.loads((repo.path / "metrics/evaluate.json").read_text())

    result = repo.dvc("exp", "run", "-n", "geo", "-S", "discriminator.sources=geo")
    assert ran_stages(result.stdout) == ["adversarial", "evaluate", "tables"]
    assert "resuming" not in result.stdout + result.stderr
    geo = json.loads((repo.path / "metrics/evaluate.json").read_text())
    assert geo["h36m"]["mpjpe"] != committed["h36m"]["mpjpe"]
    assert "discriminator" in load(repo.path / "models/adversarial.pt")  # geo still trains a discriminator

    # The workspace holds the experiment: params and metrics diffs against the commit show it.
    params = json.loads(repo.dvc("params", "diff", "--json").stdout)["params.yaml"]
    assert params == {"discriminator.sources": {"old": "full", "new": "geo"}}
    metrics = json.loads(repo.dvc("metrics", "diff", "--json").stdout)
    assert metrics["metrics/evaluate.json"]["h36m.mpjpe"] == {
        "old": committed["h36m"]["mpjpe"], "new": geo["h36m"]["mpjpe"],
        "diff": pytest.approx(geo["h36m"]["mpjpe"] - committed["h36m"]["mpjpe"])}
    assert "final_g_loss" in metrics["metrics/adversarial.json"]
    assert "metrics/pretrain_2d.json" not in metrics  # stages before adversarial did not change

    exp_show = json.loads(repo.dvc("exp", "show", "--json").stdout)
    experiment = _experiment(exp_show, "geo")
    assert _file(experiment["data"], "params", "params.yaml")["discriminator"]["sources"] == "geo"
    assert _file(experiment["data"], "metrics", "metrics/evaluate.json")["h36m"]["mpjpe"] == geo["h36m"]["mpjpe"]
    baseline = next(r for r in exp_show if r["rev"] == head)
    assert _file(baseline["data"], "params", "params.yaml")["discriminator"]["sources"] == "full"

    table = repo.run("python", "-m", "stages.tables", "ablation", "--out-dir", "ablation")
    assert "ablation: 2 rows" in table.stdout, table.stdout + table.stderr
    with open(repo.path / "ablation/table2.csv", newline="") as f:
        rows = {row["Experiments"]: row for row in csv.DictReader(f)}
    branch = repo.git("branch", "--show-current").stdout.strip()
    assert set(rows) == {branch, "geo"}
    for label, metrics_json, method in ((branch, committed, "Full"), ("geo", geo, "Geo")):
        row = rows[label]
        assert row["Method"] == method
        limbs = metrics_json["h36m"]["limbs"]
        for key, column in (("upper_arms", "U.Arms"), ("lower_arms", "L.Arms"), ("upper_legs", "U.Legs"),
                            ("lower_legs", "L.Legs"), ("mean", "Mean")):
            assert float(row[column]) == pytest.approx(limbs[key], abs=0.006), (label, column)
    assert (repo.path / "ablation/table2.md").read_text().count("| Geo |") == 1


def _wait_for_queue(repo: DvcRepo, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = repo.dvc("queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        assert time.monotonic() < deadline, f"the experiment queue did not finish in {timeout} s:\n{status}"
        time.sleep(2)


@pytest.fixture(scope="module")
def queued_experiment(pipeline, tmp_path_factory) -> dict:
    """A copy in which one experiment was queued, the workspace's code then changed (uncommitted),
    and the queue run. The committed code logs each import of the adversarial loop."""
    repo = pipeline.copy(tmp_path_factory.mktemp("queued"))
    code_log = repo.path.parent / "code_log.txt"
    repo.env[CODE_LOG_ENV] = str(code_log)
    repo.dvc("exp", "run", "--queue", "-n", "queued", "-S", "adversarial.lr_d=0.002")
    # Queued experiments snapshot the workspace when queued; what changes after must not run.
    code = repo.path / HOOKED_FILE
    changed = (code.read_text().replace("'committed'", "'workspace'") +
               "raise RuntimeError(\"the workspace's uncommitted code ran\")\n")
    code.write_text(changed)
    repo.dvc("queue", "start")
    status = _wait_for_queue(repo)
    logs = repo.dvc("queue", "logs", "queued", check=False).stdout
    return {"repo": repo, "status": status, "logs": logs, "workspace_code": changed,
            "code_log": code_log.read_text().splitlines() if code_log.exists() else []}


def test_a_queued_experiment_runs_the_committed_code(queued_experiment):
    repo, logs = queued_experiment["repo"], queued_experiment["logs"]
    assert re.search(r"\bqueued\b.*\bSuccess\b", queued_experiment["status"]), queued_experiment["status"] + logs
    logged = queued_experiment["code_log"]
    assert logged, f"the queued experiment never imported {HOOKED_FILE}:\n{logs}"
    for line in logged:
        tag, path = line.split(" ", 1)
        assert tag == "committed", logged
        # Imported from the experiment's own copy, not from the workspace or an installed posegan.
        assert Path(path).is_relative_to(repo.path / ".dvc/tmp/exps"), logged
    assert (repo.path / HOOKED_FILE).read_text() == queued_experiment["workspace_code"]  # left as it was

    experiment = _experiment(json.loads(repo.dvc("exp", "show", "--json").stdout), "queued")
    assert _file(experiment["data"], "params", "params.yaml")["adversarial"]["lr_d"] == 0.002
    exp_metrics = _file(experiment["data"], "metrics", "metrics/adversarial.json")
    assert exp_metrics["iterations"] == ADV_ITERATIONS
    committed_metrics = json.loads((repo.path / "metrics/adversarial.json").read_text())
    assert exp_metrics["final_d_loss"] != committed_metrics["final_d_loss"]
    assert "Running stage 'adversarial'" in logs and "resuming" not in logs


def test_a_queued_experiment_reuses_the_unchanged_stages(queued_experiment):
    assert ran_stages(queued_experiment["logs"]) == ["adversarial", "evaluate", "tables"]
