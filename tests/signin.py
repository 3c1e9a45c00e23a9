"""Signing a test client in through the real sign-in form."""

import re

import httpx
from sqlalchemy import Engine

from hub.store.engine import session_scope
from hub.users.models import Role, UserCreate
from hub.users.service import create_user

PASSWORD = "correct horse battery"


def make_user(engine: Engine, role: Role, email: str | None = None) -> str:
    """A user with ``role`` and the test password; returns the email."""
    email = email or f"{role.value}@cestia.example"
    with session_scope(engine) as session:
        create_user(session, data=UserCreate(email=email, password=PASSWORD, role=role))
    return email


async def sign_in(client: httpx.AsyncClient, engine: Engine, role: Role = Role.admin) -> str:
    """Create a user with ``role`` and sign ``client`` in as them; returns the CSRF token."""
    email = make_user(engine, role)
    form = await client.get("/login")
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert login_csrf is not None
    done = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": login_csrf.group(1)}
    )
    assert done.status_code == 303, done.text
    page = await client.get("/feedback")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return token.group(1)
