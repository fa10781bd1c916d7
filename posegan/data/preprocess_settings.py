"""The params section `data` as the preprocess stage reads it: `DataSettings`.

The training and evaluation stages read the narrower view `posegan.data.dataset.PreparedData`
(where the prepared files are), so that they do not depend on the code that makes the data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from posegan.data.real import RealDataSettings
from posegan.data.schema import folder_path
from posegan.data.synthetic.benchmark import SyntheticConfig
from posegan.settings import ParamsError, build, setting


@dataclass(frozen=True)
class DataSettings:
    """What the preprocess stage reads of the section. source: "synthetic" (the built-in
    benchmark, sized by `synthetic`) or "real" (the user's copies of the datasets, under `real`). prepared_dir: where the prepared files go. image_size: their crop side
    in pixels."""

    prepared_dir: str = setting("data/prepared", parse=folder_path)
    image_size: int = setting(128, minimum=16)
    source: Literal["synthetic", "real"] = "synthetic"
    synthetic: SyntheticConfig | None = setting(None, optional=True)
    real: RealDataSettings | None = setting(None, optional=True)

    @classmethod
    def from_section(cls, block: Any, file: str) -> "DataSettings":
        """Build from the `data` block; its `synthetic` sizes take the crop side from data.image_size."""
        if not isinstance(block, dict):
            raise ParamsError(f"{file}: data must be a mapping of keys, got {block!r}")
        rest = {k: v for k, v in block.items() if k not in ("synthetic", "real")}
        data = build(cls, rest, "data", file)
        if "real" not in block:
            raise ParamsError(f"{file}: data.real is missing (the roots of your copies of the real datasets)")
        data = dataclasses.replace(data, real=RealDataSettings.from_section(block["real"], "data.real", file))
        if "synthetic" not in block:
            if data.source == "synthetic":
                raise ParamsError(f"{file}: data.synthetic is missing (the built-in benchmark's sizes)")
            return data
        synthetic = build(SyntheticConfig, block["synthetic"], "data.synthetic", file,
                          given={"image_size": data.image_size})
        return dataclasses.replace(data, synthetic=synthetic)
