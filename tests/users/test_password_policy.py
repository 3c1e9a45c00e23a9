"""Passwords must be hard to guess wherever one is set: API, admin page, CLI, changes."""

import re
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from hub.cli import app
from hub.users.models import Role, UserCreate, UserUpdate
from tests.conftest import Database
from tests.signin import sign_in

pytestmark = pytest.mark.anyio

COMMON = ["password123", "qwertyuiop", "1234567890", "aaaaaaaaaaaa", "iloveyou2024"]


@pytest.mark.parametrize("password", COMMON)
def test_common_and_trivial_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError, match="too easy to guess"):
        UserCreate(email="ana@cestia.example", password=password)
    with pytest.raises(ValidationError, match="too easy to guess"):
        UserUpdate(password=password)


def test_the_persons_own_email_and_name_count_as_guessable() -> None:
    with pytest.raises(ValidationError, match="too easy to guess"):
        UserCreate(email="ana.moreau@cestia.example", password="anamoreau2024")
    with pytest.raises(ValidationError, match="too easy to guess"):
        UserUpdate(name="Gwendolyn Featherstone", password="GwendolynFeatherstone")


def test_strong_passwords_pass_and_long_ones_are_scored_by_their_prefix() -> None:
    assert UserCreate(email="ana@cestia.example", password="x9!kLp2#Qz@v").password
    assert UserUpdate(password="correct horse battery").password
    assert UserUpdate(password="x9!kLp2#Qz@v" + "q" * 188).password is not None
    with pytest.raises(ValidationError, match="too easy to guess"):
        UserUpdate(password="ab" * 100)
    assert UserUpdate().password is None  # left out: unchanged (null is refused)


async def test_the_api_and_the_admin_page_refuse_a_guessable_password(
    client: httpx.AsyncClient, db: Database
) -> None:
    csrf = await sign_in(client, db.engine, Role.admin)
    headers = {"X-CSRF-Token": csrf}
    created = await client.post(
        "/api/v1/users",
        json={"email": "eve@cestia.example", "password": "password123", "role": "agent"},
        headers=headers,
    )
    assert created.status_code == 422, created.text
    assert "too easy to guess" in created.json()["error"]["message"]
    admin = await client.get("/api/v1/users", headers=headers)
    me = next(user for user in admin.json() if user["email"] == "admin@cestia.example")
    changed = await client.patch(
        f"/api/v1/users/{me['id']}", json={"password": "qwertyuiop"}, headers=headers
    )
    assert changed.status_code == 422 and "too easy to guess" in changed.text
    page = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "eve@cestia.example", "name": "Eve",
              "role": "agent", "password": "1234567890"},
    )  # fmt: skip
    assert page.status_code == 422
    assert "too easy to guess" in page.text
    assert "1234567890" not in re.findall(r'name="password"[^>]*', page.text)[0]


def test_the_cli_refuses_a_guessable_password(cli_env: Path) -> None:
    refused = CliRunner().invoke(
        app, ["users", "create", "--email", "eve@cestia.example", "--password", "iloveyou2024"]
    )
    assert refused.exit_code == 2
    assert "too easy to guess" in refused.output
