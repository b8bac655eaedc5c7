"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable), the emulator, settings.

PostgreSQL tests run whenever the server answers; with ``CI=true`` an unreachable server fails them
instead of skipping, so CI can never pass without having run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# One Redis database per pytest-xdist worker (gw0 → 15, gw1 → 14, …): tests flush theirs, never another's.
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _XDIST_WORKER % 16}")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(what: str, why: object) -> None:
    message = f"{what} is not reachable ({why})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"pc_test_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except (TimeoutError, OSError, ImportError) as exc:
        _unavailable("PostgreSQL", exc)
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each backend; storage tests take this to run on both."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        async with fresh_postgres() as url:
            yield url


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    from storage.migrate import upgrade

    await upgrade(database_url)
    return database_url


@pytest.fixture
async def sessions(migrated_url: str) -> AsyncIterator[Any]:
    """A session factory on a migrated database of each backend, disposed afterwards."""
    from storage.db import create_engine, create_sessionmaker

    engine = create_engine(migrated_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def redis_url() -> str:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
        await client.flushdb()
    except OSError as exc:
        _unavailable("Redis", exc)
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No settings leak in from the developer's shell or a .env file."""
    for key in list(os.environ):
        if key.startswith(("BOT_", "TELEGRAM_", "DATABASE_", "REDIS_", "COORDINATOR_", "WEBHOOK_", "TIMEZONE")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
