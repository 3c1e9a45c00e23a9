"""Enqueueing: in the caller's transaction, one row per configured destination, nothing if off."""

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from hub.config import Settings
from hub.errors import InvalidInput
from hub.notifications.models import OutboxMessage
from hub.notifications.service import enqueue
from hub.store.engine import session_scope
from tests.conftest import Database
from tests.notifications.conftest import WEBHOOK_KEY, WEBHOOK_SECRET, count, notify_settings, rows

SLACK = "https://hooks.slack.example/services/T0/B0/secret-token"
HOOKS = "https://a.example/hook,http://b.example:8080/in"


def _all_channels(db: Database) -> Settings:
    return notify_settings(
        db,
        smtp_host="smtp.example",
        slack_webhook_url=SLACK,
        webhook_urls=HOOKS,
        webhook_secret=WEBHOOK_SECRET,
    )


def _enqueue(
    db: Database,
    settings: Settings,
    *,
    event_type: str = "case.created",
    subject: str = "New case #7",
    text: str = "Checkout fails",
    to_emails: Sequence[str] = (),
) -> None:
    with session_scope(db.engine) as session:
        enqueue(
            session, settings=settings, event_type=event_type, case_id=7, subject=subject,
            text=text, data={"priority": "high"}, to_emails=to_emails,
        )  # fmt: skip


def test_a_rolled_back_change_queues_nothing(db: Database) -> None:
    settings = _all_channels(db)
    queued: list[OutboxMessage] = []

    def change_that_fails() -> None:
        with session_scope(db.engine) as session:
            queued.extend(
                enqueue(
                    session,
                    settings=settings,
                    event_type="case.created",
                    case_id=1,
                    subject="s",
                    text="t",
                    data={},
                    to_emails=["ana@example.com"],
                )
            )
            raise RuntimeError("the change fails after the enqueue")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert len(queued) == 4  # flushed into the transaction...
    assert count(db) == 0  # ...and gone with it


def test_one_row_per_configured_destination(db: Database) -> None:
    _enqueue(
        db, _all_channels(db), to_emails=["Ana <ana@example.com>", "ANA@example.com", "bo@x.io"]
    )
    queued = rows(db)
    assert [(m.channel, m.destination) for m in queued] == [
        ("email", "ana@example.com"),
        ("email", "bo@x.io"),
        ("slack", SLACK),
        ("webhook", "https://a.example/hook"),
        ("webhook", "http://b.example:8080/in"),
    ]
    assert {(m.event_type, m.case_id, m.status, m.attempts) for m in queued} == {
        ("case.created", 7, "pending", 0)
    }
    assert len({m.message_id for m in queued}) == 5
    assert all(len(m.message_id) == 32 and int(m.message_id, 16) >= 0 for m in queued)
    assert queued[0].body == {"text": "Checkout fails"}
    assert queued[0].subject == "New case #7"
    envelope = queued[3].body
    assert (envelope["type"], envelope["data"]) == (
        "case.created",
        {"case_id": 7, "priority": "high"},
    )
    assert envelope["timestamp"].endswith("+00:00")


def test_channels_not_configured_make_no_rows(db: Database) -> None:
    _enqueue(db, notify_settings(db), to_emails=["ana@example.com"])
    assert count(db) == 0


def test_slack_text_cannot_ping_anyone(db: Database) -> None:
    settings = notify_settings(db, slack_webhook_url=SLACK)
    _enqueue(db, settings, subject="Re: <b>", text="<!channel> refund & more <http://x|y>")
    [slack] = rows(db)
    assert slack.body == {
        "text": "*Re: &lt;b&gt;*\n&lt;!channel&gt; refund &amp; more &lt;http://x|y&gt;"
    }


def test_a_subject_stays_on_one_line(db: Database) -> None:
    _enqueue(db, notify_settings(db, smtp_host="smtp.example"), subject="Hi\r\nBcc: evil@x.io",
             to_emails=["ana@example.com"])  # fmt: skip
    assert rows(db)[0].subject == "Hi Bcc: evil@x.io"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"event_type": "case.exploded"}, "unknown event type"),
        ({"to_emails": ["not an address"]}, "not an email address"),
    ],
)
def test_bad_input_is_refused(db: Database, values: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _enqueue(db, _all_channels(db), **values)
    assert count(db) == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("slack_webhook_url", "ftp://hooks.example/x"),
        ("webhook_urls", "https://ok.example,file:///etc/passwd"),
        ("webhook_urls", "javascript:alert(1)"),
        ("slack_webhook_url", "https://"),
    ],
)
def test_outbound_urls_must_be_http(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=rf"{name}[\s\S]*only http\(s\) URLs"):
        Settings(_env_file=None, webhook_secret="s", **{name: value})  # type: ignore[call-arg]


def test_webhooks_need_a_secret_and_its_key_is_decoded() -> None:
    with pytest.raises(ValidationError, match="HUB_WEBHOOK_SECRET is empty"):
        Settings(_env_file=None, webhook_urls="https://a.example/")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="base64"):
        Settings(_env_file=None, webhook_secret="whsec_not base64!")  # type: ignore[call-arg]
    whsec = Settings(_env_file=None, webhook_secret=WEBHOOK_SECRET)  # type: ignore[call-arg]
    assert whsec.webhook_signing_key == WEBHOOK_KEY
    plain = Settings(_env_file=None, webhook_secret="plain-sécret")  # type: ignore[call-arg]
    assert plain.webhook_signing_key == "plain-sécret".encode()
    listed = Settings(_env_file=None, webhook_urls=" https://a.example/ , ", webhook_secret="s")  # type: ignore[call-arg]
    assert listed.webhook_url_list == ["https://a.example/"]
