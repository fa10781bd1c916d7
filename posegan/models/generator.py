"""The generator G: a 3D pose estimator = stacked hourglass 2D module + depth regressor (section 3.1).

    out = Generator(...)(normalize_images(batch_uint8))
    out.heatmaps   list of num_stacks tensors (B, P, S/4, S/4), the last is the prediction
    out.depth      (B, P) depth relative to the root, in heatmap pixels
                   (docs/conventions.md, "Depth target")

"Fix 2D" (Table 2) freezes the 2D module: its parameters get requires_grad False and its
batch-norm layers stay in eval mode (running statistics used and not updated) even when the
generator is put in train mode; only the depth regressor learns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from posegan.models.depth_regressor import DepthRegressor
from posegan.models.hourglass import StackedHourglass
from posegan.settings import setting


@dataclass(frozen=True)
class ModelSettings:
    """What the generator is (params section `model`); where and how it runs is `RuntimeSettings`.

    num_stacks, num_blocks, num_features: the stacked hourglass (paper: 2 x 1 x 256 for the
    ablations, 4 stacks for Table 1). depth_pooling: the depth regressor's head, "global"
    (paper) or "grid" (see `DepthRegressor`). fix_2d: Table 2's "fix 2D", the 2D module
    frozen after pretrain_2d. The defaults are params.yaml's (tests/test_bad_params.py checks
    that they and the network constructors' defaults agree).
    """

    num_stacks: int = setting(2, minimum=1)
    num_blocks: int = setting(1, minimum=1)
    num_features: int = setting(32, minimum=1)
    depth_pooling: Literal["global", "grid"] = "grid"
    fix_2d: bool = False

    @classmethod
    def from_model_file(cls, entry: Mapping[str, Any]) -> "ModelSettings":
        """From a model file's `model_params` entry. Files written before the runtime keys moved
        out hold device, amp and threads too (ignored); those written before depth_pooling and
        fix_2d existed lack them (what those files were built with: global, False; not the
        class defaults)."""
        known = {"depth_pooling": "global", "fix_2d": False}
        known.update({k: entry[k] for k in ("num_stacks", "num_blocks", "num_features", "depth_pooling", "fix_2d")
                      if k in entry})
        missing = {"num_stacks", "num_blocks", "num_features"} - set(known)
        if missing:
            raise ValueError(f"model_params lacks {', '.join(sorted(missing))}")
        return cls(**known)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_images(images: Tensor | np.ndarray, device: torch.device | str | None = None) -> Tensor:
    """uint8 images -> the networks' float input.

    images: uint8 (B, S, S, 3) (the prepared-data layout) or (B, 3, S, S), torch or numpy.
    Returns float32 (B, 3, S, S) on `device` (default: the input's), values x / 127.5 - 1
    in [-1, 1]. The uint8 tensor is moved first, so only a quarter of the bytes travel.
    Both the generator and the discriminator take images normalised this way. The memory
    layout is the input's (a (B, S, S, 3) input gives a channels-last view); the generator
    lays its input out as it needs once, in `Generator.forward`.
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch tensor or numpy array, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 (0..255), got {images.dtype}")
    if images.ndim != 4:
        raise ValueError(f"images must be (B, S, S, 3) or (B, 3, S, S), got shape {tuple(images.shape)}")
    if images.shape[-1] == 3:
        images = images.permute(0, 3, 1, 2)
    elif images.shape[1] != 3:
        raise ValueError(f"images must be (B, S, S, 3) or (B, 3, S, S), got shape {tuple(images.shape)}")
    if device is not None:
        images = images.to(device, non_blocking=True)
    return images.float().div_(127.5).sub_(1.0)


class GeneratorOutput(NamedTuple):
    """heatmaps: list of (B, P, H, W), one per stack; depth: (B, P) heatmap pixels."""

    heatmaps: list[Tensor]
    depth: Tensor


class Generator(nn.Module):
    """Images (B, 3, S, S) normalised by `normalize_images` -> `GeneratorOutput`.

    num_stacks, num_blocks, num_features: the hourglass (paper: 2 x 1 for the ablations,
    4 x 1 for Table 1, 256 features). depth_modules: residual + downsampling modules of the
    depth regressor (paper: 3). depth_pooling: "global" (paper) or "grid" (see
    `DepthRegressor`). fix_2d: freeze the 2D module (see module docstring). The defaults are
    `ModelSettings`' (params.yaml's); the stages build it with `Generator.build(settings)`.
    """

    def __init__(self, num_joints: int = 16, num_stacks: int = 2, num_blocks: int = 1,
                 num_features: int = 32, depth_modules: int = 3, depth_pooling: str = "grid",
                 fix_2d: bool = False):
        super().__init__()
        self.pose_2d = StackedHourglass(num_joints, num_stacks, num_blocks, num_features)
        self.depth_regressor = DepthRegressor(num_joints, num_features, depth_modules, pooling=depth_pooling)
        self._fix_2d = False
        self.fix_2d = fix_2d
        self.use_memory_format(torch.channels_last)

    @classmethod
    def build(cls, settings: ModelSettings, num_joints: int = 16) -> "Generator":
        """The generator that `settings` describe."""
        return cls(num_joints=num_joints, num_stacks=settings.num_stacks, num_blocks=settings.num_blocks,
                   num_features=settings.num_features, depth_pooling=settings.depth_pooling,
                   fix_2d=settings.fix_2d)

    def use_memory_format(self, memory_format: torch.memory_format) -> "Generator":
        """Lay weights and activations out as `memory_format` (default: torch.channels_last).

        NHWC makes the convolutions faster on CPU (oneDNN): the default configuration trains at
        92 against 65 images/s and infers at 329 against 138 on 2 cores, batch 16
        (`benchmarks/bench_models.py --layout`). It is also the layout tensor cores want under
        AMP. The outputs are the same up to float rounding.
        """
        self.memory_format = memory_format
        return self.to(memory_format=memory_format)

    @property
    def fix_2d(self) -> bool:
        return self._fix_2d

    @fix_2d.setter
    def fix_2d(self, value: bool) -> None:
        self._fix_2d = bool(value)
        for p in self.pose_2d.parameters():
            p.requires_grad_(not self._fix_2d)
        self.train(self.training)

    def train(self, mode: bool = True) -> "Generator":
        super().train(mode)
        if self._fix_2d:
            self.pose_2d.eval()
        return self

    def load_2d_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True) -> None:
        """Load a pretrained 2D module, leaving the depth regressor as it is (e.g. fresh).

        Accepts a `StackedHourglass` state dict or a whole `Generator` state dict (its
        "pose_2d." entries are used, the depth regressor's ignored).
        """
        prefix = "pose_2d."
        if any(k.startswith(prefix) for k in state_dict):
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        self.pose_2d.load_state_dict(state_dict, strict=strict)

    def forward(self, images: Tensor) -> GeneratorOutput:
        hg = self.pose_2d(images.contiguous(memory_format=self.memory_format))
        depth = self.depth_regressor(hg.last_input, hg.last_features, hg.heatmaps[-1])
        return GeneratorOutput(hg.heatmaps, depth)
