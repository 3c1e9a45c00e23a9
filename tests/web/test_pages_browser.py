"""Pages in real headless Chromium against a real server; screenshots go to artifacts/."""

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.collectors.contract import NOW
from tests.collectors.hackernews.test_hackernews import FakeAlgolia
from tests.collectors.local_http import local_http_server
from tests.live_server import CLI, LiveServer, live_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    '"><svg onload="window.__pwned=3">',
    "{{ 7*7 }} {% raw %}",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live"), demo=True) as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """A browser tab signed in through the real sign-in form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    sign_in(opened, server)
    yield opened
    context.close()


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/feedback")
    assert "/login?next=/feedback" in page.url
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/feedback")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_sign_in_refuses_a_wrong_password_then_lets_the_right_one_in(
    server: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/sources")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", "not it")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "wrong email or password"
    _shot(page, "login-refused")
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/sources")  # back where they were going
    assert "Ada Admin" in page.locator(".signed-in").inner_text()
    page.click(".signed-in button")
    page.wait_for_url(f"{server.base_url}/login")
    page.goto(f"{server.base_url}/feedback")
    assert "/login" in page.url
    context.close()


def test_docs_load_offline_and_list_the_api(server: LiveServer, page: Page) -> None:
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/feedback" in path for path in paths)
    _shot(page, "docs")


def test_inbox_shows_demo_feedback_and_filters(server: LiveServer, page: Page) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.base_url}/")
    assert page.url.endswith("/feedback")
    assert page.locator("article.item").count() == 50
    assert page.get_by_text("Older feedback").is_visible()
    _shot(page, "inbox")

    page.select_option("select[name=channel]", "review")
    page.fill("input[name=q]", "crash")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    items = page.locator("article.item")
    assert items.count() > 0
    for text in items.locator(".channel-review").all_inner_texts():
        assert text == "review"
    assert all("crash" in t.lower() for t in items.all_inner_texts())
    _shot(page, "inbox-filtered")
    assert errors == []


def test_hostile_feedback_text_is_shown_as_text_and_never_runs(
    server: LiveServer, page: Page
) -> None:
    items = [
        {
            "source": "xss",
            "external_id": f"x{n}",
            "channel": "social",
            "text": payload,
            "title": payload,
            "author": payload,
        }
        for n, payload in enumerate(HOSTILE)
    ]
    response = httpx.post(
        f"{server.base_url}/api/v1/feedback",
        json={"items": items},
        headers={"Authorization": f"Bearer {server.key}"},
    )
    assert response.json()["created"] == len(HOSTILE)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.base_url}/feedback?source=xss")
    texts = page.locator("article.item .text").all_inner_texts()
    assert sorted(texts) == sorted(HOSTILE)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("article.item script, article.item img, article.item svg").count() == 0
    assert dialogs == []
    _shot(page, "inbox-hostile")


def test_pages_send_a_strict_csp(server: LiveServer) -> None:
    response = httpx.get(f"{server.base_url}/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"


def test_serve_runs_a_worker_and_the_inbox_filters_by_language(
    server: LiveServer, page: Page
) -> None:
    auth = {"Authorization": f"Bearer {server.key}"}
    deadline = time.monotonic() + 180  # the worker loads its models first; CI may be busy
    while time.monotonic() < deadline:
        listing = httpx.get(
            f"{server.base_url}/api/v1/feedback", params={"language": "pt"}, headers=auth
        )
        if listing.json()["items"]:
            break
        time.sleep(0.5)
    assert listing.json()["items"], "the worker started by `serve` detected no Portuguese"
    page.goto(f"{server.base_url}/feedback?language=pt")
    chips = page.locator("article.item header .chip").all_inner_texts()
    assert "pt" in chips
    assert "en" not in chips and "es" not in chips
    _shot(page, "inbox-portuguese")


def test_the_scheduler_in_serve_pulls_sources_and_the_sources_page_shows_them(
    server: LiveServer, page: Page
) -> None:
    api = FakeAlgolia()
    api.add(5, start=1, newest=NOW - timedelta(hours=1))
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{server.log.parent / 'hub.db'}"}
    with local_http_server(api) as base_url:
        for name, url in (("hn-cestia", f"{base_url}/api/v1"), ("hn-down", "http://127.0.0.1:9")):
            config = json.dumps({"base_url": url, "query": "cestia"})
            add = ["sources", "add", "--kind", "hackernews", "--name", name, "--config", config]
            subprocess.run(
                [*CLI, *add],
                env=env, cwd=server.log.parent, check=True, capture_output=True,
            )  # fmt: skip
        auth = {"Authorization": f"Bearer {server.key}"}
        deadline = time.monotonic() + 180  # the worker process runs the scheduler
        while time.monotonic() < deadline:
            sources = httpx.get(f"{server.base_url}/api/v1/sources", headers=auth).json()
            runs = {s["name"]: s for s in sources if s["last_run_at"]}
            if {"hn-cestia", "hn-down"} <= set(runs):
                break
            time.sleep(0.5)
    assert runs["hn-cestia"]["status"] == "ok"
    assert runs["hn-cestia"]["last_run"]["created"] == 5
    assert runs["hn-down"]["status"] == "failing"
    page.goto(f"{server.base_url}/sources")
    assert page.locator("table.sources .status-ok").count() == 1
    assert "could not reach the source" in page.locator(".error-row").inner_text()
    _shot(page, "sources")
    page.goto(f"{server.base_url}/feedback?source=hn-cestia")
    assert page.locator("article.item").count() == 5
