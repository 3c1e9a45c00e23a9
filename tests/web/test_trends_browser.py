"""The trend pages in real headless Chromium against a real server: charts drawn by Chart.js,
no console errors or CSP violations, filters, phone width; screenshots in artifacts/."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page

from hub.enrichment.claims import claim_batch, write_results, write_sentiments
from hub.feedback.service import ingest
from hub.store.engine import session_scope
from hub.store.types import utcnow
from hub.topics.service import seed_topics, store_model_topics
from tests.factories import item
from tests.live_server import LiveServer, seeded_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
TOPICS = ["delivery", "billing", "app_bugs", "customer_support", "pricing", "usability"]
SOURCES = ["App Store", "Website NPS", "Zendesk", "Trustpilot"]
SENTIMENTS = ["negative", "neutral", "positive"]
ITEMS = 360
# (score type, lowest, highest) of the answers spread over the weeks
SCALES = [("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7), ("thumbs", 0, 1), ("stars", 1, 5)]
# Catch CSP violations in the page itself (they also log console errors, which fail tests too).
WATCH_CSP = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


ERRORS: dict[int, list[str]] = {}  # console errors and page errors of each open tab


@dataclass
class Seeded:
    """The running hub with twelve weeks of enriched feedback."""

    server: LiveServer


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A hub without its worker; the test enriches the feedback itself (fixed, known values)."""
    workdir = tmp_path_factory.mktemp("live-trends")
    with seeded_server(workdir, _seed) as (server, _):
        yield Seeded(server)


def _days_ago(n: int) -> int:
    """When item ``n`` was said: spread over the last 12 weeks (the hostile one, last, today)."""
    return (n * 7) % 83 if n < ITEMS else 0


def _items() -> list[dict]:
    """360 items over the last 12 weeks, and a hostile one today."""
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    found = []
    for n in range(ITEMS):
        score_type, low, high = SCALES[n % len(SCALES)]
        days = _days_ago(n)
        score = low + (n * 7 + days) % (high - low + 1)
        found.append(
            item(
                source=SOURCES[n % len(SOURCES)],
                score_type=score_type,
                score=score,
                text=f"Feedback number {n}: the parcel was late and the app froze twice.",
                created_at=(now - timedelta(days=days, hours=1 + n % 9)).isoformat(),
                customer={"ref": f"cus_{n % 40}", "name": f"Customer {n % 40}",
                          "segment": ["smb", "enterprise", "consumer"][n % 3]},
            )
        )  # fmt: skip
    hostile = {"ref": "evil", "name": HOSTILE}
    found.append(item(source="App Store", text=HOSTILE, title=HOSTILE, score=2,
                      created_at=now.isoformat(), customer=hostile))  # fmt: skip
    return found


def _seed(engine) -> None:  # type: ignore[no-untyped-def]
    """Ingest, then enrich: billing grows in the last two weeks (a rising topic)."""
    with session_scope(engine) as session:
        seed_topics(session)
        results = ingest(session, raw_items=_items()).results
        # billing: half of the last two weeks (the hostile item among them), a tenth before
        billing = {r.id for n, r in enumerate(results) if _days_ago(n) < 14 and n % 2 == 0}
        billing |= {r.id for n, r in enumerate(results) if n % 11 == 0 or n == ITEMS}
    with session_scope(engine) as session:
        claimed = claim_batch(session, owner="t", size=1000, lease=timedelta(minutes=5))
        ids = [c.id for c in claimed]
        store_model_topics(session, assigned={
            i: [("billing", 0.9)] if i in billing else [(TOPICS[i % 6], 0.8)]
            for i in ids
        })  # fmt: skip
        write_sentiments(session, owner="t", sentiments={
            i: ("negative" if i in billing and i % 3 else SENTIMENTS[(i * 5) % 3], 0.0, 0.9)
            for i in ids if i % 7
        })  # fmt: skip
        write_results(session, owner="t", model="t", results={i: {"language": "en"} for i in ids})


def _signed_in(
    browser: Browser, seeded: Seeded, path: str, width: int, height: int, **options: str
) -> Page:
    """A tab of ``width`` by ``height`` signed in as the admin on ``path``, recording errors."""
    viewport = {"width": width, "height": height}
    context = browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    errors: list[str] = []
    ERRORS[id(page)] = errors
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    server = seeded.server
    page.goto(f"{server.base_url}{path}")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}{path}")
    return page


@pytest.fixture
def page(browser: Browser, seeded: Seeded) -> Iterator[Page]:
    """A laptop-sized tab signed in as the admin on the dashboard; errors fail the test."""
    opened = _signed_in(browser, seeded, "/dashboard", 1280, 900)
    yield opened
    _close_without_errors(opened)


def _close_without_errors(page: Page) -> None:
    """Close the tab; it must have logged no errors and seen no CSP violation."""
    csp = page.evaluate("window.__csp")
    errors = ERRORS.pop(id(page))
    page.context.close()
    assert errors == [], errors
    assert csp == [], csp


