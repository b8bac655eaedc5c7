"""A missing or malformed setting stops start-up with one clear line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, DatabaseSettings, Settings, load_settings


def test_missing_token_names_it(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"^BOT_TOKEN is not set"):
        load_settings(Settings)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN must look like"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "mysql://localhost/x"}, "DATABASE_URL driver 'mysql'"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"BOT_TOKEN": "1:a", "COORDINATOR_IDS": "12,abc"}, "COORDINATOR_IDS must be Telegram user ids"),
        ({"BOT_TOKEN": "1:a", "TIMEZONE": "Mars/Olympus"}, "TIMEZONE is not a known time zone"),
        ({"BOT_TOKEN": "1:a", "TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL must be an http"),
    ],
)
def test_malformed_setting_names_it(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings(Settings)
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


def test_env_file_and_plain_postgres_url(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "BOT_TOKEN=42:s3cr3tvalue\nDATABASE_URL=postgresql://u@db/x\nCOORDINATOR_IDS=1, 2 ;3\n", encoding="utf-8"
    )
    settings = load_settings(Settings)
    assert settings.bot_token.get_secret_value() == "42:s3cr3tvalue"
    assert "s3cr3tvalue" not in repr(settings)
    assert settings.database_url == "postgresql+asyncpg://u@db/x"
    assert settings.coordinator_ids == frozenset({1, 2, 3})
    assert load_settings(DatabaseSettings).database_url.startswith("postgresql+asyncpg://")


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "proconnect: BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "sqlite+aiosqlite:////nonexistent/dir/x.db"},
         "proconnect: DATABASE_URL: cannot open the database"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/x"},
         "proconnect: DATABASE_URL: cannot open the database"),
    ],
)
def test_cli_start_failure_is_one_line(clean_env: Path, env: dict[str, str], expected: str) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    result = _cli(["run"], {**base, **env}, clean_env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in result.stderr
