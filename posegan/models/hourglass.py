"""The stacked hourglass 2D pose module (Newell, Yang and Deng, ECCV 2016).

Built as the original Torch code builds it (bearpaw/pytorch-pose is a faithful port):

- `Residual`: a pre-activation bottleneck, BN-ReLU-conv1x1 to half width, BN-ReLU-conv3x3,
  BN-ReLU-conv1x1 back to the output width, plus the input (through a 1x1 conv where the
  widths differ). Convolutions carry biases, as in the original.
- `Hourglass`: a recursive encoder-decoder of depth 4. At each level the input goes through
  a skip branch at full resolution and, after a 2x2 max-pool, a lower branch (residuals,
  the next level or, at the bottom, residuals, then residuals); the lower branch is
  upsampled by nearest neighbour and added to the skip branch.
- `StackedHourglass`: the stem (7x7 stride-2 conv, BN, ReLU, residual, 2x2 max-pool, two
  residuals: a quarter of the input resolution), then `num_stacks` hourglasses. After each
  hourglass: residuals, a "linear" layer (1x1 conv, BN, ReLU) and a 1x1 conv to P heatmaps
  (intermediate supervision). Between stacks the features are merged back:
  next input = input + 1x1(features) + 1x1(heatmaps).

Widths. `num_features` (paper: 256) is the width of the hourglasses. The stem widens
64 -> 128 -> 128 -> 256 in Newell's network; here it is num_features/4 -> /2 -> /2 -> 1,
which is exactly Newell's at 256 features and scales down with it for the small CPU
configurations. At 256 features and 16 joints the module has 6,570,400 parameters for
2 stacks x 1 block, 12,858,304 for 4 x 1 and 12,577,184 for 2 x 2.
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor, nn


class Residual(nn.Module):
    """Pre-activation bottleneck residual block: (B, in_channels, H, W) -> (B, out_channels, H, W)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, kernel_size=1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, kernel_size=3, padding=1)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, kernel_size=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + self.skip(x)


def residuals(channels: int, num_blocks: int) -> nn.Sequential:
    """`num_blocks` residual blocks of constant width (one "residual module" per resolution)."""
    return nn.Sequential(*[Residual(channels, channels) for _ in range(num_blocks)])


class Hourglass(nn.Module):
    """One hourglass of the given depth: (B, C, H, W) -> (B, C, H, W); H, W divisible by 2**depth."""

    def __init__(self, depth: int, channels: int, num_blocks: int):
        super().__init__()
        self.depth = depth
        self.skip = residuals(channels, num_blocks)       # full-resolution branch
        self.down = residuals(channels, num_blocks)       # after the max-pool
        self.inner = Hourglass(depth - 1, channels, num_blocks) if depth > 1 else residuals(channels, num_blocks)
        self.up = residuals(channels, num_blocks)         # before the upsampling

    def forward(self, x: Tensor) -> Tensor:
        low = self.down(F.max_pool2d(x, kernel_size=2, stride=2))
        low = self.up(self.inner(low))
        return self.skip(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class HourglassOutput(NamedTuple):
    """What the 2D module hands on.

    heatmaps: list of num_stacks tensors (B, P, S/4, S/4), one per stack, last = final.
    last_input: (B, C, S/4, S/4) the features that entered the last hourglass.
    last_features: (B, C, S/4, S/4) the last stack's features after its linear layer (the
        tensor its heatmaps are read from). The depth regressor merges these two with the
        last heatmaps, the way stacks are merged (Zhou et al. 2017).
    """

    heatmaps: list[Tensor]
    last_input: Tensor
    last_features: Tensor


class StackedHourglass(nn.Module):
    """Newell's stacked hourglass: images (B, 3, S, S) -> P heatmaps per stack at S/4.

    S must be divisible by 4 * 2**depth (64 for depth 4).
    """

    def __init__(self, num_joints: int = 16, num_stacks: int = 2, num_blocks: int = 1,
                 num_features: int = 32, depth: int = 4):
        super().__init__()
        for name, value, low in (("num_joints", num_joints, 1), ("num_stacks", num_stacks, 1),
                                 ("num_blocks", num_blocks, 1), ("num_features", num_features, 8),
                                 ("depth", depth, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"model.{name} must be an integer >= {low}, got {value!r}")
        if num_features % 4:
            raise ValueError(f"model.num_features must be divisible by 4, got {num_features}")
        self.num_joints = num_joints
        self.num_stacks = num_stacks
        self.num_blocks = num_blocks
        self.num_features = num_features
        self.depth = depth

        quarter, half = num_features // 4, num_features // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, quarter, kernel_size=7, stride=2, padding=3),
            nn.BatchNorm2d(quarter),
            nn.ReLU(inplace=True),
            Residual(quarter, half),
            nn.MaxPool2d(kernel_size=2, stride=2),
            Residual(half, half),
            Residual(half, num_features),
        )
        self.hourglasses = nn.ModuleList(
            [Hourglass(depth, num_features, num_blocks) for _ in range(num_stacks)])
        self.post_residuals = nn.ModuleList(
            [residuals(num_features, num_blocks) for _ in range(num_stacks)])
        self.linears = nn.ModuleList([
            nn.Sequential(nn.Conv2d(num_features, num_features, 1), nn.BatchNorm2d(num_features),
                          nn.ReLU(inplace=True))
            for _ in range(num_stacks)])
        self.heads = nn.ModuleList([nn.Conv2d(num_features, num_joints, 1) for _ in range(num_stacks)])
        # Merge back into the features between stacks (none after the last).
        self.merge_features = nn.ModuleList(
            [nn.Conv2d(num_features, num_features, 1) for _ in range(num_stacks - 1)])
        self.merge_heatmaps = nn.ModuleList(
            [nn.Conv2d(num_joints, num_features, 1) for _ in range(num_stacks - 1)])

    @property
    def input_multiple(self) -> int:
        """Image sides must be a multiple of this (stem /4, then /2 per hourglass level)."""
        return 4 * 2**self.depth

    def forward(self, images: Tensor) -> HourglassOutput:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, S, S), got {tuple(images.shape)}")
        if images.shape[-1] % self.input_multiple or images.shape[-2] % self.input_multiple:
            raise ValueError(f"image size {tuple(images.shape[-2:])} must be a multiple of "
                             f"{self.input_multiple} for hourglasses of depth {self.depth}")
        x = self.stem(images)
        heatmaps: list[Tensor] = []
        for i in range(self.num_stacks):
            stack_input = x
            features = self.linears[i](self.post_residuals[i](self.hourglasses[i](x)))
            heatmaps.append(self.heads[i](features))
            if i < self.num_stacks - 1:
                x = x + self.merge_features[i](features) + self.merge_heatmaps[i](heatmaps[-1])
        return HourglassOutput(heatmaps, stack_input, features)
