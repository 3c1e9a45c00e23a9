"""Signing in and out: cookies, CSRF, rate limits, no open redirects, sessions that end."""

import re

import httpx
import pytest
from sqlmodel import select

from hub.app import create_app
from hub.auth.models import UserSession
from hub.config import Settings
from hub.store.engine import session_scope
from hub.users.models import Role, User, UserUpdate
from hub.users.service import update_user
from tests.conftest import Database
from tests.signin import PASSWORD, make_user, sign_in

pytestmark = pytest.mark.anyio


async def login_form(client: httpx.AsyncClient) -> str:
    client.cookies.pop("hub_session", None)  # as a fresh browser
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def post_login(
    client: httpx.AsyncClient, email: str, password: str, **extra: str
) -> httpx.Response:
    data = {"email": email, "password": password, "csrf_token": await login_form(client), **extra}
    return await client.post("/login", data=data)


async def test_the_session_cookie_is_httponly_lax_and_secure_under_https(db: Database) -> None:
    app = create_app(Settings(database_url=db.url), engine=db.engine)
    email = make_user(db.engine, Role.agent)
    for base, secure in (("http://hub.test", False), ("https://hub.test", True)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
            response = await post_login(c, email, PASSWORD)
            assert response.status_code == 303
            cookie = next(
                value for name, value in response.headers.multi_items()
                if name == "set-cookie" and value.startswith("hub_session=")
            )  # fmt: skip
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie
            assert ("Secure" in cookie) is secure


async def test_wrong_password_and_unknown_email_say_the_same(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = make_user(db.engine, Role.agent)
    wrong = await post_login(client, email, "not the password")
    unknown = await post_login(client, "nobody@cestia.example", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "wrong email or password" in response.text
        assert "hub_session" not in response.headers.get("set-cookie", "")


async def test_a_sign_in_without_the_form_token_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    email = make_user(db.engine, Role.agent)
    response = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 403 and "expired" in response.text


async def test_next_never_leads_off_site(client: httpx.AsyncClient, db: Database) -> None:
    email = make_user(db.engine, Role.agent)
    evil = await post_login(client, email, PASSWORD, next="https://evil.example/")
    assert evil.headers["location"] == "/"
    again = await post_login(client, email, PASSWORD, next="//evil.example/x")
    assert again.headers["location"] == "/"
    fine = await post_login(client, email, PASSWORD, next="/sources")
    assert fine.headers["location"] == "/sources"


async def test_guessing_is_slowed_down(client: httpx.AsyncClient, db: Database) -> None:
    email = make_user(db.engine, Role.agent)
    for _ in range(5):
        assert (await post_login(client, email, "guess")).status_code == 401
    blocked = await post_login(client, email, PASSWORD)  # even the right password, for now
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "900"
    assert "too many failed sign-ins" in blocked.text


async def test_sign_out_needs_the_token_and_ends_the_session(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.viewer)
    assert (await client.post("/logout", data={"csrf_token": "forged"})).status_code == 403
    out = await client.post("/logout", data={"csrf_token": csrf})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    with session_scope(db.engine) as session:
        assert session.exec(select(UserSession)).all() == []
    assert (await client.get("/feedback")).status_code == 303


async def test_a_deactivated_user_is_signed_out(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.agent)
    make_user(db.engine, Role.admin)  # someone must stay admin
    with session_scope(db.engine) as session:
        user = session.exec(select(User).where(User.role == "agent")).one()
        update_user(session, user_id=user.id or 0, changes=UserUpdate(active=False))
    assert (await client.get("/feedback")).status_code == 303
    again = await post_login(client, "agent@cestia.example", PASSWORD)
    assert again.status_code == 401


async def test_the_page_shows_who_is_signed_in(client: httpx.AsyncClient, db: Database) -> None:
    await sign_in(client, db.engine, Role.lead)
    page = await client.get("/feedback")
    assert "lead</span>" in page.text and "Sign out" in page.text


async def test_the_owner_signs_in_from_their_own_client_while_others_guess(db: Database) -> None:
    app = create_app(Settings(database_url=db.url, login_max_failures=2), engine=db.engine)
    email = make_user(db.engine, Role.agent)

    def browser(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://hub.test")

    async with browser("203.0.113.66") as attacker, browser("198.51.100.7") as owner:
        assert [(await post_login(attacker, email, "guess")).status_code for _ in range(3)] == [
            401, 401, 429,
        ]  # fmt: skip
        assert (await post_login(owner, email, PASSWORD)).status_code == 303
