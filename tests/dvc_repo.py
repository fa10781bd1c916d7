"""A throw-away git + DVC repository holding a copy of the project, for end-to-end tests.

    from dvc_repo import make_dvc_repo

    def test_something(tmp_path):
        repo = make_dvc_repo(tmp_path, params={"data": {"synthetic": {"wild_train": 4}}})
        repo.dvc("repro", "preprocess")          # raises AssertionError with the output on failure
        assert (repo.path / "data/prepared/h36m_train.h5").exists()

Everything DVC and git would read or write outside the repository is pointed inside
`tmp_path`: HOME, DVC_GLOBAL_CONFIG_DIR, DVC_SITE_CACHE_DIR; analytics are off and a git
identity is set in the environment. The virtual environment running the tests comes first
on PATH, so `dvc` and the stages' `python` are the project's. Stage commands run as
`python -m stages.<name>` from the copy's root, so they import the copied code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# What the pipeline and its documented commands need; tests may pass more (for example "metrics").
DEFAULT_FILES = ("dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore", ".dvcignore", "posegan", "stages",
                 "scripts")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")


def deep_update(base: dict, overrides: dict) -> dict:
    """Merge `overrides` into `base` recursively (nested dicts merge, other values replace)."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


@dataclass
class DvcRepo:
    path: Path
    env: dict

    def run(self, *cmd: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a command in the repository; with check, a non-zero exit fails with its output."""
        result = subprocess.run(list(cmd), cwd=self.path, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}\n"
                                 f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        return result

    def dvc(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return self.run("dvc", *args, check=check, timeout=timeout)

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("git", *args, check=check)

    def read_params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def set_params(self, overrides: dict) -> None:
        """Merge overrides into the copy's params.yaml (comments are not kept)."""
        params = deep_update(self.read_params(), overrides)
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def commit(self, message: str = "update") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def copy(self, tmp_path: Path) -> "DvcRepo":
        """A full copy (git history, DVC cache, outputs, checkpoints) in tmp_path/repo, with its
        own isolated environment; DVC's runtime folder (.dvc/tmp: locks, queue) is not copied."""
        tmp_path = Path(tmp_path)
        shutil.copytree(self.path, tmp_path / "repo", symlinks=True,
                        ignore=lambda folder, names: ["tmp"] if Path(folder) == self.path / ".dvc" else [])
        return DvcRepo(tmp_path / "repo", isolated_env(tmp_path))


def isolated_env(root: Path) -> dict:
    """Environment for git and DVC with every user-level location inside `root`."""
    home = root / "home"
    for folder in (home, root / "dvc_global", root / "dvc_site_cache"):
        folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    env.update({
        "HOME": str(home),
        "DVC_GLOBAL_CONFIG_DIR": str(root / "dvc_global"),
        "DVC_SITE_CACHE_DIR": str(root / "dvc_site_cache"),
        "DVC_NO_ANALYTICS": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "posegan tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "posegan tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.pop("PYTHONPATH", None)
    return env


def make_dvc_repo(tmp_path: Path, params: dict | None = None, files=DEFAULT_FILES, commit: bool = True) -> DvcRepo:
    """Copy `files` (paths relative to the project root) into tmp_path/repo, overlay `params`
    on params.yaml, then git init + dvc init (+ a first commit)."""
    tmp_path = Path(tmp_path)
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    for name in files:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo_dir / name, ignore=_IGNORE)
        elif source.exists():
            (repo_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo_dir / name)
        else:
            raise FileNotFoundError(f"make_dvc_repo: {source} does not exist")
    repo = DvcRepo(repo_dir, isolated_env(tmp_path))
    if params:
        repo.set_params(params)
    repo.git("init", "-q")
    repo.dvc("init", "-q")
    if commit:
        repo.commit("initial copy of the project")
    return repo
