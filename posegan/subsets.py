"""Evenly spaced subsets: the fixed, reproducible samples that validation, quick evaluation,
figures and diagnostics look at."""

from __future__ import annotations

import numpy as np


def evenly_spaced(n: int, count: int | None) -> np.ndarray:
    """`count` evenly spaced indices of range(n), first and last included, sorted and unique.

    All n indices when `count` is None or at least n. Returns an int64 array.
    Example: evenly_spaced(10, 4) -> [0, 3, 6, 9].
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if count is None or count >= n:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, count).round().astype(np.int64))
