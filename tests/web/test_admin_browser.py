"""The admin pages in real headless Chromium against a real server; screenshots go to artifacts/."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlmodel import col, select

from hub.config import Settings
from hub.demo.helpdesk import DEMO_RULES
from hub.notifications.models import OutboxMessage
from hub.notifications.service import enqueue
from hub.store.engine import make_engine, session_scope
from hub.store.types import utcnow
from tests.live_server import LiveServer, live_server
from tests.web.conftest import SHOTS

pytestmark = pytest.mark.browser
HOSTILE = '<img src=x onerror="window.__pwned = 1">'
DEMO_RULE_NAMES = [name for name, *_ in DEMO_RULES]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live-admin")


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[LiveServer]:
    with live_server(workdir, demo=True) as running:
        yield running


def signed_in_page(browser: Browser, server: LiveServer, width: int = 1280) -> Page:
    """A tab signed in as the admin through the real sign-in form."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/admin/rules")
    page.fill("input[name=email]", server.email)
    page.fill("input[name=password]", server.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/admin/rules")
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def rule_names(page: Page) -> list[str]:
    return page.locator(".rule-card h2").all_inner_texts()


def test_admin_creates_tries_and_reorders_a_rule(server: LiveServer, browser: Browser) -> None:
    page = signed_in_page(browser, server)
    problems: list[str] = []  # CSP violations and script errors show up here
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # The demo hub: "Urgent words", the demo's three rules, then the other default rules.
    assert rule_names(page) == [
        "Urgent words", *DEMO_RULE_NAMES, "Detractors and low scores", "Negative sentiment"
    ]  # fmt: skip
    detractors = page.locator(".rule-card", has_text="Detractors and low scores")
    assert "score is NPS ≤ 6 or CSAT ≤ 2" in detractors.inner_text()
    shot(page, "admin-rules")

    page.click("text=New rule")
    page.wait_for_url("**/admin/rules/new")
    page.fill("input[name=name]", "Refund requests")
    page.check("input[name=channels][value=review]")
    page.check("input[name=channels][value=ticket]")
    page.fill("textarea[name=keywords]", "refund\nreembolso")
    page.select_option("select[name=team_id]", label="Support")
    page.select_option("select[name=strategy]", "round_robin")
    page.select_option("select[name=priority]", "high")
    page.fill("input[name=sla_hours]", "24")
    page.click("button[name=intent][value=try]")
    page.wait_for_selector("#trial")
    count = page.locator(".trial-count").inner_text()
    assert "of the last" in count and "Nothing was saved" in count
    reasons = page.locator(".trial-examples .why").all_inner_texts()
    assert reasons and all('keyword "re' in why for why in reasons), reasons
    assert page.input_value("textarea[name=keywords]") == "refund\nreembolso"  # kept
    assert page.is_checked("input[name=channels][value=ticket]")
    shot(page, "admin-rule-form")

    page.click("button[name=intent][value=save]")
    page.wait_for_url("**/admin/rules?done=created*")
    assert page.locator("main").get_by_role("status").inner_text() == "Rule created."
    assert rule_names(page)[-1] == "Refund requests"
    last = page.locator(".rule-card").last
    assert "team Support, round robin in the team" in last.inner_text()

    last.get_by_role("button", name="Move Refund requests up").click()
    page.wait_for_url("**/admin/rules?done=moved*")
    assert rule_names(page) == [
        "Urgent words", *DEMO_RULE_NAMES, "Detractors and low scores", "Refund requests",
        "Negative sentiment",
    ]  # fmt: skip
    shot(page, "admin-rules-reordered")

    page.locator(".rule-card", has_text="Refund requests").get_by_role("link", name="Edit").click()
    page.wait_for_url("**/admin/rules/*")
    page.fill("input[name=sla_hours]", "-3")
    page.click("button[name=intent][value=save]")
    assert "SLA hours" in page.get_by_role("alert").inner_text()
    assert page.input_value("input[name=name]") == "Refund requests"
    shot(page, "admin-rule-form-refused")
    # A refused form is a 422, which Chromium logs; anything else (a CSP violation) is a bug.
    assert [p for p in problems if "status of 422" not in p] == []


def test_teams_and_users_pages(server: LiveServer, browser: Browser) -> None:
    page = signed_in_page(browser, server)
    page.on("dialog", lambda d: d.dismiss())
    page.goto(f"{server.base_url}/admin/users")
    page.fill("#new-user input[name=email]", "lee@cestia.example")
    page.fill("#new-user input[name=name]", HOSTILE)
    page.select_option("#new-user select[name=role]", "lead")
    page.fill("#new-user input[name=password]", "a-long-enough-password")
    page.click("#new-user button[type=submit]")
    page.wait_for_url("**/admin/users?done=user*")
    assert HOSTILE in page.locator("table.users").inner_text()
    assert page.evaluate("window.__pwned") is None

    # The demo's admin steps down to lead: Ada is the last admin, and may not leave.
    demo_row = page.locator("tr", has_text="lead@cestia.example")
    demo_row.get_by_label("Role of Lea Demo").select_option("lead")
    demo_row.get_by_role("button", name="Change").click()
    page.wait_for_url("**/admin/users?done=role*")
    assert page.locator("tr", has_text="lead@cestia.example").get_by_label(
        "Role of Lea Demo").input_value() == "lead"  # fmt: skip
    page.get_by_role("button", name="Deactivate Ada Admin").click()
    assert "last active admin" in page.get_by_role("alert").inner_text()
    shot(page, "admin-users")

    page.goto(f"{server.base_url}/admin/teams")
    page.fill("#new-team input[name=name]", "Billing")
    page.fill("#new-team input[name=description]", "Invoices, refunds and plans")
    page.click("#new-team button[type=submit]")
    page.wait_for_url("**/admin/teams?done=team*")
    billing = page.locator(".team-card", has_text="Billing")
    billing.get_by_role("checkbox", name="Ada Admin").check()
    billing.get_by_role("button", name="Save members").click()
    page.wait_for_url("**/admin/teams?done=members*")
    assert page.locator(".team-card", has_text="Billing").get_by_role(
        "checkbox", name="Ada Admin").is_checked()  # fmt: skip
    assert page.evaluate("window.__pwned") is None
    shot(page, "admin-teams")


def test_outbox_page_lists_and_retries(server: LiveServer, browser: Browser, workdir: Path) -> None:
    failed_id = seed_outbox(workdir / "hub.db")
    page = signed_in_page(browser, server)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Outbox").click()
    page.wait_for_url("**/admin/outbox")
    filters = page.get_by_role("navigation", name="Filter by status")
    assert filters.inner_text().split() == [
        "All", "5", "Pending", "1", "Sending", "1", "Sent", "2", "Failed", "1"
    ]  # fmt: skip
    assert HOSTILE in page.locator(f"#message-{failed_id}").inner_text()
    assert "secret" not in page.locator("table.outbox").inner_text()  # URL paths are masked
    assert page.evaluate("window.__pwned") is None
    shot(page, "admin-outbox")

    filters.get_by_role("link", name="Failed").click()
    page.wait_for_url("**/admin/outbox?status=failed")
    assert page.locator("table.outbox tbody tr").count() == 1
    page.locator(f"#message-{failed_id}").get_by_role("button", name="Retry").click()
    page.wait_for_url("**/admin/outbox?done=retried*")
    assert "queued again" in page.locator("main").get_by_role("status").inner_text()
    # Due now: the server's notifier may already be trying it.
    assert page.locator(f"#message-{failed_id} .status").inner_text() in ("pending", "sending")
    assert page.evaluate("window.__pwned") is None
    assert problems == []


def seed_outbox(database: Path) -> str:
    """Messages on every channel and in every status, straight into the server's database;
    returns the id of the failed one (whose subject and error are hostile)."""
    settings = Settings(
        smtp_host="smtp.example.com",
        slack_webhook_url="https://hooks.slack.com/services/T0/B0/secret-token",
        # The server's notifier sends what is due (a retried message): to a closed local port.
        webhook_urls="http://127.0.0.1:9/hooks/secret-path",
        webhook_secret="whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    )
    engine = make_engine(f"sqlite:///{database}")
    with session_scope(engine) as session:
        enqueue(session, settings=settings, event_type="case.created", case_id=None,
                subject="New case: checkout keeps failing", text="…", data={},
                to_emails=["lea@cestia.example"])  # fmt: skip
        enqueue(session, settings=settings, event_type="case.sla_breached", case_id=None,
                subject=HOSTILE, text="…", data={})  # fmt: skip
        email, slack, crm, slack_2, crm_2 = session.exec(
            select(OutboxMessage).order_by(col(OutboxMessage.id))
        ).all()
        states = [
            (email, "sent", 1, None),
            (slack, "sent", 1, None),
            (crm, "pending", 3, "connection timed out after 10 s"),
            (slack_2, "sending", 1, None),
            (crm_2, "failed", 8, f"HTTP 500 from the receiver: {HOSTILE}"),
        ]
        for message, status, attempts, error in states:
            message.status, message.attempts, message.last_error = status, attempts, error
            message.sent_at = utcnow() if status == "sent" else None
            message.next_attempt_at = utcnow() + timedelta(minutes=4)
            message.lease_until = utcnow() + timedelta(minutes=4) if status == "sending" else None
            session.add(message)
        failed_id = crm_2.message_id
    engine.dispose()
    return failed_id


def test_surveys_page_creates_edits_and_copies_the_snippet(
    server: LiveServer, browser: Browser
) -> None:
    page = signed_in_page(browser, server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Surveys").click()
    page.wait_for_url("**/admin/surveys")
    assert "No surveys yet" in page.locator("main").inner_text()

    form = page.locator("#new-survey")
    form.locator("input[name=name]").fill("Checkout NPS")
    form.locator("select[name=type]").select_option("nps")
    form.locator("input[name=question_en]").fill("How likely are you to recommend us to a friend?")
    form.locator("input[name=question_es]").fill(HOSTILE)
    form.locator("input[name=question_pt]").fill("Você nos recomendaria a um amigo?")
    form.locator("textarea[name=allowed_origins]").fill(
        "https://shop.example.com\nshop.example.org"
    )
    form.locator("input[name=rate_limit]").fill("20")
    form.get_by_role("button", name="Create survey").click()
    assert "an origin is http(s)://host[:port]" in page.get_by_role("alert").inner_text()
    assert page.input_value("#new-survey input[name=question_es]") == HOSTILE  # kept
    shot(page, "admin-surveys-refused")

    page.fill(
        "#new-survey textarea[name=allowed_origins]",
        "https://shop.example.com\nhttps://www.example.org",
    )
    page.get_by_role("button", name="Create survey").click()
    page.wait_for_url("**/admin/surveys?done=survey*")
    assert "Survey created" in page.locator("main").get_by_role("status").inner_text()
    card = page.locator(".survey-card", has_text="Checkout NPS")
    assert HOSTILE in card.locator("table.survey-texts").inner_text()
    snippet = card.locator("textarea.snippet-code").input_value()
    assert snippet.startswith(f'<script src="{server.base_url}/widget.js" data-key="pk_')
    card.get_by_role("button", name="Copy the snippet of Checkout NPS").click()
    page.wait_for_function("document.querySelector('.copy-result').textContent === 'Copied.'")
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    shot(page, "admin-surveys")

    card.get_by_role("link", name="Edit Checkout NPS").click()
    page.wait_for_url("**/admin/surveys/*")
    assert page.input_value("textarea[name=allowed_origins]") == (
        "https://shop.example.com\nhttps://www.example.org"
    )
    page.fill("textarea[name=allowed_origins]", "https://shop.example.com")
    page.uncheck("input[name=active]")
    shot(page, "admin-survey-form")
    page.get_by_role("button", name="Save survey").click()
    page.wait_for_url("**/admin/surveys?done=survey_saved*")
    card = page.locator(".survey-card", has_text="Checkout NPS")
    assert card.locator(".origins").inner_text() == "https://shop.example.com"
    assert card.locator(".status").inner_text() == "inactive"
    assert page.evaluate("window.__pwned") is None
    page.set_viewport_size({"width": 390, "height": 900})
    edit_path = card.get_by_role("link", name="Edit Checkout NPS").get_attribute("href")
    page.goto(f"{server.base_url}{edit_path}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    shot(page, "phone-admin-survey-form")
    assert overflow <= 0, f"{edit_path} scrolls sideways by {overflow}px on a phone"
    # A refused form is a 422, which Chromium logs; anything else (a CSP violation) is a bug.
    assert [p for p in problems if "status of 422" not in p] == []


def test_team_sla_settings(server: LiveServer, browser: Browser) -> None:
    page = signed_in_page(browser, server)
    page.goto(f"{server.base_url}/admin/teams")
    support = page.locator(".team-card", has=page.locator("h2", has_text="Support"))
    assert support.locator("input[name=timezone]").input_value() == "Europe/Lisbon"
    assert support.locator("input[name=business_hours]").input_value() == "mon-fri 09:00-18:00"
    assert support.locator("select[name=lead_id] option:checked").inner_text() == "Rita Alves"
    support.locator("input[name=business_hours]").fill("mon-fri 9-18")
    support.get_by_role("button", name="Save SLA settings").click()
    support = page.locator(".team-card", has=page.locator("h2", has_text="Support"))
    assert "times are HH:MM" in support.get_by_role("alert").inner_text()
    assert support.locator("input[name=business_hours]").input_value() == "mon-fri 9-18"
    shot(page, "admin-team-sla-refused")
    support.locator("input[name=business_hours]").fill("mon-thu 08:00-17:00; fri 08:00-14:00")
    support.locator("select[name=lead_id]").select_option(label="Sam Ortega")
    support.get_by_role("button", name="Save SLA settings").click()
    page.wait_for_url("**/admin/teams?done=sla*")
    assert page.locator("main").get_by_role("status").inner_text() == "SLA settings saved."
    support = page.locator(".team-card", has=page.locator("h2", has_text="Support"))
    assert support.locator("input[name=business_hours]").input_value() == (
        "mon-thu 08:00-17:00; fri 08:00-14:00"
    )
    assert support.locator("select[name=lead_id] option:checked").inner_text() == "Sam Ortega"
    shot(page, "admin-teams-sla")


def test_admin_pages_fit_a_phone(server: LiveServer, browser: Browser) -> None:
    page = signed_in_page(browser, server, width=390)
    for path, name in (("/admin/rules", "phone-admin-rules"),
                       ("/admin/rules/new", "phone-admin-rule-form"),
                       ("/admin/users", "phone-admin-users"),
                       ("/admin/teams", "phone-admin-teams"),
                       ("/admin/outbox", "phone-admin-outbox"),
                       ("/admin/surveys", "phone-admin-surveys")):  # fmt: skip
        page.goto(f"{server.base_url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        shot(page, name)
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"


def test_try_without_a_destination_then_apply_to_the_past(
    server: LiveServer, browser: Browser
) -> None:
    page = signed_in_page(browser, server)
    page.goto(f"{server.base_url}/admin/rules/new")
    page.check("input[name=sentiments][value=negative]")  # no sentiment: the worker is off
    page.fill("textarea[name=keywords]", "charged twice")
    page.fill("input[name=days]", "90")
    page.click("button[name=intent][value=try]")  # no name, no team: Try runs anyway
    never = page.locator(".never-matches").inner_text()
    assert "no item of the last 90 days has a sentiment" in never
    shot(page, "admin-rule-try-never-matches")
    page.uncheck("input[name=sentiments][value=negative]")
    page.click("button[name=intent][value=try]")
    trial = page.locator("#trial")
    assert "taken by earlier rule “Urgent words”" in trial.inner_text()  # "please escalate"
    assert (
        trial.locator(".why a").first.get_attribute("href", timeout=1000).startswith("/feedback/")
    )
    assert "Create the rule to apply it" in trial.inner_text()
    page.fill("input[name=name]", "Duplicate charges")
    page.select_option("select[name=team_id]", label="Support")
    page.fill("input[name=raise_segments]", "enterprise")
    page.fill("textarea[name=raise_attributes]", "mrr >= 1000")
    page.click("button[name=intent][value=save]")
    page.wait_for_url("**/admin/rules?done=created*")
    card = page.locator(".rule-card").last
    assert "priority one step up for segment enterprise or mrr ≥ 1000" in card.inner_text()

    card.get_by_role("link", name="Edit").click()
    page.fill("input[name=days]", "90")
    page.click("button[name=intent][value=try]")
    apply = page.locator("form.apply button")
    label = apply.inner_text()
    assert label.startswith("Apply to the ") and label.endswith(" of the last 90 days"), label
    shot(page, "admin-rule-try-apply")
    apply.click()
    applied = page.get_by_role("status").filter(has_text="Applied").inner_text()
    assert f"Opened {label.split()[3]} case" in applied, (label, applied)
    assert page.locator("#applied .case-links a").count() == int(label.split()[3])
    shot(page, "admin-rule-applied")

    phone = page  # the same tab, at a phone's width
    phone.set_viewport_size({"width": 390, "height": 900})
    phone.goto(page.url.replace("/apply", ""))
    phone.fill("input[name=days]", "90")
    phone.click("button[name=intent][value=try]")
    assert "already with a case" in phone.locator(".trial-count").inner_text()
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    shot(phone, "phone-admin-rule-try")
    assert overflow <= 0, f"the Try result scrolls sideways by {overflow}px on a phone"
