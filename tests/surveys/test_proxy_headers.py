"""HUB_FORWARDED_ALLOW_IPS: X-Forwarded-For names the client only when a trusted proxy sends it."""

import httpx
import pytest
from pydantic import ValidationError

from hub.app import create_app
from hub.config import Settings
from hub.surveys.models import SurveyPublic
from tests.conftest import Database
from tests.surveys.conftest import Post

pytestmark = pytest.mark.anyio
PROXY = "10.0.0.5"


async def codes_for_two_visitors(
    settings: Settings, db: Database, post: Post, peer: str
) -> list[int]:
    """Two posts from ``peer``, each forwarded for another visitor, at one response a minute."""
    app = create_app(settings, engine=db.engine)
    transport = httpx.ASGITransport(app=app, client=(peer, 5000))
    codes = []
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        for visitor in ("198.51.100.1", "198.51.100.2"):
            http.headers["X-Forwarded-For"] = visitor
            codes.append((await post(http=http)).status_code)
    return codes


def proxy_settings(db: Database, allow: str) -> Settings:
    return Settings(database_url=db.url, widget_rate_limit_per_minute=1, forwarded_allow_ips=allow)


async def test_a_trusted_proxy_names_each_visitor(
    db: Database, survey: SurveyPublic, post: Post
) -> None:
    settings = proxy_settings(db, f"127.0.0.1,{PROXY}")
    assert await codes_for_two_visitors(settings, db, post, PROXY) == [201, 201]


async def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(
    db: Database, survey: SurveyPublic, post: Post
) -> None:
    settings = proxy_settings(db, "10.0.0.0/24")
    assert await codes_for_two_visitors(settings, db, post, "203.0.113.7") == [201, 429]


async def test_no_proxy_is_trusted_by_default(
    db: Database, survey: SurveyPublic, post: Post
) -> None:
    settings = proxy_settings(db, "")
    assert await codes_for_two_visitors(settings, db, post, "127.0.0.1") == [201, 429]


@pytest.mark.parametrize("allow", ["proxy.internal", "10.0.0.0/33", "10.0.0.1;10.0.0.2"])
def test_only_addresses_and_networks_are_accepted(allow: str) -> None:
    with pytest.raises(ValidationError, match="expected IP addresses or networks"):
        Settings(forwarded_allow_ips=allow)
