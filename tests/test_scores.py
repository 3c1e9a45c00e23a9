"""hub/scores.py: one scale per score type, used alike by validation, metrics and risk."""

import pytest

from hub.customers.risk import DETRACTOR_AT_MOST, PROMOTER_AT_LEAST
from hub.feedback.models import ScoreType
from hub.metrics.stats import nps
from hub.scores import SCALES
from hub.surveys.models import SurveyType


def test_every_score_and_survey_type_has_a_scale_with_bad_below_good() -> None:
    assert set(SCALES) == {kind.value for kind in ScoreType}
    assert {kind.value for kind in SurveyType} <= set(SCALES)
    for scale in SCALES.values():
        assert scale.low <= scale.bad_at_most < scale.good_at_least <= scale.high


@pytest.mark.parametrize(
    ("kind", "bad", "good"),
    [
        ("nps", "0-6", "9-10"),
        ("csat", "1-2", "4-5"),
        ("ces", "1-3", "5-7"),
        ("thumbs", "down", "up"),
    ],
)
def test_ranges_read_as_people_write_them(kind: str, bad: str, good: str) -> None:
    assert (SCALES[kind].bad_range, SCALES[kind].good_range) == (bad, good)


def test_risk_and_nps_use_the_same_thresholds() -> None:
    assert DETRACTOR_AT_MOST["nps"] == 6 and PROMOTER_AT_LEAST["nps"] == 9
    counts = [0] * 20
    for score in (0, 6, 7, 8, 9, 10):  # rollup vector: volume, then score_0 … score_10
        counts[1 + score] = 1
    result = nps(counts)
    assert (result["detractors"], result["passives"], result["promoters"]) == (2, 2, 2)
