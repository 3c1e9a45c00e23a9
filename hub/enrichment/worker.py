"""The enrichment worker: claim a batch, run the NLP pipeline on it, store the results.

It runs as `feedback-hub worker`, or as a child process of `feedback-hub serve`; either way the
API process never imports the NLP stack. Run as many as you like on PostgreSQL. A worker
process runs the roles it is given (``--only``), each in a loop of its own:

- ``nlp``: enrichment (this module; the only role that loads the NLP stack),
- ``collect``: the collector scheduler (``HUB_SCHEDULER_ENABLED``), in a thread,
- ``notify``: SLA alerts, outbox delivery and the retention prune, in a thread.
"""

import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from threading import Event
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlmodel import Session

from hub.config import Settings, get_settings
from hub.enrichment.claims import (
    Claimed,
    Failure,
    claim_batch,
    record_failures,
    still_owned,
    write_results,
    write_sentiments,
)
from hub.enrichment.pipeline import PipelineLoader
from hub.errors import InvalidInput
from hub.lifecycle import die_with_parent
from hub.notifications.tasks import start_notifier_thread
from hub.observability.heartbeat import Heartbeat, start_heartbeat_thread
from hub.observability.logs import configure_logging
from hub.observability.metrics import observe_batch, serve_worker_metrics
from hub.routing.defaults import ensure_default_rules
from hub.routing.service import route_feedback
from hub.sources.scheduler import start_scheduler_thread
from hub.store.engine import make_engine, session_scope
from hub.store.wakeups import FEEDBACK_PENDING, Listener
from hub.topics.service import seed_topics, store_model_topics

if TYPE_CHECKING:  # the NLP stack is imported only when a pipeline is loaded
    from nlp.pipeline import Enrichment, Pipeline

log = logging.getLogger(__name__)
#: What a worker process can run; ``feedback-hub worker`` runs all of them unless told ``--only``.
ROLE_ORDER = ("nlp", "collect", "notify")
ROLES = frozenset(ROLE_ORDER)


@dataclass
class Worker:
    """One worker: ``run`` loops until stopped; ``run_once`` handles one batch.

    ``pipelines`` gives the pipeline to use for the next batch (it may change with the taxonomy).
    """

    engine: Engine
    settings: Settings
    pipelines: Callable[[Session], "Pipeline"]
    owner: str = ""
    on_batch: Callable[[int, float], None] | None = None  # (items, seconds) of each batch

    def __post_init__(self) -> None:
        self.owner = self.owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def run(self, stop: Event) -> None:
        """Process batches until ``stop`` is set; when nothing is pending, wait for an ingest
        (PostgreSQL wakes it) or the poll interval."""
        log.info("worker %s started", self.owner)
        with Listener(self.engine, FEEDBACK_PENDING) as ingested:
            while not stop.is_set():
                try:
                    claimed = self.run_once()
                except Exception:  # the database restarting, say: keep the worker alive, back off
                    log.exception("worker %s: batch failed; retrying after a pause", self.owner)
                    stop.wait(self.settings.worker_poll_seconds * 10)
                    continue
                if claimed == 0:
                    ingested.wait(self.settings.worker_poll_seconds, stop)
        log.info("worker %s stopped", self.owner)

    def run_until_drained(self, stop: Event) -> None:
        """Process batches until nothing is pending (or ``stop`` is set)."""
        while not stop.is_set() and self.run_once():
            pass

    def run_once(self) -> int:
        """Claim, enrich and store one batch; returns how many items were claimed."""
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        started = time.perf_counter()
        with session_scope(self.engine) as session:
            pipeline = self.pipelines(session)
            claimed = claim_batch(
                session, owner=self.owner, size=self.settings.worker_batch_size, lease=lease
            )
        if not claimed:
            return 0
        enriched, failures = self._enrich(pipeline, claimed)
        with session_scope(self.engine) as session:
            owned = still_owned(session, owner=self.owner, ids=list(enriched))
            store_model_topics(
                session,
                assigned={i: [(t.key, t.confidence) for t in enriched[i].topics] for i in owned},
            )
            write_sentiments(
                session,
                owner=self.owner,
                sentiments={
                    i: (e.sentiment.label, e.sentiment.score, e.sentiment.confidence)
                    for i, e in enriched.items()
                    if e.sentiment is not None
                },
            )
            written = write_results(
                session,
                owner=self.owner,
                model=pipeline.version,
                results={i: {"language": e.language} for i, e in enriched.items()},
            )
            record_failures(
                session,
                owner=self.owner,
                failures=failures,
                max_attempts=self.settings.worker_max_attempts,
                retry_after=timedelta(seconds=self.settings.worker_poll_seconds * 10),
            )
            # Done, or failed for good: route now (rules on scores work without NLP results).
            given_up = [f.id for f in failures if f.attempts >= self.settings.worker_max_attempts]
            route_feedback(session, settings=self.settings, feedback_ids=[*owned, *given_up])
        lost = len(enriched) - written
        log.info("enriched %d, failed %d, lost lease on %d", written, len(failures), lost)
        seconds = time.perf_counter() - started
        observe_batch(seconds)
        if self.on_batch is not None:
            self.on_batch(len(claimed), seconds)
        return len(claimed)

    @staticmethod
    def _enrich(
        pipeline: "Pipeline", claimed: list[Claimed]
    ) -> tuple[dict[int, "Enrichment"], list[Failure]]:
        """The whole batch at once; if that fails, item by item to isolate the bad ones."""
        try:
            enriched = pipeline.enrich(
                [item.text for item in claimed], [item.language_hint for item in claimed]
            )
            return dict(zip((item.id for item in claimed), enriched, strict=True)), []
        except Exception:
            log.exception("batch of %d failed; retrying item by item", len(claimed))
        results: dict[int, Enrichment] = {}
        failures: list[Failure] = []
        for item in claimed:
            try:
                results[item.id] = pipeline.enrich([item.text], [item.language_hint])[0]
            except Exception as exc:
                failures.append(Failure(item.id, f"{type(exc).__name__}: {exc}", item.attempts))
        return results, failures


