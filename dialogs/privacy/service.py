"""Consent per purpose and version, the data export, erasure and retention."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import Column, Table, UniqueConstraint, func
from sqlalchemy import select as select_rows
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.text import N_
from storage.erasure import erase_person_rows, tables_referencing_person
from storage.models import ConsentRecord, ErasureEvent, Person, Role
from storage.types import utcnow

log = logging.getLogger(__name__)

# The version of the privacy notice (docs/privacy.md). A new version asks everyone again.
PRIVACY_VERSION = "2026-11-25"


class Purpose(StrEnum):
    STORE = "store_answers"  # required: without it nothing personal is kept
    SHARE = "share_with_companies"
    CONTACT = "contact_events"


PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.STORE: N_("💾 Store my answers"),
    Purpose.SHARE: N_("🏭 Show my profile to pilot companies"),
    Purpose.CONTACT: N_("📅 Tell me about events"),
}


NOTICE = N_(
    "📄 Privacy notice (as of {version})\n\n"
    "Who: the pro:connect team of the skilled-workers alliance, sub-region North, is responsible "
    "for your data.\n\n"
    "What: your first name, region, German level, phone number (if you give it), your answers "
    "in this chat and your Telegram user ID.\n\n"
    "Why: to find a job, an internship or an apprenticeship for you, and to invite you to "
    "events. We only do what you agree to.\n\n"
    "How long: when you have not written to us for {months} months, we delete everything.\n\n"
    "Your rights: see your data (/mydata), change your choices (/privacy), delete everything "
    "(/delete). You can also ask the programme team."
)


class ErasureReason(StrEnum):
    REQUEST = "request"  # /delete
    DECLINED = "declined"  # said no to storing answers
    WITHDRAWN = "withdrawn"  # withdrew the storage consent; erased by the retention job
    INACTIVE = "inactive"  # no contact for longer than the retention period


async def current_consents(session: AsyncSession, person_id: int) -> dict[Purpose, bool]:
    """The latest decision per purpose under the current notice version; undecided purposes are absent."""
    result = await session.exec(
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id, ConsentRecord.version == PRIVACY_VERSION)
        .order_by(col(ConsentRecord.decided_at), col(ConsentRecord.id))
    )
    decided: dict[Purpose, bool] = {}
    for record in result.all():
        if record.purpose in Purpose.__members__.values():
            decided[Purpose(record.purpose)] = record.accepted
    return decided


async def record_consent(session: AsyncSession, person: Person, purpose: Purpose, accepted: bool) -> None:
    """Append the decision with time and version; a withdrawal also closes the earlier acceptance."""
    assert person.id is not None
    now = utcnow()
    if not accepted:
        result = await session.exec(
            select(ConsentRecord).where(
                ConsentRecord.person_id == person.id,
                ConsentRecord.purpose == purpose.value,
                col(ConsentRecord.accepted).is_(True),
                col(ConsentRecord.withdrawn_at).is_(None),
            )
        )
        for earlier in result.all():
            earlier.withdrawn_at = now
            session.add(earlier)
    session.add(
        ConsentRecord(person_id=person.id, purpose=purpose.value, version=PRIVACY_VERSION, accepted=accepted,
                      decided_at=now)
    )
    await session.flush()


async def erase_person(session: AsyncSession, person: Person, reason: ErasureReason) -> None:
    """Erase everything about the person; keep only an event with the reason and no identifying field."""
    assert person.id is not None
    was_participant = person.has_role(Role.PARTICIPANT)
    had_data = bool(person.first_name or person.roles or await current_consents(session, person.id))
    await erase_person_rows(session, person.id)
    if had_data:  # a bare record (ids only, e.g. from a double tap after erasure) is not worth counting
        session.add(ErasureEvent(reason=reason.value, was_participant=was_participant))
    await session.flush()
    session.expunge_all()  # the erased objects must not be written back by anyone holding them


def _plain(value: Any) -> Any:
    """A column value as JSON: moments and days in ISO 8601, JSON columns as they are, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)  # Decimal, UUID, …


