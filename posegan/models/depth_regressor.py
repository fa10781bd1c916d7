"""The depth regression module (paper section 5; Zhou et al. 2017's design).

Its input is the last stack's features merged with its heatmaps exactly as stacks are merged
in the hourglass network: input to the last hourglass + 1x1 conv(last features) + 1x1
conv(last heatmaps). Then three sequential modules of (residual blocks, 2x2 max-pool), a
global average pool and one fully connected layer to P depths.

The two merge convolutions belong to this module (not to the 2D module), so that the 2D
module's parameters are exactly Newell's and a pretrained 2D module can be loaded as is.

Output units: the depth target of DESIGN.md, each joint's depth relative to the root in
heatmap pixels at the root's distance (`posegan.camera.depth_target`).
"""

from __future__ import annotations

from torch import Tensor, nn

from posegan.models.hourglass import residuals


class DepthRegressor(nn.Module):
    """(last_input, last_features (B, C, H, W), last heatmaps (B, P, H, W)) -> depths (B, P).

    num_modules: residual + downsampling modules (paper: 3), so H must be divisible by
    2**num_modules. num_blocks: residual blocks in each module (the paper does not say; 1).
    """

    def __init__(self, num_joints: int = 16, num_features: int = 256, num_modules: int = 3,
                 num_blocks: int = 1):
        super().__init__()
        if num_modules < 1 or num_blocks < 1:
            raise ValueError(f"depth regressor needs num_modules >= 1 and num_blocks >= 1, "
                             f"got {num_modules} and {num_blocks}")
        self.merge_features = nn.Conv2d(num_features, num_features, 1)
        self.merge_heatmaps = nn.Conv2d(num_joints, num_features, 1)
        self.modules_down = nn.Sequential(*[
            nn.Sequential(residuals(num_features, num_blocks), nn.MaxPool2d(kernel_size=2, stride=2))
            for _ in range(num_modules)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(num_features, num_joints)

    def forward(self, last_input: Tensor, last_features: Tensor, heatmaps: Tensor) -> Tensor:
        x = last_input + self.merge_features(last_features) + self.merge_heatmaps(heatmaps)
        x = self.pool(self.modules_down(x)).flatten(1)
        return self.fc(x)
