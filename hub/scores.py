"""Score scales, the one home of their numbers: each score type's range, and which answers are
bad (detractors) and good (promoters).

NPS 0-10: detractors 0-6, promoters 9-10 (passives 7-8). CSAT 1-5: satisfied 4-5. CES 1-7 (higher
is easier): easy 5-7, hard 1-3. Stars 1-5: 1-2 bad, 4-5 good. Thumbs: 0 down, 1 up. Validation,
metrics, routing defaults, customer risk, collectors and pages all read them from here.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """A score type's range and its bad / good thresholds (inclusive)."""

    low: int
    high: int
    bad_at_most: int  # a detractor (NPS 0-6), a dissatisfied or hard answer
    good_at_least: int  # a promoter (NPS 9-10), a satisfied or easy answer

    @property
    def bounds(self) -> tuple[int, int]:
        """``(low, high)``."""
        return self.low, self.high

    def contains(self, score: int) -> bool:
        """Whether ``score`` is on the scale."""
        return self.low <= score <= self.high

    @property
    def bad_range(self) -> str:
        """The bad answers as people write them: ``0-6``, or ``down`` for thumbs."""
        if (self.low, self.high) == (0, 1):
            return "down"
        return f"{self.low}-{self.bad_at_most}"

    @property
    def good_range(self) -> str:
        """The good answers as people write them: ``9-10``, or ``up`` for thumbs."""
        if (self.low, self.high) == (0, 1):
            return "up"
        return f"{self.good_at_least}-{self.high}"


# Keyed by the score type's value; ScoreType and SurveyType (str enums) index it directly.
SCALES: dict[str, Scale] = {
    "nps": Scale(0, 10, bad_at_most=6, good_at_least=9),
    "csat": Scale(1, 5, bad_at_most=2, good_at_least=4),
    "ces": Scale(1, 7, bad_at_most=3, good_at_least=5),
    "stars": Scale(1, 5, bad_at_most=2, good_at_least=4),
    "thumbs": Scale(0, 1, bad_at_most=0, good_at_least=1),
}
