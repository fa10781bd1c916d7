import os
import shutil
import sys
from pathlib import Path

import pytest
from filelock import FileLock

# Under pytest-xdist (`pytest -n auto`) each worker runs one test at a time on its own core: one
# torch thread per worker, and for the processes its tests start, instead of every worker
# spreading over all cores and stalling the others. Set before torch is first imported.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Test helpers (fakes.py, dvc_repo.py, ...) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))

from fakes import SCRIPT_PARAMS, pretrained_run_folder  # noqa: E402

# The longest modules first, so that under pytest-xdist they start at once on separate workers
# while the many short ones fill in around them (the order in a serial run does not matter).
SLOW_FIRST = ("test_workflow.py", "test_compile.py", "test_distributed.py", "test_screen_adversarial.py",
              "test_sweep_lambda.py", "test_models.py", "test_training.py")


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist turns -n without --dist into --dist load
def pytest_cmdline_main(config):
    """`pytest -n N` (or `-n auto`) without --dist runs each module on one worker (xdist's
    loadfile: module-scoped fixtures such as test_workflow's pipeline run are built once, not
    once per worker), modules in the order `pytest_collection_modifyitems` leaves them (xdist
    would reorder them by their number of tests). An explicit --dist is left as it is."""
    if (config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None)
            and config.getoption("dist") == "no"):
        config.option.dist = "loadfile"
        config.option.loadscopereorder = False


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))   # stable: within a module as written


@pytest.fixture(scope="session")
def pretrained_script_template(tmp_path_factory) -> Path:
    """One run folder with fake data and both pretraining stages run (two stage processes), for
    the tests of the scripts that start from it; they each work on a copy. Under pytest-xdist
    the workers share it: the first to need it builds it in the run's common temporary folder
    while the others wait on the lock."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent                      # each worker's basetemp is a folder in the run's
    root = base / "pretrained_script_run"
    with FileLock(f"{root}.lock"):
        if not Path(f"{root}.done").exists():
            shutil.rmtree(root, ignore_errors=True)   # left by a build that failed
            root.mkdir()
            pretrained_run_folder(root, SCRIPT_PARAMS)
            Path(f"{root}.done").touch()
    return root


@pytest.fixture()
def pretrained_script_run(pretrained_script_template, tmp_path) -> Path:
    """A copy of `pretrained_script_template` in tmp_path (params.yaml, data/prepared, models, ...)."""
    shutil.copytree(pretrained_script_template, tmp_path, dirs_exist_ok=True)
    return tmp_path
