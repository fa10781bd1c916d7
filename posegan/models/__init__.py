"""The networks: generator (stacked hourglass + depth regressor) and multi-source discriminator."""

from posegan.models.depth_regressor import DepthRegressor
from posegan.models.discriminator import (SOURCES, VARIANTS, MultiSourceDiscriminator, normalized_maps,
                                          parse_sources)
from posegan.models.generator import Generator, GeneratorOutput, normalize_images
from posegan.models.hourglass import Hourglass, HourglassOutput, Residual, StackedHourglass

__all__ = [
    "DepthRegressor", "Generator", "GeneratorOutput", "Hourglass", "HourglassOutput",
    "MultiSourceDiscriminator", "Residual", "SOURCES", "StackedHourglass", "VARIANTS",
    "normalize_images", "normalized_maps", "parse_sources",
]
