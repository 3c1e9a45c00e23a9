"""Group commit of widget responses: shared batches, one answer each, cancellation, failures."""

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from hub.errors import InvalidInput
from hub.feedback.models import Feedback
from hub.store.engine import make_engine, session_scope
from hub.surveys.api import widget_state
from hub.surveys.models import ResponseResult
from hub.surveys.writer import ResponseWriter
from tests.conftest import Database
from tests.surveys.conftest import Post, make_survey

pytestmark = pytest.mark.anyio


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = make_engine("sqlite://")
    yield engine
    engine.dispose()


class GatedStore:
    """A store that records each batch and holds the first one until ``release``."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.fail = fail or set()
        self._stored = anyio.Event()

    def __call__(
        self, _session: Session, items: Sequence[dict[str, Any]]
    ) -> list[ResponseResult | InvalidInput]:
        numbers = [item["n"] for item in items]
        self.batches.append(numbers)
        anyio.from_thread.run_sync(self._notify)
        if len(self.batches) == 1:
            self.gate.wait(10)
        if self.fail & set(numbers):
            raise RuntimeError(f"cannot store {sorted(self.fail & set(numbers))}")
        return [
            InvalidInput(f"item {n} refused") if n < 0 else ResponseResult(id=n, status="created")
            for n in numbers
        ]

    def _notify(self) -> None:
        self._stored.set()
        self._stored = anyio.Event()

    async def started(self, batches: int = 1) -> None:
        """Wait until ``batches`` batches reached the store."""
        with anyio.fail_after(5):
            while len(self.batches) < batches:
                await self._stored.wait()


async def test_posts_that_arrive_during_a_write_share_the_next_batch(engine: Engine) -> None:
    store = GatedStore()
    writer = ResponseWriter(engine, store=store)
    answers: dict[int, Any] = {}

    async def post(n: int) -> None:
        try:
            answers[n] = await writer.write({"n": n})
        except InvalidInput as exc:
            answers[n] = exc.message

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(post, 1)
        await store.started()
        for n in (2, 3, -4, 5):
            tasks.start_soon(post, n)
        await anyio.sleep(0.05)
        store.gate.set()
    assert store.batches == [[1], [2, 3, -4, 5]]
    assert writer.batches == 2
    assert answers == {
        1: ResponseResult(id=1, status="created"),
        2: ResponseResult(id=2, status="created"),
        3: ResponseResult(id=3, status="created"),
        -4: "item -4 refused",  # only the refused item fails
        5: ResponseResult(id=5, status="created"),
    }


async def test_a_failing_batch_is_retried_item_by_item(engine: Engine) -> None:
    store = GatedStore(fail={3})
    writer = ResponseWriter(engine, store=store)
    answers: dict[int, Any] = {}

    async def post(n: int) -> None:
        try:
            answers[n] = (await writer.write({"n": n})).id
        except RuntimeError as exc:
            answers[n] = str(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(post, 1)
        await store.started()
        for n in (2, 3, 4):
            tasks.start_soon(post, n)
        await anyio.sleep(0.05)
        store.gate.set()
    assert store.batches == [[1], [2, 3, 4], [2], [3], [4]]
    assert answers == {1: 1, 2: 2, 3: "cannot store [3]", 4: 4}


async def test_a_cancelled_post_is_not_written_and_the_queue_moves_on(engine: Engine) -> None:
    store = GatedStore()
    writer = ResponseWriter(engine, store=store)
    answers: dict[int, int] = {}

    async def post(n: int) -> None:
        answers[n] = (await writer.write({"n": n})).id

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(post, 1)
        await store.started()
        tasks.start_soon(post, 2)
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(post, 3)
            await anyio.sleep(0.02)
            doomed.cancel_scope.cancel()  # post 3 gives up while queued
        tasks.start_soon(post, 4)
        await anyio.sleep(0.02)
        store.gate.set()
    assert store.batches == [[1], [2, 4]]
    assert answers == {1: 1, 2: 2, 4: 4}
    # Idle again: the next post is written at once.
    assert (await writer.write({"n": 5})).id == 5


async def test_two_batches_at_once_when_asked(engine: Engine) -> None:
    store = GatedStore()
    writer = ResponseWriter(engine, store=store, concurrent_batches=2)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(writer.write, {"n": 1})
        await store.started()
        tasks.start_soon(writer.write, {"n": 2})  # a free slot: written without waiting
        await store.started(2)
        store.gate.set()
    assert store.batches == [[1], [2]]


async def test_concurrent_posts_over_http_are_stored_once_each_in_shared_batches(
    app: Any, post: Post, db: Database
) -> None:
    survey = make_survey(db, rate_limit_per_minute=1000)
    keys = [f"batched-{n:04d}" for n in range(30)]
    answers: dict[tuple[str, int], httpx.Response] = {}
    async with anyio.create_task_group() as tasks:

        async def send(idem: str, slot: int) -> None:
            answers[(idem, slot)] = await post({"key": survey.key, "score": slot}, idem=idem)

        for n, idem in enumerate(keys):
            tasks.start_soon(send, idem, 0)
            if n % 3 == 0:
                tasks.start_soon(send, idem, 1)  # a concurrent retry
    codes = sorted(answer.status_code for answer in answers.values())
    assert codes == [200] * 10 + [201] * 30
    for idem in keys[::3]:
        assert answers[(idem, 0)].json()["id"] == answers[(idem, 1)].json()["id"]
    with session_scope(db.engine) as session:
        assert session.exec(select(func.count()).select_from(Feedback)).one() == 30
    assert widget_state(app).writer.batches < 40  # posts shared transactions
