"""The System page in real headless Chromium against a real server with its worker."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.live_server import LiveServer, live_server
from tests.web.test_admin_browser import shot, signed_in_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir: Path = tmp_path_factory.mktemp("live-system")
    with live_server(workdir) as running:
        yield running


def test_system_page_shows_the_serve_worker(server: LiveServer, browser: Browser) -> None:
    page = signed_in_page(browser, server)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.click(".admin-nav >> text=System")
    page.wait_for_url(f"{server.base_url}/admin/system")
    for _ in range(30):  # the worker process beats once it has started
        if page.locator("tr.worker").count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    worker = page.locator("tr.worker")
    expect(worker).to_have_count(1)
    expect(worker.locator(".status")).to_have_text("alive")
    expect(worker.locator(".role")).to_have_text(["nlp", "collect", "notify"])
    expect(page.locator("#db-backend")).to_have_text("sqlite")
    expect(page.locator(".system-database .status")).to_have_text("current")
    shot(page, "admin-system")
    narrow = signed_in_page(browser, server, width=390)
    narrow.goto(f"{server.base_url}/admin/system")
    shot(narrow, "admin-system-narrow")
    assert problems == []
