"""The survey widget in real Chromium, embedded on a host page of another origin with a strict CSP.

A real `feedback-hub serve` is the hub; a tiny http.server on another port is the customer's site.
Screenshots go to artifacts/screenshots/widget-*.png.
"""

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect
from playwright.sync_api import Error as PlaywrightError

from tests.live_server import CLI, LiveServer, live_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
QUEUE = "JSON.parse(localStorage.getItem('feedbackhub:queue') || '[]')"
SENT_ALL = f"() => {QUEUE}.length === 0"  # a function: a string expression would need eval
# Records CSP violations before any page script runs (init scripts are not subject to the CSP).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI), true);
"""
HOST_CSS = """
body { margin: 0; font: 16px/1.5 Georgia, serif; color: #222; background: #fbfaf7; }
header { padding: 1rem 2rem; background: #263238; color: #fff; }
main { max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
#open { font: inherit; padding: .5rem 1rem; }
"""
# The documented way to identify someone when the widget loads asynchronously.
HOST_JS = """
const who = new URLSearchParams(location.search).get('customer');
const ready = () => who && window.FeedbackHub.identify(
  {id: who, email: who + '@cestia.example', name: 'Ana Souza', attributes: {plan: 'pro'}});
if (window.FeedbackHub) ready(); else window.addEventListener('feedbackhub:ready', ready);
document.getElementById('open').addEventListener('click', () => window.FeedbackHub.open());
"""


@dataclass
class Host:
    """A customer's site: serves /?key=…&lang=… embedding the hub's widget under a strict CSP."""

    origin: str
    hub: str

    def url(self, key: str, lang: str = "en", **params: str) -> str:
        query = "&".join(f"{name}={value}" for name, value in {"key": key, **params}.items())
        return f"{self.origin}/?lang={lang}&{query}"


@dataclass
class Survey:
    key: str
    source: str


@contextmanager
def host_site(hub: str) -> Iterator[Host]:
    """Serve the host page on 127.0.0.1 at a free port (a different origin from the hub)."""
    csp = f"script-src 'self' {hub}; connect-src {hub}; style-src 'self'"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/host.js":
                self._send(HOST_JS, "text/javascript")
            elif parts.path == "/host.css":
                self._send(HOST_CSS, "text/css")
            elif parts.path == "/":
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                self._send(_page(hub, query.get("key", ""), query.get("lang", "en")), "text/html")
            else:
                self.send_response(204)
                self.end_headers()

        def _send(self, body: str, kind: str) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Host(f"http://127.0.0.1:{server.server_address[1]}", hub)
    finally:
        server.shutdown()
        server.server_close()


def _page(hub: str, key: str, lang: str) -> str:
    heading = {"es": "Tu pedido está en camino", "pt": "Seu pedido está a caminho"}
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cestia shop</title><link rel="stylesheet" href="/host.css"></head>
<body><header><strong>Cestia</strong></header>
<main><h1>{heading.get(lang, "Your order is on its way")}</h1>
<p>Order #1042 ships tomorrow. We will email you the tracking number.</p>
<button id="open" type="button">Rate your order</button></main>
<script src="/host.js"></script>
<script src="{hub}/widget.js" data-key="{key}" async></script>
</body></html>"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("widget")) as running:
        yield running


@pytest.fixture(scope="module")
def host(server: LiveServer) -> Iterator[Host]:
    with host_site(server.base_url) as site:
        yield site


@pytest.fixture(scope="module")
def stranger(server: LiveServer) -> Iterator[Host]:
    """Another site, which no survey allows."""
    with host_site(server.base_url) as site:
        yield site


def create_survey(server: LiveServer, host: Host, *args: str) -> Survey:
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{server.log.parent / 'hub.db'}"}

    def cli(*command: str) -> Any:
        run = subprocess.run(
            [*CLI, "surveys", *command, "--json"],
            env=env, cwd=server.log.parent, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(run.stdout)

    created = cli("create", "--origin", host.origin, *args)
    source = next(s["source"] for s in cli("list") if s["id"] == created["id"])
    return Survey(created["key"], source)


@pytest.fixture(scope="module")
def nps(server: LiveServer, host: Host) -> Survey:
    return create_survey(
        server, host, "--type", "nps", "--rate-limit", "1000",
        "--question", "How likely are you to recommend Cestia to a friend?",
        "--question-es", "¿Qué probabilidad hay de que recomiendes Cestia a un amigo?",
        "--follow-up", "What is the main reason for your score?",
    )  # fmt: skip


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (its own localStorage) at desktop size."""
    opened = browser.new_context(viewport={"width": 1280, "height": 800})
    opened.add_init_script(WATCH_CSP)
    yield opened
    opened.close()


@dataclass
class Watched:
    """A tab whose console errors and widget POSTs are recorded."""

    page: Page
    errors: list[str]
    posts: list[str]

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp"))

    def assert_clean(self) -> None:
        assert self.errors == []
        assert self.csp_violations() == []


def watch(page: Page) -> Watched:
    watched = Watched(page, [], [])
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.errors.append(str(e)))

    def record_post(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/responses"):
            watched.posts.append(request.url)

    page.on("request", record_post)
    return watched


@pytest.fixture
def tab(context: BrowserContext) -> Watched:
    return watch(context.new_page())


def stored(server: LiveServer, survey: Survey) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.base_url}/api/v1/feedback",
        params={"source": survey.source, "limit": 200},
        headers={"Authorization": f"Bearer {server.key}"},
    )
    response.raise_for_status()
    return list(response.json()["items"])


def with_comment(server: LiveServer, survey: Survey, comment: str) -> list[dict[str, Any]]:
    return [item for item in stored(server, survey) if item["text"] == comment]


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"widget-{name}.png"))