def _exported_columns(table: Table) -> list[Column[Any]]:
    """Every column but the internal row numbers: primary keys and references to the person."""
    return [
        c for c in table.columns
        if not c.primary_key and not any(fk.column.table.name == Person.__tablename__ for fk in c.foreign_keys)
    ]


def _one_per_person(table: Table, column: str) -> bool:
    """The schema says a person has at most one row here (a unique reference): exported as one object."""
    ref = table.c[column]
    return bool(ref.unique) or any(
        isinstance(constraint, UniqueConstraint) and [c.name for c in constraint.columns] == [column]
        for constraint in table.constraints
    ) or any(bool(index.unique) and [c.name for c in index.columns] == [column] for index in table.indexes)


def export_section(table_name: str) -> str:
    """The key of a table's rows in the export: its name; the consents keep the one earlier files had."""
    return EXPORT_SECTIONS.get(table_name, table_name)


#: Section names that differ from the table name (kept so files people already have read the same).
EXPORT_SECTIONS: dict[str, str] = {"consent_record": "consents"}


async def export_person(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything stored about the person, as plain JSON-ready data (``/mydata``).

    The tables come from the schema, as for erasure (``storage.erasure.tables_referencing_person``): the
    person's row, then every row of every table with a foreign key to ``person.id``, all columns but the
    internal row numbers. A table added later is exported without anyone remembering to add it here.
    """
    assert person.id is not None
    await session.flush()  # rows added in this unit of work are read below with plain SQL
    conn = await session.connection()

    async def rows(table: Table, where: Any) -> list[dict[str, Any]]:
        keys = [c for c in table.primary_key.columns] or list(table.columns)
        columns = _exported_columns(table)
        result = await conn.execute(select_rows(*columns).where(where).order_by(*keys))
        return [{c.name: _plain(row[c.name]) for c in columns} for row in result.mappings().all()]

    person_table: Table = Person.__table__  # type: ignore[attr-defined]
    exported: dict[str, Any] = {"person": (await rows(person_table, person_table.c.id == person.id))[0]}
    for table, column, _kept_for_statistics in reversed(tables_referencing_person()):
        found = await rows(table, table.c[column] == person.id)
        name = export_section(table.name)
        if _one_per_person(table, column):
            exported[name] = found[0] if found else None
        else:
            exported[name] = exported.get(name, []) + found
    return exported


@dataclass(frozen=True)
class RetentionResult:
    withdrawn: int
    inactive: int


async def enforce_retention(session: AsyncSession, *, inactive_days: int, now: datetime | None = None) -> RetentionResult:
    """Erase people who withdrew the storage consent, and participants silent for ``inactive_days``.

    Coordinators are never erased by inactivity. Logs counts only, never who.
    """
    now = now or utcnow()
    withdrawn_ids: set[int] = set()
    latest = (
        select(ConsentRecord.person_id, func.max(ConsentRecord.id).label("last_id"))
        .where(ConsentRecord.purpose == Purpose.STORE.value)
        .group_by(col(ConsentRecord.person_id))
        .subquery()
    )
    rows = await session.exec(
        select(ConsentRecord.person_id).join(latest, col(ConsentRecord.id) == latest.c.last_id).where(
            col(ConsentRecord.accepted).is_(False)
        )
    )
    withdrawn_ids.update(rows.all())
    cutoff = now - timedelta(days=inactive_days)
    stale = await session.exec(
        select(Person).where(col(Person.last_seen_at) < cutoff)
    )
    inactive = [p for p in stale.all() if not p.has_role(Role.COORDINATOR) and p.id not in withdrawn_ids]
    for person_id in withdrawn_ids:
        await erase_person_rows(session, person_id)
        session.add(ErasureEvent(reason=ErasureReason.WITHDRAWN.value, was_participant=True))
    for person in inactive:
        assert person.id is not None
        await erase_person_rows(session, person.id)
        session.add(ErasureEvent(reason=ErasureReason.INACTIVE.value,
                                 was_participant=person.has_role(Role.PARTICIPANT)))
    await session.flush()
    session.expunge_all()
    result = RetentionResult(withdrawn=len(withdrawn_ids), inactive=len(inactive))
    log.info("retention: erased %d after withdrawal, %d inactive", result.withdrawn, result.inactive)
    return result