def _charts_drawn(page: Page) -> list[dict]:
    """Every chart canvas on the page, after Chart.js drew it: name, size, points."""
    page.wait_for_function("document.querySelectorAll('.chart-box.drawn').length > 0")
    charts = page.evaluate(
        """() => [...document.querySelectorAll('canvas[data-chart]')].map(c => {
            const chart = Chart.getChart(c);
            return {name: c.dataset.chart, width: c.clientWidth, height: c.clientHeight,
                    type: chart ? chart.config.type : null,
                    labels: chart ? chart.data.labels : [],
                    sets: chart ? chart.data.datasets.length : 0,
                    animation: chart ? chart.options.animation : null};
        })"""
    )
    assert charts, "no charts on the page"
    for chart in charts:
        assert chart["type"] is not None, f"{chart['name']} has no Chart.js instance"
        assert chart["width"] > 0 and chart["height"] > 0, chart
    return charts


def _shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"


def test_the_dashboard_draws_every_metric(page: Page) -> None:
    charts = _charts_drawn(page)
    names = {chart["name"] for chart in charts}
    assert names == {"nps", "csat", "ces", "thumbs", "stars", "sentiment"}
    nps = next(chart for chart in charts if chart["name"] == "nps")
    assert nps["type"] == "line" and nps["sets"] == 3  # band low, band high, the line
    assert len(nps["labels"]) in (12, 13)  # 84 days touch 12 or 13 ISO weeks
    headline = page.locator("#card-nps .value").inner_text()
    assert headline != "—"
    assert page.locator(".breakdown tbody tr").count() == len(SOURCES)
    _shot(page, "trends-dashboard")


def test_changing_a_filter_redraws(page: Page) -> None:
    _charts_drawn(page)
    page.select_option("select[name=interval]", "month")
    page.select_option("select[name=source]", "Zendesk")
    page.select_option("select[name=by]", "segment")
    page.click(".trend-filters button[type=submit]")
    page.wait_for_url("**interval=month**")
    assert "source=Zendesk" in page.url
    charts = _charts_drawn(page)
    nps = next(chart for chart in charts if chart["name"] == "nps")
    assert all(len(label.split()) == 2 for label in nps["labels"])  # "Oct 2026"
    assert page.locator("select[name=source]").input_value() == "Zendesk"
    assert page.locator("#breakdown-title").inner_text() == "By segment"
    page.goto(page.url.replace("interval=month", "interval=fortnight"))
    assert "the interval must be day, week or month" in page.locator("[role=alert]").inner_text()
    # the refusal is a 422, which Chromium logs; nothing else may have been logged
    assert [e for e in ERRORS[id(page)] if "422" not in e] == []
    ERRORS[id(page)].clear()


def test_topics_and_one_topic(page: Page, seeded: Seeded) -> None:
    page.click("nav >> text=Topics")
    page.wait_for_url("**/topics")
    _charts_drawn(page)
    today = utcnow().date()
    two_weeks = f"from={today - timedelta(days=13)}&to={today}&interval=day"
    page.goto(f"{seeded.server.base_url}/topics?{two_weeks}")
    charts = _charts_drawn(page)
    assert charts[0]["name"] == "top-topics" and len(charts[0]["labels"]) == 14
    assert sum(1 for chart in charts if chart["type"] == "line") == len(charts)
    billing = page.locator("tr.topic-row[data-key=billing]")
    assert "▲ rising" in billing.inner_text()
    _shot(page, "trends-topics")
    billing.locator("th a").click()
    page.wait_for_url("**/topics/billing**")
    charts = _charts_drawn(page)
    assert {chart["name"] for chart in charts} == {"topic-sentiment", "topic-nps"}
    first = page.locator("article.verbatim").first
    assert first.locator(".text").inner_text() == HOSTILE  # newest first, shown as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img").count() == 0
    _shot(page, "trends-topic")
    page.click("text=Older →")
    page.wait_for_url("**cursor=**")
    assert page.locator("article.verbatim").count() > 0


def test_charts_stay_still_for_reduced_motion(browser: Browser, seeded: Seeded) -> None:
    still = _signed_in(browser, seeded, "/dashboard", 1280, 900, reduced_motion="reduce")
    assert all(chart["animation"] is False for chart in _charts_drawn(still))
    _close_without_errors(still)


@pytest.mark.parametrize("path", ["/dashboard", "/topics", "/topics/billing"])
def test_phone_width_has_no_sideways_scroll(browser: Browser, seeded: Seeded, path: str) -> None:
    phone = _signed_in(browser, seeded, path, 390, 844)
    _charts_drawn(phone)
    _no_sideways_scroll(phone)
    name = {"/dashboard": "dashboard", "/topics": "topics", "/topics/billing": "topic"}[path]
    _shot(phone, f"trends-{name}-phone")
    phone.evaluate("document.querySelector('.chart-box.drawn').scrollIntoView()")
    _shot(phone, f"trends-{name}-phone-chart", full_page=False)
    _close_without_errors(phone)
