"""Portable statistics for the loop metrics, computed in Python (same on every backend)."""

import math
from collections.abc import Sequence

Z95 = 1.959964


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` (0-1) percentile by linear interpolation between closest ranks (numpy's
    default and PostgreSQL's ``percentile_cont``); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``hits`` out of ``n`` (95% by default); None for n = 0."""
    if n == 0:
        return None
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)
