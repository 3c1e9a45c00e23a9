"""Finding and creating sources."""

from collections.abc import Iterable

from sqlmodel import Session, col, select

from hub.sources.models import Source, SourcePublic
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


def list_sources(session: Session) -> list[SourcePublic]:
    """Every source, by name."""
    sources = session.exec(select(Source).order_by(col(Source.name))).all()
    return [SourcePublic.model_validate(source, from_attributes=True) for source in sources]
