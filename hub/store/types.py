"""Column types that behave the same on SQLite and PostgreSQL."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

# BIGINT on PostgreSQL; plain INTEGER on SQLite, where only that is an alias of the rowid.
BigId = BigInteger().with_variant(Integer, "sqlite")

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite. Python None is SQL NULL
# (not the JSON text 'null'), so `IS NULL` finds absent values.
JsonValue = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC, always returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        offset = value.utcoffset()
        if offset is None:
            raise ValueError("naive datetime given to a UTC column")
        return (value - offset).replace(tzinfo=None)  # cheaper than astimezone on hot paths

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one fused step to the text SQLite's DATETIME stores (hot on ingest)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            naive = self.process_bind_param(value, dialect)
            # Same text as SQLAlchemy's SQLite DATETIME: "YYYY-MM-DD HH:MM:SS.ffffff".
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
