"""Export a trained generator to ONNX or TorchScript (what `posegan export` runs).

The exported network (`ExportedGenerator`):

Input `images`, one of (choose with `input_kind`):
- "uint8" (default): uint8 (B, S, S, 3) RGB crops, the prepared-data layout; the network
  normalises them itself (x / 127.5 - 1).
- "float": float32 (B, 3, S, S) already normalised as `posegan.models.normalize_images` does:
  x / 127.5 - 1, values in [-1, 1].
S is the crop side the model was trained at (params.yaml data.image_size, 128 by default);
the batch axis is dynamic. A crop is the square around the person (see
posegan/predict_images.py for how `posegan predict` makes one from a box).

Outputs, one of (choose with `outputs`):
- "raw": `heatmaps` float32 (B, 16, S/4, S/4), the last stack's heatmaps, and `depth`
  float32 (B, 16), each joint's depth relative to the pelvis in heatmap pixels at the root's
  distance (weak perspective).
- "joints": `joints_2d` float32 (B, 16, 2), (x, y) in crop pixels (pixel centres at integers),
  decoded from the heatmaps exactly as evaluation does (argmax + sub-pixel refinement,
  `posegan.heatmaps.decode_heatmaps`); `depth` as above; `confidence` (B, 16), each
  heatmap's maximum.
Joints are in MPII order (posegan.skeleton.JOINT_NAMES). Heatmap coordinates are
(joints_2d + 0.5) / 4 - 0.5; with `depth` they give the pose in heatmap pixels, one unit on
all three axes (subtract the pelvis, joint 6, for the root-relative pose; `posegan predict`
scales it to millimetres).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posegan.atomic_files import replacing
from posegan.heatmaps import subpixel_offset
from posegan.heatmaps import HEATMAP_STRIDE
from posegan.models import Generator

FORMATS = ("onnx", "torchscript")
OUTPUTS = ("raw", "joints")
INPUT_KINDS = ("uint8", "float")
OUTPUT_NAMES = {"raw": ["heatmaps", "depth"], "joints": ["joints_2d", "depth", "confidence"]}


def decode_for_export(heatmaps: Tensor, stride: int = HEATMAP_STRIDE) -> tuple[Tensor, Tensor]:
    """`decode_heatmaps` written with gather and arithmetic only (traceable, ONNX-friendly),
    then mapped to crop pixels. heatmaps (B, P, H, W) -> joints (B, P, 2) crop px, maxvals (B, P)."""
    b, p, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, p, h * w)
    maxvals, index = flat.max(dim=2)
    iy = torch.div(index, w, rounding_mode="floor")
    ix = index - iy * w

    def value(y: Tensor, x: Tensor) -> Tensor:
        pos = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)
        return torch.gather(flat, 2, pos.unsqueeze(2)).squeeze(2)

    dx = subpixel_offset(value(iy, ix - 1), maxvals, value(iy, ix + 1), (ix > 0) & (ix < w - 1))
    dy = subpixel_offset(value(iy - 1, ix), maxvals, value(iy + 1, ix), (iy > 0) & (iy < h - 1))
    coords = torch.stack([ix.to(heatmaps.dtype) + dx, iy.to(heatmaps.dtype) + dy], dim=-1)
    return (coords + 0.5) * stride - 0.5, maxvals


class ExportedGenerator(nn.Module):
    """A generator with its input normalisation and (optionally) decoding built in (see module doc)."""

    def __init__(self, generator: Generator, input_kind: str = "uint8", outputs: str = "raw"):
        super().__init__()
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input kind must be one of {INPUT_KINDS}, got {input_kind!r}")
        if outputs not in OUTPUTS:
            raise ValueError(f"outputs must be one of {OUTPUTS}, got {outputs!r}")
        self.generator = generator.eval()
        self.input_kind = input_kind
        self.outputs = outputs

    def forward(self, images: Tensor):
        if self.input_kind == "uint8":
            images = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        out = self.generator(images)
        heatmaps = out.heatmaps[-1]
        if self.outputs == "raw":
            return heatmaps, out.depth
        joints, confidence = decode_for_export(heatmaps)
        return joints, out.depth, confidence


def example_input(input_kind: str, image_size: int, batch: int = 2, seed: int = 0) -> Tensor:
    """A random input of the exported network's kind (for tracing and parity checks)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(batch, image_size, image_size, 3), dtype=np.uint8)
    if input_kind == "uint8":
        return torch.from_numpy(images)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()


def export_model(generator: Generator, path: str | Path, fmt: str, image_size: int, input_kind: str = "uint8",
                 outputs: str = "raw", opset: int = 17) -> Path:
    """Write the exported network to `path` (atomically) and return the path."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    path = Path(path)
    module = ExportedGenerator(generator.float().cpu().eval(), input_kind, outputs).eval()
    example = example_input(input_kind, image_size)
    with replacing(path, unique=True) as tmp, torch.no_grad(), warnings.catch_warnings():
        # shape checks in forward are constant for the traced size; the batch axis stays dynamic
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        if fmt == "torchscript":
            traced = torch.jit.trace(module, (example,), check_trace=False)
            traced.save(str(tmp))
        else:
            torch.onnx.export(module, (example,), str(tmp), dynamo=False, opset_version=opset,
                              input_names=["images"], output_names=OUTPUT_NAMES[outputs],
                              dynamic_axes={name: {0: "batch"} for name in ["images", *OUTPUT_NAMES[outputs]]})
    return path


def reference_outputs(generator: Generator, images: Tensor, input_kind: str, outputs: str) -> list[np.ndarray]:
    """The PyTorch outputs the exported file must reproduce (through the pipeline's own
    normalize_images and decode_heatmaps, not the export wrapper)."""
    from posegan.heatmaps import decode_heatmaps, heatmap_to_crop
    from posegan.models import normalize_images

    generator = generator.float().cpu().eval()
    with torch.no_grad():
        x = normalize_images(images) if input_kind == "uint8" else images
        out = generator(x)
        heatmaps = out.heatmaps[-1]
        if outputs == "raw":
            return [heatmaps.numpy(), out.depth.numpy()]
        xy, maxvals = decode_heatmaps(heatmaps)
        return [heatmap_to_crop(xy.numpy(), HEATMAP_STRIDE).astype(np.float32), out.depth.numpy(), maxvals.numpy()]


def run_exported(path: str | Path, fmt: str, images: Tensor) -> list[np.ndarray]:
    """Run an exported file on CPU (onnxruntime for ONNX, torch.jit for TorchScript)."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return [np.asarray(a) for a in session.run(None, {"images": images.numpy()})]
    module = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return [t.numpy() for t in module(images)]


def parity(generator: Generator, path: str | Path, fmt: str, image_size: int, input_kind: str = "uint8",
           outputs: str = "raw", batch: int = 3, seed: int = 1) -> dict[str, Any]:
    """Max abs difference per output between the exported file and PyTorch, on a fresh
    random batch of another size than the one traced (checks the dynamic batch axis)."""
    images = example_input(input_kind, image_size, batch=batch, seed=seed)
    ours = run_exported(path, fmt, images)
    ref = reference_outputs(generator, images, input_kind, outputs)
    result = {}
    for name, a, b in zip(OUTPUT_NAMES[outputs], ours, ref):
        if a.shape != b.shape:
            raise AssertionError(f"{path}: output {name} has shape {a.shape}, PyTorch gives {b.shape}")
        result[name] = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    return result
