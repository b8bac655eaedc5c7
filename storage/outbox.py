"""The outbox: every message the bot sends on its own initiative is a row here first.

The queries a delivery worker needs live here too, written so that several workers on several machines
can share one table. A claim moves due rows from ``pending`` to ``sending`` in one statement, and it
hands out chats, not just rows: a recipient whose rows another worker is sending, or sent to within
the last second (a minute for a group), is left to that worker, so a chat's messages keep their order
and its rate limit, which only one worker can keep. Claims are serialised (on PostgreSQL by a
transaction-level advisory lock, SQLite serialises writers anyway), because the rule "nobody else holds
this chat" is only true if no other claim runs at the same moment. A claim is a lease: rows whose
worker stopped renewing it go back to ``pending``.

None of these helpers commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    CursorResult,
    Executable,
    Index,
    Text,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession as Session
from sqlmodel import Field, SQLModel

from storage.models import Person
from storage.types import UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time
    SENDING = "sending"  # claimed by a worker (a lease, see claimed_at / claimed_by)
    SENT = "sent"
    FAILED = "failed"  # gave up: see last_error
    CANCELLED = "cancelled"  # withdrawn by the feature that scheduled it
    EXPIRED = "expired"  # its moment passed before it could be sent (the late rule)


class Priority(IntEnum):
    """Lower goes first among rows that are due."""

    URGENT = 0  # a direct answer or notice a person is waiting for
    REMINDER = 10
    NORMAL = 50
    BULK = 100  # broadcasts and campaign items


class OutboxMessage(SQLModel, table=True):
    """One message to one chat: literal text, or a gettext msgid rendered in the recipient's language."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_status_due_at", "status", "due_at"),
        Index("ix_outbox_message_person_id_status", "person_id", "status"),
        Index("ix_outbox_message_chat_id_status", "chat_id", "status"),
        # The claim's order: it reads pending rows in this order and stops at its limit, instead of
        # checking every due row's chat before sorting them all.
        Index("ix_outbox_message_claim_order", "status", "priority", "due_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", ondelete="CASCADE")
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    locale: str | None = Field(default=None, max_length=8)  # for a chat without a person (a group)
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    template: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    args: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    buttons: list[list[dict[str, str]]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    priority: int = Field(default=Priority.NORMAL)
    due_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = Field(default=0)  # sends tried (and leases lost), for the backoff and the operator
    # Times a worker died holding this row (its lease ran out): the poison-message count, kept apart from
    # ``attempts`` so that a long Telegram outage does not make a row fail at the first crash after it.
    lease_losses: int = Field(default=0)
    # After a network error or 5xx: not before this moment. ``due_at`` keeps the scheduled time, which
    # orders the row among its chat's messages and starts its retry horizon.
    retry_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    claimed_by: str | None = Field(default=None, max_length=128)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    telegram_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
cols = OUTBOX.c  # the columns, for the Core statements below


async def _execute(
    session: Session, stmt: Executable, params: list[dict[str, Any]] | None = None
) -> CursorResult[Any]:
    # Core statements go through the session's connection: same transaction, and no ORM bookkeeping
    # (SQLModel's session also deprecates ``execute``).
    conn = await session.connection()
    result = await conn.execute(stmt, params) if params is not None else await conn.execute(stmt)
    return result  # type: ignore[return-value]


def _count(result: CursorResult[Any]) -> int:
    return int(result.rowcount or 0)


# ----------------------------------------------------------------------------------------- worker side


#: How long after another worker's last send a chat may be handed to this one: Telegram's one message a
#: second in a private chat (twenty a minute in a group), our 2 % margin, and half a second for the clocks
#: of two machines, which need not agree to the millisecond.
HANDOVER_SLACK = timedelta(seconds=0.5)
PRIVATE_HANDOVER = timedelta(seconds=1.02) + HANDOVER_SLACK
GROUP_HANDOVER = timedelta(seconds=61.2) + HANDOVER_SLACK
#: Rows of one chat a worker holds at a time: the one going out and the next. More would only wait (a
#: private chat takes one a second) and take room from other chats.
PER_CHAT = 2
#: ``pg_advisory_xact_lock`` key that serialises claims on PostgreSQL ("outbox" in ASCII)
CLAIM_LOCK = 0x6F7574626F78


def _chat_rules(
    worker_id: str, now: datetime, private_handover: timedelta, group_handover: timedelta, per_chat: int
) -> list[Any]:
    """Conditions on a candidate row that keep each chat with one worker, in order, within its limit.

    A chat is a person (their rows, whatever their chat id is today) or a bare ``chat_id`` (a group). It
    is not another worker's: nobody else is sending to it, nor sent to it more recently than the
    handover time. No earlier row of the chat waits for a retry (later ones do not overtake it). And
    fewer than ``per_chat`` rows of the chat are ahead of the candidate for this worker: its own rows
    being sent, and due rows that come earlier in the chat's order (they are claimed first).

    Written so that every subquery is an equality on a chat and on one status, which the indexes on
    ``(person_id, status)`` and ``(chat_id, status)`` answer with a few rows whatever the planner's
    statistics say: an outbox is mostly ``sent`` rows, statistics taken in a quiet hour say nothing is
    pending, and a subquery with an ``OR`` of statuses or of both kinds of recipient was then answered
    by reading every pending row, for every candidate (740 ms for one claim among 3,000 pending rows).
    ``CASE`` picks the kind of recipient, so only one of each pair runs.
    """
    h = OUTBOX.alias("h")
    earlier = tuple_(h.c.priority, h.c.due_at, h.c.id) < tuple_(cols.priority, cols.due_at, cols.id)
    handover = case(
        (cols.chat_id < 0, literal(now - group_handover, UTCDateTime)),
        else_=literal(now - private_handover, UTCDateTime),
    )
    due = and_(h.c.due_at <= now, or_(h.c.expires_at.is_(None), h.c.expires_at > now))  # expired rows go nowhere

    # ``coalesce`` of a column that is never NULL: the same test, but no index can answer it, so the
    # planner goes to the chat's rows by the chat's index instead of to every row with that status.
    status = func.coalesce(h.c.status, "")

    def same_chat(state: OutboxStatus) -> tuple[Any, Any]:
        """(to the candidate's person, to the candidate's bare chat id) with this status."""
        return (
            and_(h.c.person_id == cols.person_id, status == state),
            and_(h.c.chat_id == cols.chat_id, h.c.person_id.is_(None), status == state),
        )

    def per_kind(pair: tuple[Any, Any]) -> Any:
        person, group = pair
        return case((cols.person_id.is_not(None), person), else_=group)

    def any_row(status: OutboxStatus, *rule: Any) -> Any:
        person, group = same_chat(status)
        return per_kind((exists().where(person, *rule), exists().where(group, *rule)))

    def first(status: OutboxStatus, *rule: Any) -> Any:
        """How many such rows, counting up to ``per_chat`` (a chat with a backlog costs no more)."""

        def count(same: Any) -> Any:
            rows = select(literal(1)).select_from(h).where(same, *rule).limit(per_chat).correlate(OUTBOX)
            return select(func.count()).select_from(rows.subquery()).scalar_subquery()

        person, group = same_chat(status)
        return per_kind((count(person), count(group)))

    taken = or_(
        any_row(OutboxStatus.SENDING, h.c.claimed_by != worker_id),
        any_row(OutboxStatus.SENT, h.c.claimed_by != worker_id, h.c.sent_at > handover),
        any_row(OutboxStatus.PENDING, due, h.c.retry_at > now, earlier),
    )
    ahead = first(OutboxStatus.SENDING, h.c.claimed_by == worker_id) + first(OutboxStatus.PENDING, due, earlier)
    return [~taken, ahead < per_chat]


async def claim_due(
    session: Session,
    *,
    worker_id: str,
    now: datetime,
    limit: int,
    private_handover: timedelta = PRIVATE_HANDOVER,
    group_handover: timedelta = GROUP_HANDOVER,
    per_chat: int = PER_CHAT,
) -> list[OutboxMessage]:
    """Move up to ``limit`` due rows to ``sending`` under this worker's lease and return them.

    Highest priority first, then oldest due time, then id. Expired rows are never claimed (see
    :func:`expire_late`, which the worker runs first), nor rows waiting for a retry, nor rows of a chat
    another worker holds, nor more than ``per_chat`` rows of one chat at a time (see :func:`_chat_rules`).
    """
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        # Held until the transaction ends, so the next claim sees this one's rows as taken: two claims at
        # the same moment could otherwise both find a chat free and share it.
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
    # A CTE, not ``id IN (subquery)``: PostgreSQL may run such a subquery more than once and then claims
    # more than ``limit`` rows; a CTE that locks rows is evaluated once.
    candidates = (
        select(cols.id)
        .where(cols.status == OutboxStatus.PENDING, cols.due_at <= now)
        .where(or_(cols.expires_at.is_(None), cols.expires_at > now))
        .where(or_(cols.retry_at.is_(None), cols.retry_at <= now))
        .where(*_chat_rules(worker_id, now, private_handover, group_handover, per_chat))
        .order_by(cols.priority, cols.due_at, cols.id)
        .limit(limit)
        # PostgreSQL: rows another transaction is changing (a cancel, a reschedule) are skipped, not
        # waited for; SQLite's compiler leaves it out.
        .with_for_update(skip_locked=True, of=OUTBOX)
        .cte("due")
    )
    stmt = (
        update(OUTBOX)
        .where(cols.id == candidates.c.id, cols.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, claimed_at=now, claimed_by=worker_id, updated_at=now)
        .returning(*OUTBOX.c)
    )
    result = await _execute(session, stmt)
    rows = [OutboxMessage.model_validate(dict(r._mapping)) for r in result]
    rows.sort(key=lambda m: (m.priority, m.due_at, m.id or 0))
    return rows


async def expire_late(session: Session, *, now: datetime) -> int:
    """Mark pending rows whose ``expires_at`` has passed as ``expired``; return how many."""
    result = await _execute(
        session,
        update(OUTBOX)
        .where(cols.status == OutboxStatus.PENDING, cols.expires_at.is_not(None), cols.expires_at <= now)
        .values(status=OutboxStatus.EXPIRED, last_error="expired before it could be sent", updated_at=now),
    )
    return _count(result)


async def renew_leases(session: Session, *, worker_id: str, now: datetime) -> int:
    """Keep this worker's claims alive while it still holds them in memory."""
    result = await _execute(
        session,
        update(OUTBOX).where(cols.status == OutboxStatus.SENDING, cols.claimed_by == worker_id).values(claimed_at=now),
    )
    return _count(result)


async def claimed_ids(session: Session, *, worker_id: str) -> set[int]:
    """Ids of the rows this worker holds in the database (after an outage: which ones are still its own)."""
    result = await _execute(
        session, select(cols.id).where(cols.status == OutboxStatus.SENDING, cols.claimed_by == worker_id)
    )
    return {int(r[0]) for r in result}


async def release_expired_leases(
    session: Session, *, worker_id: str, now: datetime, lease: timedelta, max_attempts: int
) -> int:
    """Return rows of a worker that stopped renewing its lease (it crashed) to ``pending``.

    Such a row may or may not have reached Telegram before the crash; it is sent again, which is the
    one place a duplicate can arise. A row that keeps outliving its workers (a poison message) counts a
    lease loss each time and fails at the ``max_attempts``-th; the loss is an attempt too. Network errors
    do not count here (``lease_losses``, not ``attempts``): a row retried through a long outage is not
    closer to being poison. The calling worker's own rows are left alone: it holds them, and renews
    their lease.
    """
    stale = cols.status == OutboxStatus.SENDING, cols.claimed_at < now - lease, cols.claimed_by != worker_id
    failed = await _execute(
        session,
        update(OUTBOX)
        .where(*stale, cols.lease_losses + 1 >= max_attempts)
        .values(
            status=OutboxStatus.FAILED,
            attempts=cols.attempts + 1,
            lease_losses=cols.lease_losses + 1,
            last_error="lease expired too often (worker crashed while sending)",
            claimed_at=None,
            claimed_by=None,
            updated_at=now,
        ),
    )
    released = await _execute(
        session,
        update(OUTBOX)
        .where(*stale)
        .values(
            status=OutboxStatus.PENDING,
            attempts=cols.attempts + 1,
            lease_losses=cols.lease_losses + 1,
            last_error=func.coalesce(cols.claimed_by, "") + ": lease expired",
            claimed_at=None,
            claimed_by=None,
            updated_at=now,
        ),
    )
    return _count(failed) + _count(released)


async def release_own(session: Session, *, worker_id: str, now: datetime) -> int:
    """At start: rows still claimed under this worker's id belong to a dead earlier run of it.

    Worker ids are unique among running workers, so nobody else can be sending them.
    """
    result = await _execute(
        session,
        update(OUTBOX)
        .where(cols.status == OutboxStatus.SENDING, cols.claimed_by == worker_id)
        .values(
            status=OutboxStatus.PENDING,
            last_error=f"{worker_id}: restarted while sending",
            claimed_at=None,
            claimed_by=None,
            updated_at=now,
        ),
    )
    return _count(result)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row; the worker writes many of these in one transaction."""

    id: int
    status: OutboxStatus
    attempts: int
    last_error: str | None = None
    retry_at: datetime | None = None  # for a retry: not before this moment
    sent_at: datetime | None = None
    telegram_message_id: int | None = None


async def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, worker_id: str, now: datetime
) -> None:
    """Write outcomes of rows this worker holds; a row whose lease went to another worker is left alone.

    A ``sent`` outcome is also written to a row that went back to ``pending`` meanwhile (this worker
    could not renew its lease through a database outage) and has not been claimed again: it did reach
    Telegram, and writing so keeps it from being sent twice. A sent row keeps ``claimed_by``: the chat
    stays with that worker for the handover time (:func:`claim_due`).

    One executemany for the whole batch (drivers do not agree on its row count, so none is returned).
    """
    if not outcomes:
        return
    stmt = (
        update(OUTBOX)
        .where(
            cols.id == bindparam("_id"),
            or_(
                and_(cols.status == OutboxStatus.SENDING, cols.claimed_by == worker_id),
                and_(
                    bindparam("_sent") == literal(True),
                    cols.status == OutboxStatus.PENDING,
                    cols.claimed_by.is_(None),
                ),
            ),
        )
        .values(
            status=bindparam("_status"),
            attempts=bindparam("_attempts"),
            last_error=bindparam("_last_error"),
            retry_at=bindparam("_retry_at", type_=UTCDateTime),
            sent_at=bindparam("_sent_at", type_=UTCDateTime),
            telegram_message_id=bindparam("_message_id", type_=BigInteger),
            claimed_at=None,
            claimed_by=bindparam("_claimed_by"),
            updated_at=now,
        )
    )
    params = [
        {
            "_id": o.id,
            "_sent": o.status == OutboxStatus.SENT,
            "_status": str(o.status),
            "_attempts": o.attempts,
            "_last_error": o.last_error,
            "_retry_at": o.retry_at,
            "_sent_at": o.sent_at,
            "_message_id": o.telegram_message_id,
            "_claimed_by": worker_id if o.status == OutboxStatus.SENT else None,
        }
        for o in outcomes
    ]
    await _execute(session, stmt, params)


async def fail_pending_for_people(
    session: Session, person_ids: Iterable[int], *, reason: str, now: datetime
) -> int:
    """Give up on every pending row of these people (they blocked the bot or were deactivated)."""
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    result = await _execute(
        session,
        update(OUTBOX)
        .where(cols.person_id.in_(ids), cols.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, last_error=reason, updated_at=now),
    )
    return _count(result)


async def mark_blocked(session: Session, person_ids: Iterable[int], *, reason: str, now: datetime) -> None:
    """People who blocked the bot or were deactivated: flag them and give up on their pending rows."""
    ids = sorted(set(person_ids))
    if not ids:
        return
    P = Person.__table__  # type: ignore[attr-defined]
    await _execute(session, update(P).where(P.c.id.in_(ids)).values(blocked=True, updated_at=now))
    await fail_pending_for_people(session, ids, reason=reason, now=now)


@dataclass(frozen=True)
class Recipient:
    chat_id: int | None
    language: str | None
    blocked: bool


async def recipients(session: Session, person_ids: Iterable[int]) -> dict[int, Recipient]:
    """Chat, language and reachability of these people now (read at send time, not at schedule time)."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    P = Person.__table__  # type: ignore[attr-defined]
    rows = await _execute(
        session, select(P.c.id, P.c.chat_id, P.c.language, P.c.blocked).where(P.c.id.in_(ids))
    )
    return {int(r["id"]): Recipient(r["chat_id"], r["language"], bool(r["blocked"])) for r in rows.mappings()}


# ----------------------------------------------------------------------------------------- operators


@dataclass(frozen=True)
class OutboxSummary:
    counts: dict[str, int]
    oldest_pending: OutboxMessage | None


async def summary(session: Session) -> OutboxSummary:
    rows = await _execute(session, select(cols.status, func.count().label("n")).group_by(cols.status))
    counts = {str(row["status"]): int(row["n"]) for row in rows.mappings()}
    oldest = (
        await _execute(
            session, select(OUTBOX).where(cols.status == OutboxStatus.PENDING).order_by(cols.due_at, cols.id).limit(1)
        )
    ).first()
    return OutboxSummary(counts, OutboxMessage.model_validate(dict(oldest._mapping)) if oldest else None)


async def requeue_failed(session: Session, *, now: datetime) -> int:
    """Give every failed row a fresh start: pending, due now, attempts reset."""
    result = await _execute(
        session,
        update(OUTBOX)
        .where(cols.status == OutboxStatus.FAILED)
        .values(
            status=OutboxStatus.PENDING,
            attempts=0,
            lease_losses=0,
            due_at=now,
            retry_at=None,
            claimed_at=None,
            claimed_by=None,
            updated_at=now,
        ),
    )
    return _count(result)


__all__ = [
    "GROUP_HANDOVER",
    "HANDOVER_SLACK",
    "PER_CHAT",
    "PRIVATE_HANDOVER",
    "OutboxMessage",
    "OutboxStatus",
    "OutboxSummary",
    "Outcome",
    "Priority",
    "Recipient",
    "claim_due",
    "claimed_ids",
    "expire_late",
    "fail_pending_for_people",
    "mark_blocked",
    "recipients",
    "record_outcomes",
    "release_expired_leases",
    "release_own",
    "renew_leases",
    "requeue_failed",
    "summary",
]
