"""The model file, models/<stage>.pt: written by the training stages, read by everything else.

A model file is a dict of plain tensors and JSON-able values:
`stage`, `iteration`, `model_params` (the `ModelSettings` the network was built from),
`image_size` (the crop side it was trained at), the `generator` state dict, and after the
adversarial stage the `discriminator` state dict. `model_payload` makes one; `read_model_file`
checks one and `load_model` / `load_generator_weights` load one. Files are read with
`torch.load(..., weights_only=True)`, so a file cannot run code when it is opened.

Files written before `image_size` was stored: `image_size` falls back to the pipeline's
default `data.image_size` (128). Files written before the runtime keys left the `model`
section hold device, amp and threads in `model_params`; they are ignored.

`load_model`'s info also holds the file's `md5` (the hash DVC records for it in dvc.lock), so
that results can name the exact weights: `dvc exp run` overwrites models/<stage>.pt.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import torch

from posegan.models import Generator
from posegan.models.generator import ModelSettings
from posegan.errors import PoseganError

DEFAULT_IMAGE_SIZE = 128     # params.yaml data.image_size default
EXPECTED = "a posegan model file (models/<stage>.pt written by a training stage: keys 'generator' and 'model_params')"


# The stage whose model files have an untrained depth regressor (it trains the 2D module only).
NO_DEPTH_STAGE = "pretrain_2d"


class ModelFileError(PoseganError, ValueError):
    """The file is missing, unreadable, or not a posegan model file. The message is one line."""


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip with a code/ folder (torch.load would hand it to torch.jit.load)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The payload of a model file; ModelFileError (one line, naming the file) otherwise."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found; expected {EXPECTED}")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder; expected {EXPECTED}")
    if _is_torchscript(path):
        raise ModelFileError(f"{path}: is a TorchScript archive (e.g. written by posegan export), not a model file; "
                             f"expected {EXPECTED}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch's unpickler raises many types for a foreign file
        line = _one_line(err)
        detail = type(err).__name__ + (f": {line}" if len(line) <= 80 and line != type(err).__name__ else "")
        raise ModelFileError(f"{path}: not a torch file that can be read safely ({detail}); "
                             f"expected {EXPECTED}") from err
    if isinstance(payload, dict) and "fingerprint" in payload and "models" in payload:
        raise ModelFileError(f"{path}: is a training checkpoint (checkpoints/<stage>/last.pt), not a model file; "
                             f"expected {EXPECTED}, e.g. models/adversarial.pt")
    if not isinstance(payload, dict) or "generator" not in payload or "model_params" not in payload:
        what = f"a dict with keys {sorted(map(str, payload))[:6]}" if isinstance(payload, dict) \
            else f"a {type(payload).__name__}"
        raise ModelFileError(f"{path}: holds {what}; expected {EXPECTED}")
    return payload


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[Generator, dict[str, Any]]:
    """(generator in eval mode on `device`, info) from a model file.

    info: the payload without the state dicts (stage, iteration, model_params, ...) plus
    `path` (str) and `image_size` (see module docstring).
    """
    payload = read_model_file(path)
    try:
        generator = Generator.build(ModelSettings.from_model_file(payload["model_params"]))
        generator.load_state_dict(payload["generator"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{path}: its weights do not fit the generator of its model_params "
                             f"{payload['model_params']} ({_one_line(err)}); expected {EXPECTED}") from err
    generator.to(device).eval()
    info = {k: v for k, v in payload.items() if k not in ("generator", "discriminator")}
    info["path"] = str(path)
    info["image_size"] = image_size(payload)
    info["md5"] = file_md5(path)
    return generator, info


def file_md5(path: str | Path) -> str:
    """The MD5 of a file's bytes, as DVC computes it for dvc.lock."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def depth_trained(info: dict[str, Any]) -> bool:
    """Whether the model file's depth regressor was trained (not a pretrain_2d file)."""
    return info.get("stage") != NO_DEPTH_STAGE


def image_size(payload: dict[str, Any]) -> int:
    """The crop side the model expects: the file's own entry if it has one, else the default."""
    for holder in (payload, payload.get("model_params") or {}):
        value = holder.get("image_size")
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_IMAGE_SIZE


def model_payload(generator: Generator, model: ModelSettings, stage: str, iteration: int, image_size: int,
                  discriminator: torch.nn.Module | None = None) -> dict[str, Any]:
    """What a training stage writes to models/<stage>.pt (see the module docstring)."""
    payload = {"stage": stage, "iteration": int(iteration), "model_params": model.as_dict(),
               "image_size": int(image_size),
               "generator": {k: v.detach().cpu() for k, v in generator.state_dict().items()}}
    if discriminator is not None:
        payload["discriminator"] = {k: v.detach().cpu() for k, v in discriminator.state_dict().items()}
    return payload


def load_generator_weights(path: str | Path, generator: Generator, only_2d: bool = False) -> dict[str, Any]:
    """Load the generator weights of a model file into `generator` (all of them, or the 2D
    module's only: a fresh depth regressor stays as it is). Returns the payload."""
    payload = read_model_file(path)
    try:
        if only_2d:
            generator.load_2d_state_dict(payload["generator"])
        else:
            generator.load_state_dict(payload["generator"])
    except RuntimeError as err:
        raise ModelFileError(f"{path}: its weights do not fit the generator being trained ({_one_line(err)}); "
                             f"was it made with other model settings?") from err
    return payload
