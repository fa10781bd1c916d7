"""The nested metrics dicts as the JSON metrics files hold them: numbers rounded, NaN as null,
values found by dotted key ("h36m.limbs.mean")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def rounded(value: Any, digits: int = 2) -> Any:
    """`value` with every float rounded to `digits` and NaN/inf turned into None (valid JSON)."""
    if isinstance(value, Mapping):
        # Left/right shares lie in [0, 1]: 4 decimals, so that 0.849 does not read as 0.85.
        return {str(k): rounded(v, 4 if k == "left_right" else digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits) if np.isfinite(value) else None
    return value


def lookup(tree: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """tree["a"]["b"] for "a.b", or `default` where a key is missing."""
    value: Any = tree
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value
