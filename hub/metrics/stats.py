"""The metric math: each metric from a vector of rollup counts, with a 95% confidence interval.

Definitions (industry standard; scales and thresholds live in :mod:`hub.scores`): NPS = %
promoters (9-10) - % detractors (0-6), -100..100; CSAT = % of 4-5 on 1-5; CES = mean on 1-7, and
% of 5-7 ("easy"); thumbs = share of 1 on 0/1; stars = mean on 1-5. Proportions get a Wilson
score interval (sound for small n and for shares near 0 or 1); NPS gets the normal interval from
the multinomial variance ``(p_pro + p_det - (p_pro - p_det)^2) / n``; means get
``mean ± z·s/√n``.
"""

import math
from collections.abc import Sequence
from typing import Any

from hub.metrics.models import MEASURES
from hub.scores import SCALES, Scale

Z95 = 1.959963984540054  # two-sided 95%
THIN = 30  # fewer responses than this: a thin sample, shown as such
_SCORE = 1  # index of score_0 in a vector of counts
_SENTIMENT = MEASURES.index("negative")


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval of a proportion, as fractions (None, None when n is 0)."""
    if n <= 0:
        return None, None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _scores(counts: Sequence[int], scale: Scale) -> list[int]:
    """Counts of each score value of ``scale``, from its lowest."""
    return [counts[_SCORE + value] for value in range(scale.low, scale.high + 1)]


def _at_least(values: Sequence[int], scale: Scale, score: int) -> int:
    """How many of ``values`` (counts per score of ``scale``) are ``score`` or more."""
    return sum(values[score - scale.low :])


def nps(counts: Sequence[int]) -> dict[str, Any]:
    """NPS with promoters, passives, detractors, responses and its 95% interval."""
    scale = SCALES["nps"]
    values = _scores(counts, scale)
    n = sum(values)
    promoters = _at_least(values, scale, scale.good_at_least)
    detractors = n - _at_least(values, scale, scale.bad_at_most + 1)
    passives = n - promoters - detractors
    score = low = high = None
    if n:
        p_pro, p_det = promoters / n, detractors / n
        score = 100 * (p_pro - p_det)
        half = 100 * Z95 * math.sqrt(max(0.0, p_pro + p_det - (p_pro - p_det) ** 2) / n)
        low, high = max(-100.0, score - half), min(100.0, score + half)
    return {
        "nps": _round(score), "promoters": promoters, "passives": passives,
        "detractors": detractors, "responses": n, "ci_low": _round(low), "ci_high": _round(high),
        "thin": n < THIN,
    }  # fmt: skip


def csat(counts: Sequence[int]) -> dict[str, Any]:
    """CSAT: % of 4-5 among 1-5 answers, with its Wilson interval."""
    scale = SCALES["csat"]
    values = _scores(counts, scale)
    n, satisfied = sum(values), _at_least(values, scale, scale.good_at_least)
    low, high = wilson(satisfied, n)
    return {
        "csat": _pct(satisfied / n if n else None), "satisfied": satisfied, "responses": n,
        "ci_low": _pct(low), "ci_high": _pct(high), "thin": n < THIN,
    }  # fmt: skip


def ces(counts: Sequence[int]) -> dict[str, Any]:
    """CES: mean effort on 1-7 (interval for the mean) and % of 5-7 (Wilson interval)."""
    scale = SCALES["ces"]
    values = _scores(counts, scale)
    n, easy = sum(values), _at_least(values, scale, scale.good_at_least)
    mean, low, high = _mean(values, first=scale.low)
    easy_low, easy_high = wilson(easy, n)
    return {
        "ces": mean, "ci_low": low, "ci_high": high, "easy": easy,
        "easy_pct": _pct(easy / n if n else None), "easy_ci_low": _pct(easy_low),
        "easy_ci_high": _pct(easy_high), "responses": n, "thin": n < THIN,
    }  # fmt: skip


def thumbs(counts: Sequence[int]) -> dict[str, Any]:
    """Thumbs-up ratio (% of up among up and down), with its Wilson interval."""
    down, up = _scores(counts, SCALES["thumbs"])
    n = up + down
    low, high = wilson(up, n)
    return {
        "ratio": _pct(up / n if n else None), "up": up, "down": down, "responses": n,
        "ci_low": _pct(low), "ci_high": _pct(high), "thin": n < THIN,
    }  # fmt: skip


def stars(counts: Sequence[int]) -> dict[str, Any]:
    """Mean stars on 1-5, its interval, and how many gave each number of stars."""
    values = _scores(counts, SCALES["stars"])
    n = sum(values)
    mean, low, high = _mean(values, first=SCALES["stars"].low)
    return {
        "stars": mean, "ci_low": low, "ci_high": high, "responses": n,
        "distribution": {str(star): count for star, count in enumerate(values, start=1)},
        "thin": n < THIN,
    }  # fmt: skip


def sentiment(counts: Sequence[int]) -> dict[str, Any]:
    """Volume and sentiment: net sentiment = % positive - % negative of items with one."""
    negative, neutral, positive = counts[_SENTIMENT : _SENTIMENT + 3]
    n = negative + neutral + positive
    net = 100 * (positive - negative) / n if n else None
    low, high = wilson(negative, n)
    return {
        "volume": counts[0], "negative": negative, "neutral": neutral, "positive": positive,
        "responses": n, "net_sentiment": _round(net),
        "negative_pct": _pct(negative / n if n else None),
        "ci_low": _pct(low), "ci_high": _pct(high), "thin": n < THIN,
    }  # fmt: skip


def _mean(values: Sequence[int], *, first: int) -> tuple[float | None, float | None, float | None]:
    """Mean of a scale from value counts, with mean ± z·s/√n (sample standard deviation)."""
    n = sum(values)
    if not n:
        return None, None, None
    total = sum(count * value for value, count in enumerate(values, start=first))
    mean = total / n
    if n < 2:
        return _round(mean), None, None
    squares = sum(count * (value - mean) ** 2 for value, count in enumerate(values, start=first))
    half = Z95 * math.sqrt(squares / (n - 1) / n)
    return _round(mean), _round(mean - half), _round(mean + half)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """z and two-sided p of "share x1/n1 differs from x2/n2" (pooled two-proportion z-test)."""
    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return round(z, 3), math.erfc(abs(z) / math.sqrt(2))


METRICS = {"nps": nps, "csat": csat, "ces": ces, "thumbs": thumbs, "stars": stars,
           "sentiment": sentiment}  # fmt: skip
