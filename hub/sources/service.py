"""Sources: creating and configuring collected sources, their status, and finding them."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlmodel import Session, col, select

from collectors.registry import Collector, UnknownKind, get_collector, is_inbound, registered
from hub.errors import Conflict, InvalidInput, NotFound
from hub.sources.models import (
    SECRET_MASK,
    Source,
    SourceCreate,
    SourceDetail,
    SourcePublic,
    SourceRun,
    SourceRunPublic,
    SourceUpdate,
)
from hub.store.types import utcnow
from hub.store.upsert import insert_new_rows, lock_for_writing


def resolve_source_ids(session: Session, *, names: Iterable[str], kind: str) -> dict[str, int]:
    """Ids of the named sources, creating missing ones as ``kind`` (safe under concurrency)."""
    wanted = set(names)
    lock_for_writing(session)
    found = _ids_by_name(session, wanted)
    missing = wanted - found.keys()
    if missing:
        rows = [
            {
                "kind": kind,
                "name": name,
                "config": {},
                "enabled": True,
                "interval_seconds": 0,
                "consecutive_failures": 0,
                "created_at": utcnow(),
            }
            for name in sorted(missing)
        ]
        table = Source.__table__  # type: ignore[attr-defined]
        insert_new_rows(session, table, rows, key=["name"])
        found |= _ids_by_name(session, missing)
    return found


def ensure_source(session: Session, *, name: str, kind: str) -> Source:
    """The source called ``name``, created as ``kind`` if it does not exist yet."""
    source_id = resolve_source_ids(session, names=[name], kind=kind)[name]
    source = session.get(Source, source_id)
    assert source is not None
    return source


def _ids_by_name(session: Session, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    rows = session.exec(select(Source.name, Source.id).where(Source.name.in_(names)))  # type: ignore[attr-defined]
    return {name: source_id for name, source_id in rows if source_id is not None}


def create_source(session: Session, *, data: SourceCreate) -> SourcePublic:
    """A new collected source; its config is checked against the collector's schema."""
    collector = _collector(data.kind)
    config = validated_config(collector, data.config)
    if session.exec(select(Source.id).where(Source.name == data.name)).first() is not None:
        raise Conflict(f"a source named {data.name!r} already exists")
    source = Source(
        kind=data.kind,
        name=data.name,
        config=_stored(config),
        interval_seconds=data.interval_seconds,
        enabled=data.enabled,
        next_run_at=utcnow() if data.enabled else None,
    )
    session.add(source)
    session.flush()
    return source_public(session, source)


def update_source(session: Session, *, name: str, changes: SourceUpdate) -> SourcePublic:
    """Change a source's config (given keys replace stored ones), interval or enabled flag."""
    source = _by_name(session, name)
    if changes.config is not None:
        collector = _collector(source.kind)
        merged = {**source.config, **changes.config}
        source.config = _stored(validated_config(collector, merged))
    if changes.interval_seconds is not None:
        source.interval_seconds = changes.interval_seconds
    if changes.enabled is not None and changes.enabled != source.enabled:
        source.enabled = changes.enabled
        source.next_run_at = utcnow() if changes.enabled else None
        if changes.enabled:
            source.consecutive_failures = 0
    session.add(source)
    session.flush()
    return source_public(session, source)


def request_run(session: Session, *, name: str) -> SourcePublic:
    """Make a collected source due now (the scheduler picks it up on its next tick)."""
    source = _by_name(session, name)
    if not is_pulled(_collector(source.kind), source):
        raise InvalidInput(f"{name!r} is not a pulled source (it receives what is sent to it)")
    source.next_run_at = utcnow()
    session.add(source)
    return source_public(session, source)


def list_sources(session: Session) -> list[SourcePublic]:
    """Every source, by name, with its status and last run."""
    sources = session.exec(select(Source).order_by(col(Source.name))).all()
    return [source_public(session, source) for source in sources]


def get_source(session: Session, *, name: str, runs: int = 20) -> SourceDetail:
    """One source with its most recent runs."""
    source = _by_name(session, name)
    recent = session.exec(
        select(SourceRun)
        .where(SourceRun.source_id == source.id)
        .order_by(col(SourceRun.id).desc())
        .limit(runs)
    ).all()
    public = source_public(session, source, last=recent[0] if recent else None)
    return SourceDetail(**public.model_dump(), runs=[_run_public(run) for run in recent])


def source_public(
    session: Session, source: Source, *, last: SourceRun | None = None
) -> SourcePublic:
    """A source as the API shows it: secrets masked, status worked out."""
    collector = registered().get(source.kind)
    if last is None and collector is not None:
        last = session.exec(
            select(SourceRun)
            .where(SourceRun.source_id == source.id)
            .order_by(col(SourceRun.id).desc())
        ).first()
    assert source.id is not None
    return SourcePublic(
        id=source.id,
        kind=source.kind,
        name=source.name,
        enabled=source.enabled,
        collected=is_pulled(collector, source),
        config=_masked(collector, source.config),
        interval_seconds=source.interval_seconds,
        status=source_status(source, now=utcnow()),
        last_run_at=source.last_run_at,
        last_success_at=source.last_success_at,
        last_error=source.last_error,
        consecutive_failures=source.consecutive_failures,
        next_run_at=source.next_run_at,
        last_run=_run_public(last) if last else None,
    )


def is_pulled(collector: Collector | None, source: Source) -> bool:
    """Whether the scheduler pulls ``source``: a pull collector's kind and an interval.

    Sources created on first use by the API, imports or the demo have interval 0: their kind
    says where the feedback came from, but nobody configured a collector for them.
    """
    return collector is not None and not is_inbound(collector) and source.interval_seconds > 0


def source_status(source: Source, *, now: datetime) -> str:
    """never_run, ok, failing, running or disabled."""
    if not source.enabled:
        return "disabled"
    if source.lease_until is not None and source.lease_until > now:
        return "running"
    if source.consecutive_failures:
        return "failing"
    return "ok" if source.last_run_at else "never_run"


def validated_config(collector: Collector, config: dict[str, Any]) -> BaseModel:
    """The collector's config model for ``config``, or InvalidInput naming each bad field."""
    try:
        return collector.Config.model_validate(config)
    except ValidationError as exc:
        details = [
            {"loc": ["config", *error["loc"]], "message": error["msg"]}
            for error in exc.errors(include_url=False)
        ]
        fields = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['message']}" for d in details)
        raise InvalidInput(f"invalid {collector.kind} config: {fields}", details=details) from exc


def _collector(kind: str) -> Collector:
    try:
        return get_collector(kind)
    except UnknownKind as exc:
        raise InvalidInput(str(exc)) from exc


def _by_name(session: Session, name: str) -> Source:
    source = session.exec(select(Source).where(Source.name == name)).first()
    if source is None:
        raise NotFound(f"no source named {name!r}")
    return source


def _stored(config: BaseModel) -> dict[str, Any]:
    """A config as stored: JSON values, secrets in clear (they are needed to call the API)."""
    stored = config.model_dump(mode="json")
    for field, value in config:
        if isinstance(value, SecretStr):
            stored[field] = value.get_secret_value()
    return dict(stored)


def _masked(collector: Collector | None, config: dict[str, Any]) -> dict[str, Any]:
    if collector is None:
        return config
    secret = {
        name
        for name, field in collector.Config.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    return {key: SECRET_MASK if key in secret and value else value for key, value in config.items()}


def _run_public(run: SourceRun) -> SourceRunPublic:
    return SourceRunPublic.model_validate(run, from_attributes=True)
