"""The shared helpers for atomic writes and evenly spaced subsets."""


import numpy as np
import pytest

from posegan.atomic_files import replacing, replacing_folder, temporary_path, write_json_atomic, write_text_atomic
from posegan.subsets import evenly_spaced


def test_evenly_spaced_by_hand():
    assert evenly_spaced(10, 4).tolist() == [0, 3, 6, 9]
    assert evenly_spaced(5, 3).tolist() == [0, 2, 4]
    assert evenly_spaced(3, 10).tolist() == [0, 1, 2]
    assert evenly_spaced(4, None).tolist() == [0, 1, 2, 3]
    assert evenly_spaced(0, 5).tolist() == []
    assert evenly_spaced(7, 1).tolist() == [0]
    assert evenly_spaced(10, 4).dtype == np.int64


def test_evenly_spaced_matches_the_old_formula():
    for n in (1, 2, 17, 600, 1050):
        for count in (1, 2, 5, 200, 256):
            old = np.unique(np.linspace(0, n - 1, min(n, count)).round().astype(np.int64))
            assert evenly_spaced(n, count).tolist() == old.tolist()


def test_atomic_writes(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(target, {"b": 1, "a": 2}, sort_keys=True)
    assert target.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    write_text_atomic(target, "x")
    assert target.read_text() == "x"
    assert not temporary_path(target).exists()


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert not temporary_path(target).exists()


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.npz").write_text("old")
    with replacing_folder(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and not list(tmp.iterdir())
        (tmp / "new.npz").write_text("new")
        assert (target / "stale.npz").exists()        # the old folder stays until the block ends
    assert [p.name for p in target.iterdir()] == ["new.npz"]
    with pytest.raises(RuntimeError):
        with replacing_folder(target) as tmp:
            (tmp / "half.npz").write_text("half")
            raise RuntimeError("killed")
    assert [p.name for p in target.iterdir()] == ["new.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]      # no temporary or old folder left


def test_each_stage_depends_on_the_modules_it_imports():
    """dvc.yaml's code deps of each stage are exactly what its command imports: every imported
    project module is covered (a file, or a folder holding it), and every listed code file or
    folder is imported (so editing, e.g., how evaluation results are written does not retrain)."""
    from pathlib import Path

    import yaml

    from tests.import_closure import import_closure

    root = Path(__file__).resolve().parents[1]
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        module = stage["cmd"].split("python -m ", 1)[1].split()[0]
        imported = {p.relative_to(root).as_posix() for p in import_closure(root, module)}
        code_deps = [d for d in stage["deps"] if isinstance(d, str) and d.startswith(("posegan", "stages"))]
        for path in imported:
            assert any(path == d or path.startswith(d.rstrip("/") + "/") for d in code_deps), \
                f"stage {name} imports {path} but dvc.yaml does not list it"
        for dep in code_deps:
            assert any(p == dep or p.startswith(dep.rstrip("/") + "/") for p in imported), \
                f"stage {name} lists {dep} in dvc.yaml but does not import it"


def test_every_stage_can_be_restored_from_the_run_cache():
    """DVC keeps no run-cache entry for a stage with a `persist` output or a plain output with
    `cache: false` (metrics and plots with `cache: false` are allowed: DVC stores them in the run
    cache all the same). Training checkpoints live in git-ignored checkpoints/, no output of any
    stage; the metrics stay git-tracked (cache: false) so that ablations can be diffed."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        declared = {kind: [e if isinstance(e, dict) else {e: {}} for e in stage.get(kind, [])]
                    for kind in ("outs", "metrics", "plots")}
        for kind, entries in declared.items():
            for entry in entries:
                (path, options), = entry.items()
                options = options or {}
                assert not options.get("persist", False), f"stage {name}: {path} is persist: true"
                assert not (kind == "outs" and options.get("cache", True) is False), \
                    f"stage {name}: output {path} has cache: false"
                assert not path.startswith("checkpoints"), f"stage {name}: {path} is an output"
    metrics = {path: options for entry in stages["evaluate"]["metrics"] for path, options in entry.items()}
    assert metrics == {"metrics/evaluate.json": {"cache": False}, "metrics/headline.json": {"cache": False}}
    for stage in ("pretrain_2d", "pretrain_depth", "adversarial"):
        assert stages[stage]["metrics"] == [{f"metrics/{stage}.json": {"cache": False}}]
    assert "/checkpoints/" in (root / ".gitignore").read_text().splitlines()


def test_loader_workers_from_the_machine():
    from posegan.train.loop_setup import loader_workers

    assert loader_workers(3) == 3 and loader_workers(0) == 0
    assert loader_workers("auto", cores=16) == 7
    assert loader_workers("auto", cores=2) == 1
    assert loader_workers("auto", streams=1, cores=8) == 7
