"""Is the CPU pipeline as fast as before? Time the same training stages at two git revisions.

    python benchmarks/compare_revisions.py OLD_REV [NEW_REV] [--stages pretrain_depth,adversarial]
        [--iterations 300] [--repeats 2] [--out benchmarks/results/cpu_revisions.json]

Each revision is checked out into a temporary git worktree that shares this checkout's
prepared data and models (data/prepared, models/*.pt, by symlink), and each stage runs there
as the pipeline runs it (`python -m stages.<stage>`, with that revision's own params.yaml and
only `<stage>.iterations` shortened and validation pushed past the end). The figure compared is
the stage's own `train_seconds` (the loop, without start-up), from its metrics file. Runs of
the two revisions alternate, so drift in the machine's speed hits both alike.
Writes a JSON list of records: revision, stage, repeat, iterations, train_seconds,
images_per_s; and prints the ratio old/new time per stage (>= 1.0: the new one is not slower).
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
sys.path.insert(0, str(ROOT))
from posegan.config import load_yaml  # noqa: E402  (the params loader: 1e-4 is a number)
from stages.cli import clear_errors  # noqa: E402


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def prepare_worktree(rev: str, folder: Path) -> Path:
    git("worktree", "add", "--detach", str(folder), rev)
    for shared in ("data/prepared", "models"):
        target = folder / shared
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            continue
        target.symlink_to(ROOT / shared)
    return folder


def run_stage(tree: Path, stage: str, iterations: int) -> dict:
    params = load_yaml((tree / "params.yaml").read_text(), str(tree / "params.yaml"))
    if not isinstance(params.get(stage), dict) or "batch_size" not in params[stage]:
        raise click.ClickException(f"{tree / 'params.yaml'}: no section {stage} with a batch_size "
                                   f"(--stages takes training stages: pretrain_2d, pretrain_depth, adversarial)")
    params[stage]["iterations"] = iterations
    params[stage]["val_every"] = 10 * iterations
    params[stage]["checkpoint_every"] = 10 * iterations
    (tree / "bench-params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for folder in (tree / "checkpoints" / stage, tree / "dvclive" / stage):
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-m", f"stages.{stage}", "--params", "bench-params.yaml", "--no-progress"],
                          cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise click.ClickException(f"stage {stage} failed at {tree.name}: {last}")
    metrics = json.loads((tree / "metrics" / f"{stage}.json").read_text())
    return {"iterations": iterations, "train_seconds": metrics["train_seconds"],
            "images_per_s": round(iterations * params[stage]["batch_size"] / metrics["train_seconds"], 1)}


@click.command()
@click.argument("old_rev")
@click.argument("new_rev", default="HEAD")
@click.option("--stages", default="pretrain_depth,adversarial", show_default=True)
@click.option("--iterations", default=300, show_default=True)
@click.option("--repeats", default=2, show_default=True)
@click.option("--out", "out_path", default=None)
@clear_errors
def main(old_rev: str, new_rev: str, stages: str, iterations: int, repeats: int, out_path: str | None) -> None:
    records = []
    with tempfile.TemporaryDirectory(prefix="revisions-") as scratch:
        trees = {}
        try:
            for rev in (old_rev, new_rev):
                trees[rev] = prepare_worktree(git("rev-parse", rev), Path(scratch) / rev.replace("/", "_"))
                # models/ must be writable per tree: replace the link by a folder of links.
                models = trees[rev] / "models"
                models.unlink()
                models.mkdir()
                for item in (ROOT / "models").glob("*.pt"):
                    (models / item.name).symlink_to(item)
            for repeat in range(repeats):
                for stage in stages.split(","):
                    for rev in (old_rev, new_rev):
                        target = trees[rev] / "models" / f"{stage}.pt"
                        if target.is_symlink():
                            target.unlink()   # the stage writes its own model file, not the shared one
                        record = {"revision": rev, "commit": git("rev-parse", rev), "stage": stage,
                                  "repeat": repeat, **run_stage(trees[rev], stage, iterations)}
                        click.echo(json.dumps(record))
                        records.append(record)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    for stage in stages.split(","):
        old = sum(r["train_seconds"] for r in records if r["stage"] == stage and r["revision"] == old_rev)
        new = sum(r["train_seconds"] for r in records if r["stage"] == stage and r["revision"] == new_rev)
        click.echo(f"{stage}: {old_rev} {old:.1f} s, {new_rev} {new:.1f} s, ratio old/new {old / new:.3f}")
    if out_path:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        Path(out_path).write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