def run_until_signalled(
    settings: Settings | None = None, *, once: bool = False, roles: frozenset[str] = ROLES
) -> None:
    """A worker process running ``roles`` until SIGTERM/SIGINT, with its heartbeat.

    ``once``: enrich until nothing is pending, then stop (the other roles do not run).
    """
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, pool_size=2)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    heartbeat = Heartbeat(engine, owner, roles=",".join(r for r in ROLE_ORDER if r in roles))
    configure_logging(level=settings.log_level, log_format=settings.log_format, worker=owner)
    with session_scope(engine) as session:
        seed_topics(session)
        ensure_default_rules(session)
    stop = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _setter(stop))
    threads = [
        start_heartbeat_thread(heartbeat, every=settings.worker_heartbeat_seconds, stop=stop)
    ]
    if not once:
        serve_worker_metrics(settings.worker_metrics_port)
    if not once and "notify" in roles:
        threads.append(start_notifier_thread(engine, settings, stop))
    if not once and "collect" in roles and settings.scheduler_enabled:
        threads.append(start_scheduler_thread(engine, settings, stop))
    try:
        if "nlp" in roles:
            worker = Worker(engine, settings, PipelineLoader(settings), owner=owner)
            worker.on_batch = heartbeat.record_batch
            if once:
                worker.run_until_drained(stop)
            else:
                worker.run(stop)
        else:
            while not once and not stop.wait(1.0):  # the other roles run in their threads
                pass
    finally:
        stop.set()  # a --once run ends here: its heartbeat removes its row
        for thread in threads:
            thread.join(timeout=30)
        engine.dispose()


def parse_roles(text: str) -> frozenset[str]:
    """Roles from a comma-separated list ("nlp,notify"); ``InvalidInput`` names unknown ones."""
    roles = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = sorted(roles - ROLES)
    if unknown or not roles:
        raise InvalidInput(
            f"unknown worker role(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(sorted(ROLES))}"
        )
    return roles


def run_as_child(parent_pid: int) -> None:
    """``run_until_signalled`` in a child process of ``serve``: it stops when its parent ends."""
    die_with_parent(parent_pid)
    run_until_signalled()


def _setter(stop: Event) -> Callable[[int, object], None]:
    return lambda _signum, _frame: stop.set()
