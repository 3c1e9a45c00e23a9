"""Column types: UTC timestamps round-trip and are stored as SQLAlchemy's SQLite format."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from hub.store.types import UTCDateTime

MOMENTS = [
    datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 10, 0, 0, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 15, 999_999, tzinfo=timezone(timedelta(hours=-3))),
    datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_text_matches_sqlalchemys_datetime_format(moment: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    reference = DATETIME().bind_processor(dialect)
    assert ours is not None and reference is not None
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    assert ours(moment) == reference(naive_utc)
    assert UTCDateTime().process_result_value(naive_utc, dialect) == moment


def test_naive_datetimes_are_refused() -> None:
    processor = UTCDateTime().bind_processor(sqlite.dialect())
    assert processor is not None
    with pytest.raises(ValueError, match="naive datetime"):
        processor(datetime(2026, 1, 1))
    assert processor(None) is None
