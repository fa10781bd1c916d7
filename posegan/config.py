"""The params file: read once, its sections handed out as typed settings objects.

    params = ParamsFile.read("params.yaml")
    model = params.section("model", ModelSettings)
    seed = params.seed

This is the only module that reads params files. A section is built by the generic checker
of `posegan.settings` (`build`), or by the class's own `from_section(block, file)` where a
section needs more (e.g. `DataSettings`, whose synthetic sizes take the crop side from
`data.image_size`). Messages name the file actually read and the full key. Keys that moved
(`MOVED_KEYS`) get a message saying where they went.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml

from posegan.settings import ParamsError, build

__all__ = ["MOVED_KEYS", "ParamsError", "ParamsFile"]

Settings = TypeVar("Settings")


# Keys that moved, and where to: a file that still uses the old place gets told.
MOVED_KEYS = {
    ("model", "device"): "runtime.device",
    ("model", "amp"): "runtime.amp",
    ("model", "threads"): "runtime.threads",
}


class ParamsFile:
    """One params file. A stage asks only for the sections it uses, so a params file for one
    stage need not hold the others."""

    def __init__(self, path: str | Path, raw: dict[str, Any]):
        self.path = Path(path)
        self.raw = raw

    @classmethod
    def read(cls, path: str | Path = "params.yaml") -> "ParamsFile":
        path = Path(path)
        if not path.exists():
            raise ParamsError(f"{path}: params file not found")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ParamsError(f"{path}: not valid YAML ({first})") from err
        if not isinstance(raw, dict):
            raise ParamsError(f"{path}: expected a mapping of sections at the top level")
        return cls(path, raw)

    @property
    def name(self) -> str:
        return str(self.path)

    def value(self, dotted: str) -> Any:
        """The raw value at "a.b" (ParamsError naming the key when absent)."""
        value: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ParamsError(f"{self.name}: {dotted} is missing")
            value = value[part]
        return value

    def section(self, name: str, cls: type[Settings]) -> Settings:
        """Section `name` of the file as a `cls` (checked; ParamsError naming the file and key)."""
        if name not in self.raw:
            raise ParamsError(f"{self.name}: section '{name}' is missing")
        block = self.raw[name]
        if isinstance(block, dict):
            for (section, key), new in MOVED_KEYS.items():
                if section == name and key in block:
                    raise ParamsError(f"{self.name}: {name}.{key} has moved to {new} (where and how the "
                                      f"networks run, apart from what they are)")
        if hasattr(cls, "from_section"):
            return cls.from_section(block, self.name)
        return build(cls, block, name, self.name)

    @property
    def seed(self) -> int:
        """The training seed (top-level `seed`, an integer >= 0)."""
        value = self.value("seed")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ParamsError(f"{self.name}: seed must be an integer >= 0, got {value!r}")
        return value
