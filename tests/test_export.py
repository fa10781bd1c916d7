"""`posegan export` (posegan/export.py): ONNX and TorchScript files that match PyTorch on CPU."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from posegan.export import decode_for_export, example_input, export_model, parity, run_exported
from posegan.heatmaps import decode_heatmaps, gaussian_heatmaps, heatmap_to_crop
from posegan.model_file import load_model
from posegan.predict_cli import posegan
from test_predict_cli import save_tiny_model

HAS_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
TOL = {"heatmaps": 1e-4, "depth": 1e-4, "confidence": 1e-4, "joints_2d": 1e-2}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model") / "adversarial.pt")


def test_decode_for_export_matches_decode_heatmaps():
    rng = np.random.default_rng(0)
    joints = rng.uniform(-2, 34, size=(3, 16, 2))                  # some off the map and on the border
    maps = gaussian_heatmaps(joints, 32) + rng.normal(0, 0.01, (3, 16, 32, 32)).astype(np.float32)
    maps[0, 0] = 0.0                                                # flat map: no refinement
    maps[1, 1] = -np.abs(maps[1, 1])                                # non-positive neighbours: quarter rule
    ours, conf = decode_for_export(torch.from_numpy(maps))
    xy, maxvals = decode_heatmaps(maps)
    assert np.abs(ours.numpy() - heatmap_to_crop(xy, 4)).max() < 1e-5
    assert np.abs(conf.numpy() - maxvals).max() == 0


@pytest.mark.parametrize("outputs", ["raw", "joints"])
@pytest.mark.parametrize("input_kind", ["uint8", "float"])
def test_torchscript_parity(model, tmp_path, outputs, input_kind):
    generator, info = load_model(model)
    path = export_model(generator, tmp_path / "g.ts.pt", "torchscript", 128, input_kind, outputs)
    diffs = parity(generator, path, "torchscript", 128, input_kind, outputs)
    print(f"torchscript {input_kind} {outputs}: max abs diff {diffs}")
    for name, diff in diffs.items():
        assert diff <= TOL[name], (name, diff)


@pytest.mark.skipif(not HAS_ORT, reason="onnx/onnxruntime not installed (pip install posegan[export])")
@pytest.mark.parametrize("outputs", ["raw", "joints"])
@pytest.mark.parametrize("input_kind", ["uint8", "float"])
def test_onnx_parity(model, tmp_path, outputs, input_kind):
    generator, info = load_model(model)
    path = export_model(generator, tmp_path / "g.onnx", "onnx", 128, input_kind, outputs)
    diffs = parity(generator, path, "onnx", 128, input_kind, outputs)     # batch 3; traced with batch 2
    print(f"onnx {input_kind} {outputs}: max abs diff {diffs}")
    for name, diff in diffs.items():
        assert diff <= TOL[name], (name, diff)


@pytest.mark.skipif(not HAS_ORT, reason="onnx/onnxruntime not installed (pip install posegan[export])")
def test_onnx_shapes_and_names(model, tmp_path):
    import onnx

    generator, _ = load_model(model)
    path = export_model(generator, tmp_path / "g.onnx", "onnx", 128, "uint8", "joints")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["images"]
    assert [o.name for o in graph.output] == ["joints_2d", "depth", "confidence"]
    joints, depth, conf = run_exported(path, "onnx", example_input("uint8", 128, batch=5))
    assert joints.shape == (5, 16, 2) and depth.shape == (5, 16) and conf.shape == (5, 16)
    assert (joints >= -0.5).all() and (joints <= 127.5).all()       # crop pixels


@pytest.mark.parametrize("fmt", ["torchscript"] + (["onnx"] if HAS_ORT else []))
def test_export_command(model, tmp_path, fmt):
    out = tmp_path / f"model.{fmt}"
    result = CliRunner().invoke(posegan, ["export", str(model), "--format", fmt, "--out", str(out),
                                          "--image-size", "128"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.exists() and not list(tmp_path.glob("*.tmp"))
    found = re.search(r"heatmaps ([0-9.e+-]+), depth ([0-9.e+-]+)", result.output)
    assert found, result.output
    assert float(found.group(1)) < 1e-4 and float(found.group(2)) < 1e-4


def test_export_rejects_a_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"models": {}, "optimizers": {}, "iteration": 1, "fingerprint": "f", "extra": {}}, path)
    result = CliRunner().invoke(posegan, ["export", str(path), "--format", "torchscript"])
    assert result.exit_code != 0 and "training checkpoint" in result.output
    assert not list(tmp_path.glob("last.ts*"))


def test_onnx_grid_pooling_needs_a_multiple_of_128(model, tmp_path):
    result = CliRunner().invoke(posegan, ["export", str(model), "--format", "onnx", "--image-size", "64",
                                          "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code != 0 and "multiple of 128" in result.output
    assert not list(tmp_path.iterdir())
