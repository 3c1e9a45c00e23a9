"""Group commit for widget responses: posts that arrive together share one transaction.

Storing one response costs a transaction (SQLite's write lock, a few lookups, a commit) and a
hop to a worker thread; both cost about the same for a batch of responses as for one. So while
one batch is being written, new posts queue, and the next batch takes them all: an idle hub
writes each post at once, a busy one amortises the cost over many. Every post still gets its
own answer (created, duplicate, or its own 422) only after the commit that stored it.
"""

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from hub.errors import InvalidInput
from hub.store.engine import session_scope
from hub.surveys.models import ResponseResult
from hub.surveys.service import store_responses

MAX_BATCH = 64

Outcome = ResponseResult | InvalidInput | Exception
Store = Callable[[Session, Sequence[dict[str, Any]]], Sequence[ResponseResult | InvalidInput]]


def _store(
    session: Session, items: Sequence[dict[str, Any]]
) -> list[ResponseResult | InvalidInput]:
    return store_responses(session, items=items)


@dataclass(eq=False, slots=True)
class _Post:
    item: dict[str, Any]
    woken: anyio.Event = field(default_factory=anyio.Event)
    batch: "list[_Post] | None" = None  # set when this post is to write a batch (its own first)
    outcome: Outcome | None = None


class ResponseWriter:
    """Writes admitted responses (ingest items) in batches, ``concurrent_batches`` at a time.

    No background task: a post that finds a batch slot free writes a batch itself; when a
    batch is done, the slot and the next batch (the oldest waiting posts) go to the first of
    them, which writes it. Each batch is one thread hop, awaited by one of its own requests.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        store: Store = _store,
        max_batch: int = MAX_BATCH,
        concurrent_batches: int = 1,
    ) -> None:
        self._engine = engine
        self._store = store
        self._max_batch = max_batch
        # One batch at a time by default: SQLite has one writer at a time anyway, and on
        # PostgreSQL more batches at once measured slower on 2 cores (smaller batches, more
        # GIL hand-offs).
        self._slots = concurrent_batches
        self._queue: deque[_Post] = deque()  # only ever non-empty while every slot is taken
        self._writing = 0
        self.batches = 0  # written so far (for tests and profiling)

    async def write(self, item: dict[str, Any]) -> ResponseResult:
        """Store one item; its result once committed. Raises its 422, or what the store raised."""
        post = _Post(item)
        self._queue.append(post)
        if self._writing < self._slots:
            self._writing += 1
            post.batch = self._next_batch()
        else:
            try:
                await post.woken.wait()
            except BaseException:
                if post.batch is None and post in self._queue:
                    self._queue.remove(post)  # never written: the cancelled request stores nothing
                elif post.batch is not None:  # others wait on this batch: write it all the same
                    with anyio.CancelScope(shield=True):
                        await self._write_batch(post.batch)
                raise
        if post.batch is not None:
            with anyio.CancelScope(shield=True):  # the batch and the hand-off must complete
                await self._write_batch(post.batch)
        outcome = post.outcome
        if isinstance(outcome, Exception):
            raise outcome
        assert outcome is not None
        return outcome

    def _next_batch(self) -> "list[_Post]":
        return [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]

    async def _write_batch(self, batch: "list[_Post]") -> None:
        try:
            outcomes = await anyio.to_thread.run_sync(self._write, [p.item for p in batch])
        except Exception as exc:  # _write returns errors; this is a failed thread hop
            outcomes = [exc] * len(batch)
        self.batches += 1
        for post, outcome in zip(batch, outcomes, strict=True):
            post.outcome = outcome
            post.woken.set()
        if self._queue:  # hand the slot on, with the next batch
            head = self._queue[0]
            head.batch = self._next_batch()
            head.woken.set()
        else:
            self._writing -= 1

    def _write(self, items: list[dict[str, Any]]) -> list[Outcome]:
        """In a worker thread: one transaction for the batch."""
        try:
            with session_scope(self._engine) as session:
                return list(self._store(session, items))
        except Exception as exc:
            if len(items) == 1:
                return [exc]
        # One item must not fail the others: each again, in a transaction of its own.
        return [self._write([item])[0] for item in items]
