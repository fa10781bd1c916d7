"""The params file: read once, its sections handed out as typed settings objects.

    params = ParamsFile.read("params.yaml")
    model = params.section("model", ModelSettings)
    seed = params.seed

This is the only module that reads params files. A section is built by the generic checker
of `posegan.settings` (`build`), or by the class's own `from_section(block, file)` where a
section needs more (e.g. `DataSettings`, whose synthetic sizes take the crop side from
`data.image_size`). Messages name the file actually read and the full key. Keys that moved
(`MOVED_KEYS`) get a message saying where they went and why, keys that are gone
(`REMOVED_KEYS`) one saying why.

Numbers are read as people and `dvc exp run -S` write them (`ParamsLoader`): PyYAML follows
YAML 1.1, where a float needs a dot and a signed exponent (`1e-4` and DVC's `1e-05` would be
strings); the loader also takes YAML 1.2's floats (`1e-4`, `1e-05`, `1E5`, `-.5`) besides
1.1's (`.5`, `1_000`). A top-level key outside `SECTIONS` stops the run like any unknown key,
and a YAML syntax error names its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import re

import yaml

from posegan.settings import ParamsError, build

__all__ = ["MOVED_KEYS", "REMOVED_KEYS", "ParamsError", "ParamsFile", "ParamsLoader", "SECTIONS", "load_yaml"]

Settings = TypeVar("Settings")


# Keys that moved: (section, key) -> (where to, why). A file that still uses the old place gets told.
_RUNTIME = "where and how the networks run, apart from what they are"
MOVED_KEYS = {
    ("model", "device"): ("runtime.device", _RUNTIME),
    ("model", "amp"): ("runtime.amp", _RUNTIME),
    ("model", "threads"): ("runtime.threads", _RUNTIME),
    ("evaluate", "figure_samples"): ("tables.figure_samples", "the tables stage draws the figures"),
}
# Keys that are no parameters any more: (section, key) -> why.
REMOVED_KEYS = {
    ("data", "heatmap_stride"): "the heatmaps are always a quarter of the crop side: the hourglass's stem "
                                "downsamples by 4, posegan.heatmaps.HEATMAP_STRIDE",
}

# Every top-level key of params.yaml (each stage reads some of them; a file may leave some out).
SECTIONS = ("seed", "data", "loss", "model", "runtime", "discriminator", "pretrain_2d", "pretrain_depth",
            "adversarial", "evaluate", "tables")


class ParamsLoader(yaml.SafeLoader):
    """yaml.SafeLoader that also reads YAML 1.2 floats: an exponent without a dot or without a
    sign (`1e-4`, `1e-05` as DVC writes -S overrides, `2E5`) and a signed leading dot (`-.5`)."""


ParamsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"
               r"|^[-+]\.[0-9][0-9_]*$"),
    list("-+0123456789."))


def load_yaml(text: str, name: str) -> object:
    """The YAML document `text` (from the file `name`) read with `ParamsLoader`; ParamsError
    naming the line and column of a syntax error."""
    try:
        return yaml.load(text, Loader=ParamsLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(err, "problem", None) or (str(err).strip().splitlines() or [type(err).__name__])[0]
        # Where the parser noticed the mistake can be a line after it (an unclosed bracket is
        # seen at the next key): name the line where the construct began as well.
        context, opened = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and opened is not None and mark is not None and opened.line != mark.line:
            what += f"; {context} at line {opened.line + 1}"
        raise ParamsError(f"{name}: not valid YAML{where} ({what})") from err


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
        raw = load_yaml(path.read_text(), str(path))
        if not isinstance(raw, dict):
            raise ParamsError(f"{path}: expected a mapping of sections at the top level")
        unknown = sorted((key for key in raw if key not in SECTIONS), key=str)
        if unknown:
            raise ParamsError(f"{path}: unknown top-level key {unknown[0]} (expected one of: {', '.join(SECTIONS)})")
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
            for (section, key), (new, why) in MOVED_KEYS.items():
                if section == name and key in block:
                    raise ParamsError(f"{self.name}: {name}.{key} has moved to {new} ({why})")
            for (section, key), why in REMOVED_KEYS.items():
                if section == name and key in block:
                    raise ParamsError(f"{self.name}: {name}.{key} is no parameter any more ({why}); remove it")
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
