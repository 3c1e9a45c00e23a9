"""The worker heartbeat table: one row per running worker process, refreshed by a thread."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.store.types import BigId, UTCDateTime, utcnow


class WorkerHeartbeat(SQLModel, table=True):
    """A worker's last sign of life, and its last enrichment batch."""

    __tablename__ = "worker_heartbeat"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    owner: str = Field(max_length=64, unique=True)
    hostname: str = Field(max_length=255, index=True)
    pid: int
    roles: str = Field(max_length=100)  # comma-separated: nlp, collect, notify
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    beat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_batch_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_batch_items: int | None = None
    last_batch_seconds: float | None = None
