"""Schedule, reschedule and cancel messages the bot sends on its own initiative.

Every feature that sends something later or to many people (reminders, campaign items, broadcasts,
notices) calls :func:`schedule` instead of talking to Telegram; the delivery worker (``bot/delivery.py``)
sends the row when it is due, within Telegram's limits, in the recipient's language of that moment.

These functions flush but never commit: they join the caller's unit of work, so a booking and its
reminders are stored together or not at all. A row due at once marks the session (:data:`DUE_NOW`);
the update's unit of work wakes the delivery worker right after committing it, instead of leaving it to
the next tick, at most about a second later.

Keys are the way to find rows again. Build them with :func:`make_key` from the feature and its ids,
e.g. ``make_key("booking", 17, "reminder", "24h")``; :func:`key_prefix` gives the prefix that cancels all
rows of one thing at once: ``cancel(session, prefix=key_prefix("booking", 17))``.

The late rule: a row may carry ``expires_at``. A row that could not be sent before that moment (the bot
was down, Telegram held us back) is marked ``expired`` and never sent. A row without it is sent late.
Reminders should expire at the moment they remind of (or earlier, with ``max_delay``): a reminder of a
10:00 hospitation is worthless at 10:05.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person
from storage.outbox import OutboxMessage, OutboxStatus, Priority
from storage.types import utcnow

Clock = Callable[[], datetime]
KEY_SEPARATOR = ":"
#: ``session.info`` key: this unit of work scheduled a row that is due now (see the module docstring)
DUE_NOW = "outbox_due_now"


@dataclass(frozen=True)
class Button:
    """An inline button; for a template row its text is a msgid too, translated at send time."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.callback_data is None) == (self.url is None):
            raise ValueError("a button needs exactly one of callback_data and url")
        if self.callback_data is not None and not 1 <= len(self.callback_data.encode()) <= 64:
            raise ValueError("callback_data must be 1 to 64 bytes")

    def as_dict(self) -> dict[str, str]:
        data = {"text": self.text}
        if self.callback_data is not None:
            data["callback_data"] = self.callback_data
        if self.url is not None:
            data["url"] = self.url
        return data


def make_key(*parts: object) -> str:
    """An idempotency key from a feature name and ids: ``make_key("booking", 17, "reminder")``."""
    if not parts:
        raise ValueError("a key needs at least one part")
    key = KEY_SEPARATOR.join(str(p) for p in parts)
    if len(key) > 200:
        raise ValueError("an idempotency key is at most 200 characters")
    return key


def key_prefix(*parts: object) -> str:
    """The prefix of every key made from ``parts`` and more: ``booking:17:`` never matches booking 170."""
    return make_key(*parts) + KEY_SEPARATOR


async def schedule(
    session: AsyncSession,
    *,
    person: Person | int | None = None,
    chat_id: int | None = None,
    template: str | None = None,
    args: Mapping[str, Any] | None = None,
    text: str | None = None,
    buttons: Sequence[Sequence[Button]] | None = None,
    due_at: datetime | None = None,
    priority: int = Priority.NORMAL,
    key: str | None = None,
    expires_at: datetime | None = None,
    max_delay: timedelta | None = None,
    locale: str | None = None,
    now: Clock = utcnow,
) -> OutboxMessage:
    """Put one message in the outbox; the same ``key`` twice gives the one row made the first time.

    The recipient is a person (their chat and language are looked up at send time) or a bare
    ``chat_id`` (a group, with ``locale`` for its language). The payload is a gettext ``template``
    msgid with ``args`` for ``str.format`` (string arguments are HTML-escaped at send time), or a
    literal HTML ``text``. ``due_at`` defaults to now. ``max_delay`` sets ``expires_at`` to
    ``due_at + max_delay`` (the earlier of the two when both are given). Without ``key`` the row gets a
    random one, which makes it impossible to find again: give a key to anything you may cancel.
    """
    if (template is None) == (text is None):
        raise ValueError("give exactly one of template and text")
    if person is None and chat_id is None:
        raise ValueError("give a person or a chat_id")
    person_id = person.id if isinstance(person, Person) else person
    if isinstance(person, Person) and person_id is None:
        raise ValueError("the person has no id yet: flush it first")
    due = due_at or now()
    if max_delay is not None:
        limit = due + max_delay
        expires_at = limit if expires_at is None else min(expires_at, limit)
    key = key or make_key("adhoc", uuid.uuid4().hex)

    existing = await get(session, key)
    if existing is not None:
        return existing
    row = OutboxMessage(
        idempotency_key=key,
        person_id=person_id,
        chat_id=chat_id,
        locale=locale,
        template=template,
        args=dict(args) if args else None,
        text=text,
        buttons=[[b.as_dict() for b in row] for row in buttons] if buttons else None,
        priority=int(priority),
        due_at=due,
        expires_at=expires_at,
        created_at=now(),
        updated_at=now(),
    )
    if due <= row.created_at:
        session.info[DUE_NOW] = True
    try:
        # A savepoint, so that losing a race to another process for the same key leaves the
        # caller's transaction usable.
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        winner = await get(session, key)
        if winner is None:  # not a duplicate key after all
            raise
        return winner
    return row


