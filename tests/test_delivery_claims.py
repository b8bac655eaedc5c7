"""The claim hands out chats, on SQLite and PostgreSQL, storage functions only, with explicit times.

Pinned here: a chat another worker is sending to, or sent to within the handover time, stays with that
worker; a row waiting for a retry holds back the later rows of its chat and nothing else; a worker holds
at most ``PER_CHAT`` rows of a chat; a ``sent`` outcome still lands on a row that went back to
``pending`` meanwhile, but never on one another worker has claimed since.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox as store
from storage.models import Person
from storage.outbox import OutboxMessage, OutboxStatus, Outcome, Priority

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def person(sessions: async_sessionmaker[AsyncSession], user_id: int) -> int:
    async with sessions() as session:
        someone = Person(telegram_user_id=user_id, chat_id=user_id, language="de", roles=[])
        session.add(someone)
        await session.commit()
        assert someone.id is not None
        return someone.id


async def add(sessions: async_sessionmaker[AsyncSession], *rows: dict[str, object]) -> None:
    async with sessions() as session:
        for values in rows:
            session.add(OutboxMessage.model_validate({"text": values["idempotency_key"], "due_at": T0, **values}))
            await session.flush()
        await session.commit()


async def claim(sessions: async_sessionmaker[AsyncSession], worker_id: str, now: datetime, limit: int = 10) -> list[str]:
    async with sessions() as session:
        claimed = await store.claim_due(session, worker_id=worker_id, now=now, limit=limit)
        await session.commit()
    return [r.idempotency_key for r in claimed]


async def record(
    sessions: async_sessionmaker[AsyncSession], worker_id: str, now: datetime, **outcomes: OutboxStatus
) -> None:
    """Write outcomes by key: ``sent`` with ``sent_at=now``, ``pending`` as a plain hand-back."""
    async with sessions() as session:
        by_key = {r.idempotency_key: r for r in (await session.exec(select(OutboxMessage))).all()}
        await store.record_outcomes(
            session,
            [
                Outcome(by_key[key].id or 0, status, 1, sent_at=now if status == OutboxStatus.SENT else None)
                for key, status in outcomes.items()
            ],
            worker_id=worker_id,
            now=now,
        )
        await session.commit()


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessions() as session:
        return {r.idempotency_key: r.status for r in (await session.exec(select(OutboxMessage))).all()}


async def test_a_chat_being_sent_to_stays_with_its_worker(sessions: async_sessionmaker[AsyncSession]) -> None:
    anna, ben = await person(sessions, 1), await person(sessions, 2)
    await add(
        sessions,
        {"idempotency_key": "anna-1", "person_id": anna},
        {"idempotency_key": "group-1", "chat_id": -5},
        {"idempotency_key": "anna-2", "person_id": anna},
        {"idempotency_key": "ben-1", "person_id": ben},
        {"idempotency_key": "group-2", "chat_id": -5},
    )
    assert await claim(sessions, "a", at(0), limit=2) == ["anna-1", "group-1"]
    # "b" gets neither anna's nor the group's next row while "a" sends to them
    assert await claim(sessions, "b", at(0)) == ["ben-1"]
    assert await claim(sessions, "a", at(0)) == ["anna-2", "group-2"]  # "a" holds those chats: it may


async def test_another_worker_takes_a_chat_only_after_the_handover_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    anna = await person(sessions, 1)
    await add(
        sessions,
        {"idempotency_key": "anna-1", "person_id": anna},
        {"idempotency_key": "anna-2", "person_id": anna, "due_at": at(1)},
        {"idempotency_key": "group-1", "chat_id": -5},
        {"idempotency_key": "group-2", "chat_id": -5, "due_at": at(1)},
    )
    assert await claim(sessions, "a", at(0)) == ["anna-1", "group-1"]
    await record(sessions, "a", at(1), **{"anna-1": OutboxStatus.SENT, "group-1": OutboxStatus.SENT})
    private, group = store.PRIVATE_HANDOVER.total_seconds(), store.GROUP_HANDOVER.total_seconds()
    assert private > 1.02 and group > 61.2  # Telegram's 1/s and 20/min (with our 2 %), and clock slack
    assert await claim(sessions, "b", at(2)) == []  # due, but "a" sent to both chats a second ago
    assert await claim(sessions, "b", at(1 + private - 0.001)) == []
    assert await claim(sessions, "b", at(1 + private)) == ["anna-2"]  # from the handover time on
    assert await claim(sessions, "b", at(1 + group - 0.001)) == []
    assert await claim(sessions, "b", at(1 + group)) == ["group-2"]


async def test_a_row_waiting_for_its_retry_holds_back_only_later_rows_of_its_chat(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    anna, ben = await person(sessions, 1), await person(sessions, 2)
    await add(
        sessions,
        # Failed with a 5xx at T0 + 1 s, next try at T0 + 30 s; due at T0, so first in anna's order.
        {"idempotency_key": "anna-retry", "person_id": anna, "attempts": 3, "retry_at": at(30)},
        {"idempotency_key": "anna-later", "person_id": anna, "due_at": at(1)},
        {"idempotency_key": "anna-urgent", "person_id": anna, "due_at": at(2), "priority": Priority.URGENT},
        {"idempotency_key": "ben-later", "person_id": ben, "due_at": at(1)},
    )
    # Urgent comes before the retried row in anna's order; ben's chat waits for nothing.
    assert await claim(sessions, "w", at(10)) == ["anna-urgent", "ben-later"]
    await record(sessions, "w", at(11), **{"anna-urgent": OutboxStatus.SENT, "ben-later": OutboxStatus.SENT})
    assert await claim(sessions, "w", at(29)) == []
    assert await claim(sessions, "w", at(30)) == ["anna-retry", "anna-later"]  # in their order


async def test_a_worker_holds_at_most_two_rows_of_a_chat(sessions: async_sessionmaker[AsyncSession]) -> None:
    anna = await person(sessions, 1)
    await add(sessions, *({"idempotency_key": f"anna-{i}", "person_id": anna} for i in range(5)))
    assert store.PER_CHAT == 2
    assert await claim(sessions, "w", at(0)) == ["anna-0", "anna-1"]
    assert await claim(sessions, "w", at(0)) == []
    await record(sessions, "w", at(1), **{"anna-0": OutboxStatus.SENT})
    assert await claim(sessions, "w", at(1)) == ["anna-2"]


async def test_a_sent_outcome_lands_on_a_row_released_meanwhile_but_not_on_a_claimed_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A worker cut off from the database past its lease: its rows went back to pending. What it sent is
    recorded as sent if nobody has claimed the row since; otherwise the new holder's claim stands."""
    await add(
        sessions,
        {"idempotency_key": "released", "chat_id": -1},
        {"idempotency_key": "taken", "chat_id": -2, "priority": Priority.URGENT},
    )
    assert await claim(sessions, "cut-off", at(0)) == ["taken", "released"]
    async with sessions() as session:
        await store.release_expired_leases(session, worker_id="other", now=at(61), lease=LEASE, max_attempts=5)
        await session.commit()
    assert await claim(sessions, "other", at(61), limit=1) == ["taken"]
    await record(sessions, "cut-off", at(62), released=OutboxStatus.SENT, taken=OutboxStatus.SENT)
    async with sessions() as session:
        now = {r.idempotency_key: r for r in (await session.exec(select(OutboxMessage))).all()}
    assert (now["released"].status, now["released"].claimed_by) == (OutboxStatus.SENT, "cut-off")
    assert (now["taken"].status, now["taken"].claimed_by) == (OutboxStatus.SENDING, "other")
    # A pending outcome (a retry, a hand-back) never lands on a row released meanwhile: it is pending anyway.
    await record(sessions, "cut-off", at(63), taken=OutboxStatus.PENDING)
    assert (await statuses(sessions))["taken"] == OutboxStatus.SENDING
