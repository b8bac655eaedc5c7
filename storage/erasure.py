"""Erase a person everywhere, found through the schema itself so that no new table is forgotten."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Table, delete, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person, SQLModel

#: Run before a person's rows are deleted, for what a plain delete would leave wrong (a table module adds
#: its own: the booking tables give the person's places back to their slots).
BEFORE_ERASE: list[Callable[[AsyncSession, int], Awaitable[None]]] = []


def tables_referencing_person() -> list[tuple[Table, str, bool]]:
    """Every (table, column, keep) whose foreign key points at ``person.id``, children first.

    ``keep`` is true only where the schema says ``ondelete="SET NULL"``: rows that statistics need and
    that hold nothing personal once the reference is gone. Every other reference (CASCADE, or none
    declared) means the row is the person's and goes with them.
    """
    found: list[tuple[Table, str, bool]] = []
    for table in reversed(SQLModel.metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column.table.name == Person.__tablename__:
                keep = (fk.ondelete or "").upper() == "SET NULL"
                found.append((table, fk.parent.name, keep))
    return found


async def erase_person_rows(session: AsyncSession, person_id: int) -> None:
    """Delete the person's rows everywhere; rows kept for statistics (SET NULL) lose the reference.

    Does not commit: the caller's unit of work decides.
    """
    for hook in BEFORE_ERASE:
        await hook(session, person_id)
    for table, column, keep in tables_referencing_person():
        if keep:
            await session.exec(update(table).where(table.c[column] == person_id).values({column: None}))
        else:
            await session.exec(delete(table).where(table.c[column] == person_id))
    await session.exec(delete(Person.__table__).where(Person.__table__.c.id == person_id))  # type: ignore[attr-defined]
