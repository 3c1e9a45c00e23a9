"""The metric math against values computed by hand."""

import math

import pytest

from hub.metrics.models import MEASURES
from hub.metrics.stats import ces, csat, nps, sentiment, stars, thumbs, two_proportion_z, wilson


def counts(scores: dict[int, int] | None = None, **sentiments: int) -> list[int]:
    """A rollup vector from {score value: count} and sentiment counts."""
    vector = [0] * len(MEASURES)
    for value, count in (scores or {}).items():
        vector[0] += count
        vector[1 + value] = count
    for label, count in sentiments.items():
        vector[MEASURES.index(label)] = count
    return vector


def test_nps_counts_and_interval() -> None:
    # 5 promoters (9, 10), 3 passives (7, 8), 2 detractors (0, 6): NPS = 50 - 20 = 30.
    result = nps(counts({10: 3, 9: 2, 8: 2, 7: 1, 6: 1, 0: 1}))
    assert (result["promoters"], result["passives"], result["detractors"]) == (5, 3, 2)
    assert result["responses"] == 10
    assert result["nps"] == 30.0
    # var = (0.5 + 0.2 - 0.3²) / 10 = 0.061; half = 100 · 1.96 · √0.061 = 48.41
    assert result["ci_low"] == pytest.approx(30 - 48.41, abs=0.01)
    assert result["ci_high"] == pytest.approx(78.41, abs=0.01)
    assert result["thin"] is True


def test_nps_interval_is_clipped_and_empty_is_none() -> None:
    assert nps(counts({10: 1}))["ci_high"] == 100.0
    empty = nps(counts())
    assert empty["nps"] is None and empty["ci_low"] is None and empty["responses"] == 0


def test_csat_is_share_of_4_and_5_with_wilson() -> None:
    result = csat(counts({5: 4, 4: 4, 3: 1, 1: 1}))
    assert result["csat"] == 80.0 and result["satisfied"] == 8 and result["responses"] == 10
    # Wilson 8/10: centre (0.8 + 1.9208/10) / 1.38415 = 0.71674; half 0.23645
    assert result["ci_low"] == pytest.approx(49.02, abs=0.01)
    assert result["ci_high"] == pytest.approx(94.33, abs=0.01)


def test_wilson_matches_the_textbook_formula() -> None:
    low, high = wilson(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)
    assert wilson(0, 0) == (None, None)


def test_ces_mean_and_share_easy() -> None:
    result = ces(counts({7: 2, 6: 1, 5: 1, 2: 1}))  # 14 + 6 + 5 + 2 = 27 over 5
    assert result["ces"] == 5.4 and result["easy"] == 4 and result["easy_pct"] == 80.0
    # sample sd: squares 2·1.6² + 0.6² + 0.4² + 3.4² = 17.2; s² = 4.3; half = 1.96·√(4.3/5)
    half = 1.959964 * math.sqrt(4.3 / 5)
    assert result["ci_low"] == pytest.approx(5.4 - half, abs=0.01)
    assert result["ci_high"] == pytest.approx(5.4 + half, abs=0.01)


def test_thumbs_ratio_and_stars_mean() -> None:
    assert thumbs(counts({1: 3, 0: 1}))["ratio"] == 75.0
    result = stars(counts({5: 2, 4: 1, 1: 1}))
    assert result["stars"] == 3.75 and result["distribution"] == {
        "1": 1, "2": 0, "3": 0, "4": 1, "5": 2,
    }  # fmt: skip
    assert stars(counts({5: 1}))["ci_low"] is None  # one answer: no interval


def test_sentiment_net_and_volume() -> None:
    result = sentiment(counts({9: 2}, negative=1, neutral=1, positive=2))
    assert result["volume"] == 2 and result["responses"] == 4
    assert result["net_sentiment"] == 25.0 and result["negative_pct"] == 25.0


def test_two_proportion_z() -> None:
    # 30/100 vs 10/100: pooled 0.2; se = √(0.2·0.8·0.02) = 0.05657; z = 3.5355
    z, p = two_proportion_z(30, 100, 10, 100)
    assert z == pytest.approx(3.536, abs=1e-3)
    assert p == pytest.approx(0.000407, abs=1e-5)
    assert two_proportion_z(1, 0, 1, 10) == (None, None)
    assert two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)
