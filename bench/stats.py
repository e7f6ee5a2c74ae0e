"""Percentiles as the benchmark reports them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float], missing: int = 0, digits: int = 3) -> dict[str, Any]:
    """n, p50, p95, p99 and max of `values` (seconds or ms, as given); `missing` counts
    the cases that never produced a value (they are not hidden in the percentiles)."""
    out: dict[str, Any] = {"n": len(values)}
    if values:
        for q in (50, 95, 99):
            out[f"p{q}"] = round(percentile(values, q), digits)
        out["max"] = round(max(values), digits)
    if missing:
        out["missing"] = missing
    return out
