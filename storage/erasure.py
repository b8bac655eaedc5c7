"""Erase a person everywhere, found through the schema itself so that no new table is forgotten."""

from __future__ import annotations

from sqlalchemy import Table, delete, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person, SQLModel


def tables_referencing_person() -> list[tuple[Table, str, bool]]:
    """Every (table, column, nullable) whose foreign key points at ``person.id``, children first."""
    found: list[tuple[Table, str, bool]] = []
    for table in reversed(SQLModel.metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column.table.name == Person.__tablename__:
                found.append((table, fk.parent.name, bool(fk.parent.nullable)))
    return found


async def erase_person_rows(session: AsyncSession, person_id: int) -> None:
    """Delete the person's rows; rows that statistics need (nullable reference) lose the reference instead.

    Does not commit: the caller's unit of work decides.
    """
    for table, column, nullable in tables_referencing_person():
        if nullable:
            await session.exec(update(table).where(table.c[column] == person_id).values({column: None}))
        else:
            await session.exec(delete(table).where(table.c[column] == person_id))
    await session.exec(delete(Person.__table__).where(Person.__table__.c.id == person_id))  # type: ignore[attr-defined]
