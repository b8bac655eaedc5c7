"""Settings, read once at start from the environment and an optional ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

TELEGRAM_API_URL = "https://api.telegram.org"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///proconnect.sqlite3"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class DatabaseSettings(BaseSettings):
    """What commands that only touch the database need (``migrate``, ``outbox``)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"is not a database URL ({exc})") from None
        if url.drivername == "postgresql" or url.drivername == "postgres":
            url = url.set(drivername="postgresql+asyncpg")
        if url.drivername == "sqlite":
            url = url.set(drivername="sqlite+aiosqlite")
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(f"driver {url.drivername!r} is not supported; use one of {', '.join(SUPPORTED_DRIVERS)}")
        return url.render_as_string(hide_password=False)


class Settings(DatabaseSettings):
    bot_token: SecretStr
    telegram_api_url: str = TELEGRAM_API_URL
    redis_url: str | None = None
    coordinator_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Europe/Berlin"
    default_language: str = "de"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram/webhook"
    locales_dir: Path = Path(__file__).resolve().parent.parent / "locales"
    # Delivery worker (docs/delivery.md). Several workers may share one PostgreSQL outbox; each needs its
    # own id (default: host name and process id) and a share of the rate: Telegram counts per bot, not per worker.
    delivery_enabled: bool = True
    delivery_rate_per_second: float = Field(default=30.0, gt=0, le=1000)
    delivery_worker_id: str | None = Field(default=None, max_length=128)
    delivery_lease_seconds: float = Field(default=60.0, ge=1)
    delivery_max_attempts: int = Field(default=5, ge=1)
    # Network errors and 5xx are retried until a message's expires_at or, without one, this long after it was due.
    delivery_retry_horizon_hours: float = Field(default=24.0, gt=0)
    retention_months: int = Field(default=12, ge=1, le=120)  # erase people silent this long
    #: Booking a hospitation closes, and cancelling in the bot stops, this long before the start.
    booking_cutoff_hours: float = Field(default=12, ge=0, le=24 * 14)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        bot_id, sep, secret = raw.partition(":")
        if not (sep and bot_id.isdigit() and secret):
            raise ValueError("must look like 123456:ABC-DEF… (the token BotFather gives)")
        return SecretStr(raw)

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("coordinator_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError("must be Telegram user ids separated by commas, e.g. 12345,67890") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone, e.g. Europe/Berlin") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


S = TypeVar("S", bound=DatabaseSettings)


def load_settings(cls: type[S] = Settings, **overrides: Any) -> S:  # type: ignore[assignment]
    """Load settings, turning pydantic's report into one line that names the setting."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        if first["type"] == "missing":
            raise ConfigError(f"{name} is not set: put it in the environment or in .env") from None
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name} {message}") from None
