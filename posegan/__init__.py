"""posegan: adversarial 3D human pose estimation in the wild (Yang et al., CVPR 2018)."""

__version__ = "0.1.0"
