"""Resumable reading of listings served newest first (most review and social APIs).

Such a listing is read from the top down to the newest item stored by the last complete read
(the high-water mark). Until the read reaches it, each page's cursor keeps the old mark and
records how far down the read got, so a crash resumes there; only a finished read moves the
mark up. Items at the mark itself are read again (idempotent storage drops them): nothing
posted in the same second as the mark is missed.
"""

from dataclasses import dataclass
from typing import Any

from collectors.base import Cursor


@dataclass
class Sweep:
    """The state of one newest-first read: ``high_water`` and ``newest`` are epoch seconds."""

    high_water: float
    newest: float
    resume: dict[str, Any]

    @classmethod
    def start(cls, cursor: Cursor | None, *, backfill_from: float) -> "Sweep":
        """Resume the read that ``cursor`` records, or begin one above its mark."""
        cursor = cursor or {}
        high_water = float(cursor.get("high_water", backfill_from))
        state = cursor.get("sweep") or {}
        return cls(
            high_water, float(state.get("newest", high_water)), dict(state.get("resume", {}))
        )

    def fresh(self, stamps: list[float]) -> tuple[list[int], bool]:
        """Indexes of items at or above the mark, and whether the page went below it."""
        keep = [index for index, stamp in enumerate(stamps) if stamp >= self.high_water]
        self.newest = max([self.newest, *(stamps[i] for i in keep)])
        return keep, len(keep) < len(stamps)

    def page_cursor(self, **resume: Any) -> Cursor:
        """The cursor after a page when the read goes on from ``resume``."""
        self.resume = resume
        return {"high_water": self.high_water, "sweep": {"newest": self.newest, "resume": resume}}

    def done_cursor(self) -> Cursor:
        """The cursor once the read reached the mark (or the end of the listing)."""
        return {"high_water": self.newest, "sweep": None}
