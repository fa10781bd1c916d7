"""Reading params.yaml: one place that turns it into checked, plain values for the stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """params.yaml is missing, unreadable, or holds a value a stage cannot use."""


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The whole params.yaml as a dict (ParamsError naming the file if it cannot be read)."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    return params


def get(params: dict[str, Any], dotted: str, kind: type | tuple[type, ...] | None = None,
        positive: bool = False) -> Any:
    """params["a"]["b"] for "a.b", with a message naming the key when it is absent or wrong."""
    value: Any = params
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ParamsError(f"params.yaml: {dotted} is missing")
        value = value[part]
    if kind is not None and (not isinstance(value, kind) or isinstance(value, bool) and bool not in
                             (kind if isinstance(kind, tuple) else (kind,))):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ParamsError(f"params.yaml: {dotted} must be {names}, got {value!r}")
    if positive and not value > 0:
        raise ParamsError(f"params.yaml: {dotted} must be positive, got {value!r}")
    return value
