"""The enrichment worker: claim a batch, run the NLP pipeline on it, store the results.

It runs as `feedback-hub worker`, or as a child process of `feedback-hub serve`; either way the
API process never imports the NLP stack. Run as many as you like on PostgreSQL.
"""

import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from threading import Event
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from hub.config import Settings, get_settings
from hub.enrichment.claims import Claimed, Failure, claim_batch, record_failures, write_results
from hub.store.engine import make_engine, session_scope

if TYPE_CHECKING:  # the NLP stack is imported only when a pipeline is loaded
    from nlp.pipeline import Enrichment, Pipeline

log = logging.getLogger(__name__)


def load_pipeline(settings: Settings) -> "Pipeline":
    """The configured pipeline; imports the NLP stack (only workers call this)."""
    from nlp.language import LinguaDetector
    from nlp.pipeline import Pipeline

    return Pipeline(language=LinguaDetector(settings.language_codes))


@dataclass
class Worker:
    """One worker: ``run`` loops until stopped; ``run_once`` handles one batch."""

    engine: Engine
    pipeline: "Pipeline"
    settings: Settings
    owner: str = ""

    def __post_init__(self) -> None:
        self.owner = self.owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def run(self, stop: Event) -> None:
        """Process batches until ``stop`` is set, waiting a little when nothing is pending."""
        log.info("worker %s started (%s)", self.owner, self.pipeline.version)
        while not stop.is_set():
            if self.run_once() == 0:
                stop.wait(self.settings.worker_poll_seconds)
        log.info("worker %s stopped", self.owner)

    def run_once(self) -> int:
        """Claim, enrich and store one batch; returns how many items were claimed."""
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        with session_scope(self.engine) as session:
            claimed = claim_batch(
                session, owner=self.owner, size=self.settings.worker_batch_size, lease=lease
            )
        if not claimed:
            return 0
        results, failures = self._enrich(claimed)
        with session_scope(self.engine) as session:
            written = write_results(
                session, owner=self.owner, model=self.pipeline.version, results=results
            )
            record_failures(
                session,
                owner=self.owner,
                failures=failures,
                max_attempts=self.settings.worker_max_attempts,
                retry_after=timedelta(seconds=self.settings.worker_poll_seconds * 10),
            )
        log.info(
            "enriched %d, failed %d, lost lease on %d",
            written,
            len(failures),
            len(results) - written,
        )
        return len(claimed)

    def _enrich(self, claimed: list[Claimed]) -> tuple[dict[int, dict[str, object]], list[Failure]]:
        """The whole batch at once; if that fails, item by item to isolate the bad ones."""
        try:
            enriched = self.pipeline.enrich([item.text for item in claimed])
            return {item.id: _columns(e) for item, e in zip(claimed, enriched, strict=True)}, []
        except Exception:
            log.exception("batch of %d failed; retrying item by item", len(claimed))
        results: dict[int, dict[str, object]] = {}
        failures: list[Failure] = []
        for item in claimed:
            try:
                results[item.id] = _columns(self.pipeline.enrich([item.text])[0])
            except Exception as exc:
                failures.append(Failure(item.id, f"{type(exc).__name__}: {exc}", item.attempts))
        return results, failures


def _columns(enrichment: "Enrichment") -> dict[str, object]:
    return {"language": enrichment.language}


def run_until_signalled(settings: Settings | None = None, *, once: bool = False) -> None:
    """A worker process: runs until SIGTERM/SIGINT (with ``once``: until nothing is pending)."""
    settings = settings or get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = make_engine(settings.database_url, pool_size=2)
    worker = Worker(engine, load_pipeline(settings), settings)
    stop = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _setter(stop))
    try:
        if once:
            while not stop.is_set() and worker.run_once():
                pass
        else:
            worker.run(stop)
    finally:
        engine.dispose()


def _setter(stop: Event) -> Callable[[int, object], None]:
    return lambda _signum, _frame: stop.set()
