"""A worker's batches: timed in the batch histogram and written to its heartbeat."""

from sqlmodel import select

from hub.config import Settings
from hub.enrichment.worker import Worker
from hub.feedback.service import ingest
from hub.observability.heartbeat import Heartbeat
from hub.observability.metrics import WORKER_BATCH_SECONDS
from hub.observability.models import WorkerHeartbeat
from hub.store.engine import session_scope
from nlp.language import LinguaDetector
from nlp.pipeline import Pipeline
from tests.conftest import Database
from tests.factories import item


def batches_observed() -> float:
    return next(
        sample.value
        for metric in WORKER_BATCH_SECONDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_count")
    )


def test_a_batch_is_timed_and_reaches_the_heartbeat(db: Database) -> None:
    with session_scope(db.engine) as session:
        ingest(session, raw_items=[item(text="The delivery was late"), item(text="Hola")])
    settings = Settings(database_url=db.url, worker_batch_size=10)
    pipeline = Pipeline(language=LinguaDetector(settings.language_codes))
    worker = Worker(db.engine, settings, lambda _session: pipeline)
    heartbeat = Heartbeat(db.engine, worker.owner, roles="nlp")
    worker.on_batch = heartbeat.record_batch
    before = batches_observed()
    assert worker.run_once() == 2
    assert worker.run_once() == 0  # an empty poll is not a batch
    assert batches_observed() == before + 1
    heartbeat.beat()
    with session_scope(db.engine) as session:
        row = session.exec(select(WorkerHeartbeat)).one()
    assert row.owner == worker.owner and row.last_batch_items == 2
    assert row.last_batch_seconds is not None and row.last_batch_seconds > 0
