"""Settings: HUB_ environment variables, defaults, and the refusal of a default secret."""

import pytest
from pydantic import ValidationError

from hub.config import DEV_SECRET_KEY, Settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUB_DATABASE_URL", "HUB_ENV", "HUB_SECRET_KEY", "HUB_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///./feedback-hub.db"
    assert (settings.host, settings.port, settings.env) == ("127.0.0.1", 8000, "dev")


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://db/hub")
    monkeypatch.setenv("HUB_PORT", "9000")
    monkeypatch.setenv("HUB_LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.database_url, settings.port, settings.log_level) == (
        "postgresql://db/hub",
        9000,
        "debug",
    )


def test_default_secret_is_refused_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_SECRET_KEY", raising=False)
    monkeypatch.setenv("HUB_ENV", "prod")
    with pytest.raises(ValidationError, match="HUB_SECRET_KEY is still the development default"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("HUB_SECRET_KEY", "a-real-secret-" + "x" * 40)
    assert Settings(_env_file=None).secret_key.get_secret_value() != DEV_SECRET_KEY  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HUB_PORT", "0"),
        ("HUB_PORT", "http"),
        ("HUB_LOG_LEVEL", "loud"),
        ("HUB_ENV", "staging"),
        ("HUB_REDIS_URL", "http://cache:6379"),
        ("HUB_FORWARDED_ALLOW_IPS", "proxy.internal"),
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("HUB_").lower()):
        Settings(_env_file=None)  # type: ignore[call-arg]
