"""Settings, read from the environment (prefix ``HUB_``) and an optional ``.env`` file."""

import base64
import binascii
import ipaddress
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 (refused outside dev)
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 (Standard Webhooks' secret form, not a secret)
REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class Settings(BaseSettings):
    """Every ``HUB_`` setting; README.md documents each one."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    database_url: str = "sqlite:///./feedback-hub.db"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr = SecretStr("")
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_heartbeat_seconds: float = Field(default=15.0, gt=0)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_batch_items: int = Field(default=1000, ge=1, le=10_000)
    db_pool_size: int = Field(default=10, ge=1)
    nlp_languages: str = "en,es,pt,fr,de,it"
    embedding_model: str = "e5-onnx"
    nlp_threads: int = Field(default=2, ge=1)
    nlp_device: str = "cpu"
    nlp_quantize: bool = True
    nlp_runtime: Literal["onnx", "torch"] = "onnx"
    sentiment_model: str = "default"
    sentiment_head: str | None = None
    topic_floor: float | None = Field(default=None, ge=-1, le=1)
    topic_margin: float | None = Field(default=None, ge=0, le=1)
    worker_in_serve: bool = True
    worker_batch_size: int = Field(default=64, ge=1, le=10_000)
    worker_lease_seconds: float = Field(default=300, gt=0)
    worker_max_attempts: int = Field(default=3, ge=1)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    scheduler_enabled: bool = True
    scheduler_poll_seconds: float = Field(default=5.0, gt=0)
    collector_concurrency: int = Field(default=4, ge=1, le=64)
    collector_timeout_seconds: float = Field(default=30.0, gt=0)
    collector_attempts: int = Field(default=5, ge=1, le=20)
    collector_max_wait_seconds: float = Field(default=60.0, ge=0)
    collector_lease_seconds: float = Field(default=600.0, gt=0)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "Feedback Hub <hub@localhost>"
    smtp_starttls: bool = True
    slack_webhook_url: str = ""
    webhook_urls: str = ""
    webhook_secret: SecretStr = SecretStr("")
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    notify_poll_seconds: float = Field(default=5.0, gt=0)
    prune_interval_hours: float = Field(default=24.0, ge=0)
    retain_sent_outbox_days: int = Field(default=30, ge=0)
    retain_login_attempts_days: int = Field(default=30, ge=0)
    retain_expired_sessions_days: int = Field(default=7, ge=0)
    retain_source_runs_days: int = Field(default=90, ge=0)
    retain_routing_decisions_days: int = Field(default=365, ge=0)
    public_url: str = ""
    widget_rate_limit_per_minute: int = Field(default=30, ge=1, le=1_000_000)
    followup_enabled: bool = True
    followup_kind: Literal["csat", "thumbs"] = "csat"
    followup_ttl_days: int = Field(default=14, ge=1, le=365)
    followup_rate_limit_per_minute: int = Field(default=30, ge=1, le=1_000_000)
    redis_url: str = ""
    forwarded_allow_ips: str = ""
    # On the customer's clock, the most of an SLA window that counts as spent before the hub
    # received the item (so old imports do not open as breached).
    sla_max_spent_share: float = Field(default=0.5, ge=0, le=0.8)
    export_max_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    # argon2id's cost (RFC 9106's low-memory profile, argon2-cffi's defaults); only tests lower it.
    password_time_cost: int = Field(default=3, ge=1, le=100)
    password_memory_kib: int = Field(default=64 * 1024, ge=32, le=4 * 1024 * 1024)
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_email: int = Field(default=50, ge=1, le=100_000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=100_000)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parsed = urlsplit(value)
        if value and (parsed.scheme not in ("http", "https") or not parsed.hostname):
            raise ValueError(f"expected the hub's http(s) base URL (got {value!r})")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        value = value.strip()
        if value and urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError(f"expected a redis:// or rediss:// URL (got {value!r})")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        # uvicorn's list form: IP addresses, networks (10.0.0.0/8), or * for every peer.
        addresses = [address.strip() for address in value.split(",") if address.strip()]
        for address in addresses:
            if address != "*":
                try:
                    ipaddress.ip_network(address)
                except ValueError:
                    raise ValueError(
                        f"expected IP addresses or networks, comma-separated (got {address!r})"
                    ) from None
        return ",".join(addresses)

    @field_validator("slack_webhook_url", "webhook_urls")
    @classmethod
    def _outbound_urls(cls, value: str) -> str:
        # Outbound calls go to http(s) only: no file:, gopher: or other schemes (DESIGN §8).
        urls = [url.strip() for url in value.split(",") if url.strip()]
        for url in urls:
            parsed = urlsplit(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError(f"only http(s) URLs with a host are allowed (got {url!r})")
        return ",".join(urls)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_form(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret.startswith(WEBHOOK_SECRET_PREFIX):
            try:
                base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
            except binascii.Error:
                raise ValueError("a whsec_ secret must be base64 after the prefix") from None
        return value

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> "Settings":
        if self.webhook_urls and not self.webhook_secret.get_secret_value():
            raise ValueError(
                "HUB_WEBHOOK_URLS is set but HUB_WEBHOOK_SECRET is empty: outbound webhooks "
                "are always signed (e.g. `whsec_` + base64 of 32 random bytes)"
            )
        return self

    @property
    def webhook_url_list(self) -> list[str]:
        """``HUB_WEBHOOK_URLS`` as a list."""
        return self.webhook_urls.split(",") if self.webhook_urls else []

    @property
    def webhook_signing_key(self) -> bytes:
        """The HMAC key: the decoded part of a ``whsec_`` secret, else the secret's UTF-8 bytes."""
        secret = self.webhook_secret.get_secret_value()
        if secret.startswith(WEBHOOK_SECRET_PREFIX):
            return base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
        return secret.encode()

    @field_validator("nlp_languages")
    @classmethod
    def _language_codes(cls, value: str) -> str:
        codes = [code.strip().lower() for code in value.split(",") if code.strip()]
        bad = [code for code in codes if len(code) != 2 or not code.isalpha()]
        if not codes or bad:
            raise ValueError(
                f"expected comma-separated ISO 639-1 codes like en,es,pt (got {value!r})"
            )
        return ",".join(codes)

    @property
    def language_codes(self) -> list[str]:
        """``HUB_NLP_LANGUAGES`` as a list."""
        return self.nlp_languages.split(",")

    @model_validator(mode="after")
    def _refuse_default_secret_outside_dev(self) -> "Settings":
        if self.env != "dev" and self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            raise ValueError(
                "HUB_SECRET_KEY is still the development default; set a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "or run with HUB_ENV=dev"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
