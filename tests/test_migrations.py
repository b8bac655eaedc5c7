"""Every migration goes up and down cleanly on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.migrate import SchemaState, downgrade, head_revision, schema_status, upgrade
from storage.models import SQLModel


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_round_trip(database_url: str) -> None:
    assert (await schema_status(database_url)).state is SchemaState.EMPTY
    await upgrade(database_url)
    status = await schema_status(database_url)
    assert status.state is SchemaState.CURRENT and status.current == head_revision()
    assert {"person", "consent_record"} <= await _tables(database_url)

    await downgrade(database_url, "base")
    assert await _tables(database_url) <= {"alembic_version"}
    await upgrade(database_url)
    assert (await schema_status(database_url)).state is SchemaState.CURRENT


async def test_models_match_migrations(migrated_url: str) -> None:
    """A model changed without a migration is caught here, not in production."""
    engine = create_engine(migrated_url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_behind_is_detected(sqlite_url: str) -> None:
    await upgrade(sqlite_url, "0001")
    status = await schema_status(sqlite_url)
    if head_revision() == "0001":
        assert status.state is SchemaState.CURRENT
    else:
        assert status.state is SchemaState.BEHIND and status.current == "0001"


def test_single_head() -> None:
    assert head_revision()


async def test_start_up_refuses_a_database_that_is_behind(sqlite_url: str) -> None:
    import pytest

    from bot.config import ConfigError
    from bot.runtime import ensure_schema

    await upgrade(sqlite_url, "0001")
    with pytest.raises(ConfigError, match=r"behind .* run `proconnect migrate` first"):
        await ensure_schema(sqlite_url)
    await upgrade(sqlite_url)
    await ensure_schema(sqlite_url)  # current: starts


async def test_start_up_creates_an_empty_database_at_head(sqlite_url: str) -> None:
    from bot.runtime import ensure_schema

    await ensure_schema(sqlite_url)
    assert (await schema_status(sqlite_url)).state is SchemaState.CURRENT
