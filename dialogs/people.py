"""Who is talking to the bot: find or create the person, store the language, assign roles."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.languages import is_supported
from storage.models import Person, Role
from storage.types import utcnow

SEEN_RESOLUTION = timedelta(hours=1)


async def get_person(session: AsyncSession, telegram_user_id: int) -> Person | None:
    result = await session.exec(select(Person).where(Person.telegram_user_id == telegram_user_id))
    return result.first()


async def touch_person(
    session: AsyncSession, *, telegram_user_id: int, chat_id: int, coordinator_ids: frozenset[int] = frozenset()
) -> Person:
    """Find the person behind an update, creating a bare record (ids only) on first contact.

    Nothing personal beyond the Telegram ids is stored before consent. Coordinators listed in the
    configuration get their role here, so the role check never depends on a client-side claim.
    """
    person = await get_person(session, telegram_user_id)
    now = utcnow()
    if person is None:
        person = Person(telegram_user_id=telegram_user_id, chat_id=chat_id, roles=[], last_seen_at=now)
        session.add(person)
    changed = person.id is None
    if person.chat_id != chat_id:
        person.chat_id, changed = chat_id, True
    if person.blocked:
        person.blocked, changed = False, True  # they wrote to us, so they can be reached again
    if telegram_user_id in coordinator_ids and not person.has_role(Role.COORDINATOR):
        person.add_role(Role.COORDINATOR)
        changed = True
    # Last contact only matters in days (retention); writing it on every tap would make every update a write.
    if person.last_seen_at is None or now - person.last_seen_at > SEEN_RESOLUTION:
        person.last_seen_at, changed = now, True
    if changed:
        await session.flush()
    return person


async def set_language(session: AsyncSession, person: Person, code: str) -> None:
    if not is_supported(code):
        raise ValueError(f"unsupported language {code!r}")
    person.language = code
    person.updated_at = utcnow()
    session.add(person)
    await session.flush()


async def reconcile_coordinators(session: AsyncSession, coordinator_ids: frozenset[int]) -> tuple[list[int], list[int]]:
    """Make the coordinator role match the configuration: given to the listed people who are known, taken
    from everyone else. Returns the person ids (not Telegram ids) that gained and lost it.

    The configuration is the one source of the role today; people listed but not yet known get it on their
    first contact (:func:`touch_person`).
    """
    added: list[int] = []
    removed: list[int] = []
    for person in (await session.exec(select(Person).order_by(col(Person.id)))).all():
        listed = person.telegram_user_id in coordinator_ids
        if listed and not person.has_role(Role.COORDINATOR):
            person.add_role(Role.COORDINATOR)
            added.append(person.id or 0)
        elif not listed and person.has_role(Role.COORDINATOR):
            person.roles = [role for role in person.roles if role != Role.COORDINATOR.value]
            removed.append(person.id or 0)
        else:
            continue
        person.updated_at = utcnow()
        session.add(person)
    await session.flush()
    return added, removed
