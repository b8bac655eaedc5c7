"""Bring a database to the newest schema, and tell whether it is there.

Used by ``proconnect migrate`` and by start-up, which refuses to run on a database that is behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url

from storage.db import create_engine

INI = Path(__file__).with_name("alembic.ini")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(INI))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads; merge them: {', '.join(heads)}")
    return heads[0]


class SchemaState(StrEnum):
    EMPTY = "empty"  # no tables at all: a brand-new database
    CURRENT = "current"
    BEHIND = "behind"
    UNKNOWN = "unknown"  # tables but no revision we know: another program's database, or a newer one


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    current: str | None
    head: str


def _status(connection: Connection) -> SchemaStatus:
    head = head_revision()
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        tables = inspect(connection).get_table_names()
        return SchemaStatus(SchemaState.EMPTY if not tables else SchemaState.UNKNOWN, None, head)
    if current == head:
        return SchemaStatus(SchemaState.CURRENT, current, head)
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    return SchemaStatus(SchemaState.BEHIND if current in known else SchemaState.UNKNOWN, current, head)


def _check_sqlite_path(database_url: str) -> None:
    """Refuse an SQLite file whose folder does not exist before the driver tries: aiosqlite's failed
    connection thread can outlive the event loop and print a traceback after the one-line error."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().resolve().parent
        if not folder.is_dir():
            raise OSError(f"unable to open database file: there is no folder {folder}")


async def schema_status(database_url: str) -> SchemaStatus:
    _check_sqlite_path(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_status)
    finally:
        await engine.dispose()


async def _run(database_url: str, action: str, revision: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:

            def run(sync_conn: Connection) -> None:
                config = alembic_config(database_url)
                config.attributes["connection"] = sync_conn
                getattr(command, action)(config, revision)

            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade(database_url: str, revision: str = "head") -> None:
    await _run(database_url, "upgrade", revision)


async def downgrade(database_url: str, revision: str = "base") -> None:
    await _run(database_url, "downgrade", revision)