@dataclass(frozen=True)
class Draft:
    """One message of a bulk :func:`schedule_many`; the fields mean what :func:`schedule`'s arguments do."""

    key: str
    person_id: int | None = None
    chat_id: int | None = None
    template: str | None = None
    args: Mapping[str, Any] | None = None
    text: str | None = None
    buttons: Sequence[Sequence[Button]] | None = None
    due_at: datetime | None = None
    priority: int = Priority.BULK
    expires_at: datetime | None = None
    locale: str | None = None


async def schedule_many(session: AsyncSession, drafts: Sequence[Draft], *, now: Clock = utcnow) -> None:
    """Put many messages in the outbox in a few statements (a broadcast); keys already there are skipped.

    ``INSERT … ON CONFLICT DO NOTHING`` in the dialect of the session's database (SQLite and PostgreSQL
    spell it alike): one round trip per thousand rows instead of several per row.
    """
    if not drafts:
        return
    stamp = now()
    if any(d.due_at is None or d.due_at <= stamp for d in drafts):
        session.info[DUE_NOW] = True
    values: list[dict[str, Any]] = []
    for d in drafts:
        if (d.template is None) == (d.text is None) or (d.person_id is None and d.chat_id is None):
            raise ValueError(f"draft {d.key!r} needs one of template and text, and a recipient")
        values.append(
            {
                "idempotency_key": d.key,
                "person_id": d.person_id,
                "chat_id": d.chat_id,
                "locale": d.locale,
                "template": d.template,
                "args": dict(d.args) if d.args else None,
                "text": d.text,
                "buttons": [[b.as_dict() for b in row] for row in d.buttons] if d.buttons else None,
                "priority": int(d.priority),
                "due_at": d.due_at or stamp,
                "expires_at": d.expires_at,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    conn = await session.connection()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(values), 1000):
        stmt = (
            insert(table)
            .values(values[start : start + 1000])
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        await conn.execute(stmt)


async def get(session: AsyncSession, key: str) -> OutboxMessage | None:
    result = await session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    return result.first()


async def reschedule(
    session: AsyncSession,
    key: str,
    *,
    due_at: datetime,
    expires_at: datetime | None = None,
    now: Clock = utcnow,
) -> OutboxMessage | None:
    """Move a pending row to a new time (and expiry); None when there is no pending row with that key.

    A row already sent, or being sent, cannot be called back; schedule a new one with a new key.
    """
    row = await get(session, key)
    if row is None or row.status != OutboxStatus.PENDING:
        return None
    row.due_at = due_at
    row.expires_at = expires_at
    row.updated_at = now()
    session.add(row)
    await session.flush()
    return row


async def cancel(
    session: AsyncSession,
    *,
    key: str | None = None,
    prefix: str | None = None,
    person_id: int | None = None,
    now: Clock = utcnow,
) -> int:
    """Cancel pending rows by exact key, by key prefix, or all of one person; return how many.

    Rows being sent at this moment are not stopped. Conditions given together must all hold.
    """
    if key is None and prefix is None and person_id is None:
        raise ValueError("give a key, a prefix or a person_id")
    stmt = update(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.PENDING)
    if key is not None:
        stmt = stmt.where(col(OutboxMessage.idempotency_key) == key)
    if prefix is not None:
        if not prefix:
            raise ValueError("an empty prefix would cancel everything")
        stmt = stmt.where(col(OutboxMessage.idempotency_key).startswith(prefix, autoescape=True))
    if person_id is not None:
        stmt = stmt.where(col(OutboxMessage.person_id) == person_id)
    stamp = now()
    result = await session.exec(
        stmt.values(
            status=OutboxStatus.CANCELLED, last_error="cancelled", updated_at=stamp
        ).execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)
    if count:
        # Rows of this session's identity map would still read "pending"; refresh them on next access.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, OutboxMessage):
                session.expire(obj)
    return count


__all__ = [
    "Button",
    "Draft",
    "OutboxMessage",
    "OutboxStatus",
    "Priority",
    "cancel",
    "get",
    "key_prefix",
    "make_key",
    "reschedule",
    "schedule",
    "schedule_many",
]