def open_survey(page: Page) -> None:
    """Open the widget with its floating button and wait for the question."""
    page.get_by_role("button", name="Feedback", exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("radio").first).to_be_visible()


def answer(page: Page, score: str, comment: str) -> None:
    page.get_by_role("radio", name=score, exact=True).click()
    page.get_by_role("textbox").fill(comment)


FOCUSED = """() => {
  const el = document.querySelector('feedback-hub-widget').shadowRoot.activeElement;
  return el ? el.getAttribute('aria-label') || el.textContent || el.tagName : '';
}"""


def shadow_focus(page: Page) -> str:
    """The accessible name or text of what has focus inside the widget."""
    return str(page.evaluate(FOCUSED))


def wait_for_focus(page: Page, name: str, timeout_s: float = 5) -> None:
    """Wait until ``name`` has focus inside the widget (it moves there asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while shadow_focus(page) != name and time.monotonic() < deadline:
        time.sleep(0.02)
    assert shadow_focus(page) == name


def test_an_nps_answer_with_a_comment_is_stored_once_and_linked_to_the_customer(
    server: LiveServer, host: Host, nps: Survey, tab: Watched
) -> None:
    page = tab.page
    page.goto(host.url(nps.key, customer="cus_42"))
    launcher = page.get_by_role("button", name="Feedback", exact=True)
    expect(launcher).to_be_visible()
    shot(page, "launcher")
    open_survey(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name("How likely are you to recommend Cestia to a friend?")
    assert page.get_by_role("radio").count() == 11
    expect(dialog.get_by_text("Not likely", exact=True)).to_be_visible()
    answer(page, "9", "Fast delivery, tidy packaging")
    expect(page.get_by_role("radio", name="9", exact=True)).to_have_attribute(
        "aria-checked", "true"
    )
    shot(page, "nps")
    page.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("status")).to_have_text("Thank you for your feedback!")
    shot(page, "thanks")

    items = with_comment(server, nps, "Fast delivery, tidy packaging")
    assert len(items) == 1
    item = items[0]
    assert (item["channel"], item["score_type"], item["score"]) == ("survey", "nps", 9)
    assert item["customer"]["ref"] == "cus_42"
    assert item["customer"]["email"] == "cus_42@cestia.example"
    assert item["url"] == host.url(nps.key, customer="cus_42")
    assert item["metadata"]["locale"] == "en"
    assert item["metadata"]["origin"] == host.origin
    assert len(tab.posts) == 1
    assert page.evaluate(QUEUE) == []
    tab.assert_clean()


def test_a_site_the_survey_does_not_allow_is_refused(
    server: LiveServer, stranger: Host, nps: Survey, tab: Watched
) -> None:
    before = len(stored(server, nps))
    page = tab.page
    page.goto(stranger.url(nps.key))
    page.get_by_role("button", name="Feedback", exact=True).click()
    status = page.get_by_role("dialog").get_by_role("status")
    expect(status).to_have_text("Sorry, feedback is not available here.")
    assert page.get_by_role("radio").count() == 0
    shot(page, "refused")
    # Even a hand-made post from that page is refused by the hub (the CORS preflight fails).
    outcome = page.evaluate(
        """async ([hub, key]) => {
             try {
               const r = await fetch(hub + '/api/v1/responses', {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'Idempotency-Key': 'abcdefgh1234'},
                 body: JSON.stringify({key, score: 10, comment: 'sneaky', website: ''})});
               return r.status;
             } catch (e) { return 'blocked'; }
           }""",
        [server.base_url, nps.key],
    )
    assert outcome == "blocked"
    assert len(stored(server, nps)) == before
    assert all("CORS" in error or "Failed to" in error for error in tab.errors)
    assert tab.csp_violations() == []


def test_an_answer_given_offline_is_sent_once_when_back_online(
    server: LiveServer, host: Host, nps: Survey, context: BrowserContext, tab: Watched
) -> None:
    page = tab.page
    page.goto(host.url(nps.key))
    open_survey(page)
    context.set_offline(True)
    answer(page, "7", "offline then online")
    page.get_by_role("button", name="Send").click()
    status = page.get_by_role("dialog").get_by_role("status")
    expect(status).to_have_text(
        "Thank you! Your feedback will be sent when the connection is back."
    )
    shot(page, "offline")
    assert len(page.evaluate(QUEUE)) == 1
    assert with_comment(server, nps, "offline then online") == []

    context.set_offline(False)  # the `online` event sends it
    page.wait_for_function(SENT_ALL)
    time.sleep(1.5)  # no second delivery from a back-off timer
    assert len(with_comment(server, nps, "offline then online")) == 1
    assert all("ERR_INTERNET_DISCONNECTED" in error for error in tab.errors)
    assert tab.csp_violations() == []


def test_a_queued_answer_survives_a_reload_and_a_resend_is_not_stored_twice(
    server: LiveServer, host: Host, nps: Survey, context: BrowserContext, tab: Watched
) -> None:
    page = tab.page
    page.goto(host.url(nps.key))
    open_survey(page)
    context.set_offline(True)
    answer(page, "3", "queued across a reload")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("dialog").get_by_role("status")).to_contain_text("Thank you!")
    queued = page.evaluate(QUEUE)
    assert len(queued) == 1
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        page.reload()  # the site itself is unreachable offline
    page.close()  # the tab is gone before the `online` event could send anything

    context.set_offline(False)
    later = watch(context.new_page())
    later.page.goto(host.url(nps.key))  # the widget sends what the queue holds on load
    later.page.wait_for_function(SENT_ALL)
    assert len(with_comment(server, nps, "queued across a reload")) == 1

    # The same response again (as if a tab died before seeing the hub's answer): not stored twice.
    def is_post(request: Request) -> bool:
        return request.method == "POST" and request.url.endswith("/api/v1/responses")

    with later.page.expect_request(is_post) as resent:
        later.page.evaluate(
            """(q) => { localStorage.setItem('feedbackhub:queue', JSON.stringify(q));
                        window.dispatchEvent(new Event('online')); }""",
            queued,
        )
    answered = resent.value.response()
    assert answered is not None and answered.status == 200  # "duplicate": the same id
    assert answered.json()["status"] == "duplicate"
    later.page.wait_for_function(SENT_ALL)
    assert len(with_comment(server, nps, "queued across a reload")) == 1
    later.assert_clean()


def test_a_double_click_submits_once(
    server: LiveServer, host: Host, nps: Survey, tab: Watched
) -> None:
    page = tab.page
    page.goto(host.url(nps.key))
    open_survey(page)
    answer(page, "10, Very likely", "double clicked")
    page.get_by_role("button", name="Send").dblclick()
    expect(page.get_by_role("dialog").get_by_role("status")).to_have_text(
        "Thank you for your feedback!"
    )
    time.sleep(0.5)
    assert len(tab.posts) == 1
    assert len(with_comment(server, nps, "double clicked")) == 1
    tab.assert_clean()


def test_the_survey_works_with_the_keyboard_alone(
    server: LiveServer, host: Host, nps: Survey, tab: Watched
) -> None:
    page = tab.page
    page.goto(host.url(nps.key))
    expect(page.get_by_role("button", name="Feedback", exact=True)).to_be_visible()
    for _ in range(5):  # past the page's own button to the floating one
        page.keyboard.press("Tab")
        if shadow_focus(page) == "Feedback":
            break
    assert shadow_focus(page) == "Feedback"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    wait_for_focus(page, "0, Not likely")  # focus moves into the dialog once it is drawn
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    assert shadow_focus(page) == "8"
    expect(page.get_by_role("radio", name="8", exact=True)).to_have_attribute(
        "aria-checked", "true"
    )
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Space")
    expect(page.get_by_role("radio", name="7", exact=True)).to_have_attribute(
        "aria-checked", "true"
    )
    page.keyboard.press("Tab")
    assert shadow_focus(page) == "TEXTAREA"
    page.keyboard.type("Typed with the keyboard")
    page.keyboard.press("Tab")
    assert shadow_focus(page) == "Send"
    shot(page, "keyboard")
    page.keyboard.press("Tab")  # focus is trapped: from the last control back to the first
    assert shadow_focus(page) == "Close"
    page.keyboard.press("Shift+Tab")
    assert shadow_focus(page) == "Send"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("status")).to_have_text(
        "Thank you for your feedback!"
    )
    assert shadow_focus(page) == "Close"
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert shadow_focus(page) == "Feedback"  # focus returns to what opened it
    items = with_comment(server, nps, "Typed with the keyboard")
    assert [item["score"] for item in items] == [7]

    # Opened from the page's own button through window.FeedbackHub.open(), focus returns there.
    page.get_by_role("button", name="Rate your order").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "open"
    tab.assert_clean()


def test_a_spanish_page_gets_the_survey_in_spanish_on_a_phone(
    server: LiveServer, host: Host, nps: Survey, browser: Browser
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    context.add_init_script(WATCH_CSP)
    tab = watch(context.new_page())
    page = tab.page
    page.goto(host.url(nps.key, lang="es"))
    launcher = page.get_by_role("button", name="Opinión", exact=True)
    expect(launcher).to_be_visible()
    shot(page, "phone-launcher-es")
    launcher.tap()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name(
        "¿Qué probabilidad hay de que recomiendes Cestia a un amigo?"
    )
    expect(dialog.get_by_text("Nada probable", exact=True)).to_be_visible()
    page.get_by_role("radio", name="10, Muy probable", exact=True).tap()
    expect(dialog.get_by_text("(opcional)")).to_be_visible()
    page.get_by_role("textbox").fill("Muy rápido")
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    for radio in page.get_by_role("radio").all():  # every score is on screen and tappable
        score_box = radio.bounding_box()
        assert score_box is not None and score_box["height"] >= 40
        assert score_box["x"] >= 0 and score_box["x"] + score_box["width"] <= 390
    shot(page, "phone-es")
    dialog.get_by_role("button", name="Enviar").tap()
    expect(dialog.get_by_role("status")).to_have_text("¡Gracias por tu opinión!")
    items = with_comment(server, nps, "Muy rápido")
    assert len(items) == 1 and items[0]["metadata"]["locale"] == "es"
    tab.assert_clean()
    context.close()


def test_a_thumbs_survey_on_a_portuguese_page(server: LiveServer, host: Host, tab: Watched) -> None:
    thumbs = create_survey(server, host, "--type", "thumbs", "--question", "Was this page useful?")
    page = tab.page
    page.goto(host.url(thumbs.key, lang="pt-BR"))
    page.get_by_role("button", name="Opinião", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_accessible_name("Was this page useful?")  # no pt text: English
    texts = [" ".join(text.split()) for text in page.get_by_role("radio").all_inner_texts()]
    assert texts == ["👍 Sim", "👎 Não"]  # thumbs up first
    page.get_by_role("radio", name="Sim").click()
    page.get_by_role("textbox").fill("Resolveu meu problema")
    shot(page, "thumbs-pt")
    dialog.get_by_role("button", name="Enviar").click()
    expect(dialog.get_by_role("status")).to_have_text("Obrigado pela sua opinião!")
    [item] = stored(server, thumbs)
    assert (item["score_type"], item["score"], item["metadata"]["locale"]) == ("thumbs", 1, "pt-BR")
    tab.assert_clean()


def test_a_429_waits_for_retry_after_and_other_4xx_are_not_retried(
    server: LiveServer, host: Host, tab: Watched
) -> None:
    csat = create_survey(
        server, host, "--type", "csat", "--rate-limit", "1", "--question", "How was support?"
    )
    page = tab.page
    page.goto(host.url(csat.key))
    # A customer the hub refuses (not an email): 422, shown, dropped, never retried.
    page.evaluate("FeedbackHub.identify({id: 'cus_7', email: 'not an email'})")
    open_survey(page)
    assert page.get_by_role("radio").count() == 5
    page.get_by_role("radio", name="4", exact=True).click()
    page.get_by_role("button", name="Send").click()
    status = page.get_by_role("dialog").get_by_role("status")
    expect(status).to_have_text("Sorry, your feedback could not be sent.")
    assert page.evaluate(QUEUE) == []

    page.evaluate("FeedbackHub.identify({id: 'cus_7'})")  # fixed: it may try again
    page.get_by_role("button", name="Send").click()
    expect(status).to_have_text("Thank you for your feedback!")
    page.keyboard.press("Escape")

    open_survey(page)  # a second answer within the minute: 429 with Retry-After
    page.get_by_role("radio", name="5, Very satisfied").click()
    with page.expect_response(lambda answer: answer.status == 429) as refused:
        page.get_by_role("button", name="Send").click()
    # A sliding window: the hub's wait depends on where the earlier answers fell in the minute.
    retry_after = int(refused.value.headers["retry-after"])
    expect(status).to_contain_text("will be sent when the connection is back")
    [queued] = page.evaluate(QUEUE)
    wait_s = (queued["t"] - page.evaluate("Date.now()")) / 1000
    assert retry_after - 2 < wait_s <= retry_after + 1  # the hub's wait, not a back-off (1-2 s)
    if retry_after > 3:
        time.sleep(2.5)
        assert len(tab.posts) == 3  # nothing retried early
    assert [item["score"] for item in stored(server, csat)] == [4]
    assert all("status of 4" in error for error in tab.errors)  # the browser logs the 422, 429
    assert tab.csp_violations() == []
