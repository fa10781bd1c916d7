"""The depth regression module (paper section 5; Zhou et al. 2017's design).

Its input is the last stack's features merged with its heatmaps exactly as stacks are merged
in the hourglass network: input to the last hourglass + 1x1 conv(last features) + 1x1
conv(last heatmaps). Then three sequential modules of (residual blocks, 2x2 max-pool), a
pooling and one fully connected layer to P depths. The pooling is either

- "global": a global average pool, as the paper describes (section 5), or
- "grid": an average pool to a 4 x 4 grid, flattened, the way the released code of Zhou et
  al. (the backbone's authors) feeds its fully connected layer: it keeps where in the image
  the features are. Depth relative to the root is largely a function of where the joints are
  relative to each other, which a global pool throws away; on the built-in benchmark the grid
  head learns it faster (after 500 iterations of pretrain_depth from the same 2D module, with
  ground-truth 2D: 114 mm against 136 mm lab MPJPE).

At 64 x 64 heatmaps (the paper's) three modules leave an 8 x 8 map and the grid averages it to
4 x 4; at the CPU default's 32 x 32 the map is 4 x 4 already; a smaller map (small test
configurations) has its cells repeated to fill the grid, as adaptive pooling does.

The two merge convolutions belong to this module (not to the 2D module), so that the 2D
module's parameters are exactly Newell's and a pretrained 2D module can be loaded as is.

Output units: the depth target (docs/conventions.md, "Depth target"), each joint's depth
relative to the root in heatmap pixels at the root's distance (`posegan.camera.depth_target`).
"""

from __future__ import annotations

from torch import Tensor, nn

from posegan.models.hourglass import residuals

POOLINGS = ("global", "grid")
GRID_SIDE = 4


class DepthRegressor(nn.Module):
    """(last_input, last_features (B, C, H, W), last heatmaps (B, P, H, W)) -> depths (B, P).

    num_modules: residual + downsampling modules (paper: 3), so H must be divisible by
    2**num_modules. num_blocks: residual blocks in each module (the paper does not say; 1).
    pooling: "global" (paper) or "grid" (4 x 4, see the module docstring).
    """

    def __init__(self, num_joints: int = 16, num_features: int = 32, num_modules: int = 3,
                 num_blocks: int = 1, pooling: str = "grid"):
        super().__init__()
        if num_modules < 1 or num_blocks < 1:
            raise ValueError(f"depth regressor needs num_modules >= 1 and num_blocks >= 1, "
                             f"got {num_modules} and {num_blocks}")
        if pooling not in POOLINGS:
            raise ValueError(f"model.depth_pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.pooling = pooling
        self.merge_features = nn.Conv2d(num_features, num_features, 1)
        self.merge_heatmaps = nn.Conv2d(num_joints, num_features, 1)
        self.modules_down = nn.Sequential(*[
            nn.Sequential(residuals(num_features, num_blocks), nn.MaxPool2d(kernel_size=2, stride=2))
            for _ in range(num_modules)])
        side = 1 if pooling == "global" else GRID_SIDE
        self.pool = nn.AdaptiveAvgPool2d(side)
        self.fc = nn.Linear(num_features * side * side, num_joints)

    def forward(self, last_input: Tensor, last_features: Tensor, heatmaps: Tensor) -> Tensor:
        x = last_input + self.merge_features(last_features) + self.merge_heatmaps(heatmaps)
        return self.fc(self.pool(self.modules_down(x)).flatten(1))
