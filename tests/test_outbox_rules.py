"""The outbox's worker-side rules at their edges, on SQLite and PostgreSQL, storage functions only.

Each test pins one rule so that a one-line change to the query in ``storage/outbox.py`` fails it: who may
release a row, the poison-message threshold, the claim's ORDER BY (seen through a claim smaller than the
set of due rows, which the re-sort in Python cannot hide), what ``requeue_failed`` resets, and the exact
instant a lease runs out. Times are explicit ``now=`` arguments: nothing sleeps.

Every row goes to a chat of its own unless a test says otherwise: a chat's rows stay with one worker
(its order and rate limit; pinned in ``tests/test_delivery_claims.py``), and these rules are about rows.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from storage import outbox as store
from storage.outbox import OutboxMessage, OutboxStatus, Priority

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
US = timedelta(microseconds=1)
# The threshold production runs with (``proconnect worker`` passes it to release_expired_leases).
MAX_ATTEMPTS: int = Settings.model_fields["delivery_max_attempts"].default


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


_chats = itertools.count(1)


def message(key: str, **fields: object) -> OutboxMessage:
    """A pending row to a group chat of its own, due at ``T0`` unless told otherwise."""
    values: dict[str, object] = {"idempotency_key": key, "chat_id": -next(_chats), "text": key, "due_at": T0}
    values.update(fields)
    return OutboxMessage.model_validate(values)


async def add(sessions: async_sessionmaker[AsyncSession], *rows: OutboxMessage) -> None:
    """Insert in the order given (one flush each, so the heap order is the insertion order)."""
    async with sessions() as session:
        for row in rows:
            session.add(row)
            await session.flush()
        await session.commit()


async def claim(
    sessions: async_sessionmaker[AsyncSession], worker_id: str, now: datetime, limit: int
) -> list[str]:
    async with sessions() as session:
        rows = await store.claim_due(session, worker_id=worker_id, now=now, limit=limit)
        await session.commit()
    return [r.idempotency_key for r in rows]


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, OutboxMessage]:
    """Every row as the database has it now (a fresh session: nothing cached)."""
    async with sessions() as session:
        return {r.idempotency_key: r for r in (await session.exec(select(OutboxMessage))).all()}


# --------------------------------------------------------------------------- 1. who may release a row


async def test_release_own_releases_only_the_callers_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add(sessions, message("a1", attempts=2), message("a2"), message("b1"), message("b2"))
    assert await claim(sessions, "a", at(1), 2) == ["a1", "a2"]
    assert await claim(sessions, "b", at(2), 2) == ["b1", "b2"]

    async with sessions() as session:  # "b" restarts: its earlier run's rows go back, "a"'s stay with "a"
        assert await store.release_own(session, worker_id="b", now=at(3)) == 2
        await session.commit()
    rows = await snapshot(sessions)
    for key in ("a1", "a2"):
        held = rows[key]
        assert (held.status, held.claimed_by, held.claimed_at) == (OutboxStatus.SENDING, "a", at(1))
        assert held.last_error is None and held.updated_at == at(1)
    for key in ("b1", "b2"):
        back = rows[key]
        assert (back.status, back.claimed_by, back.claimed_at) == (OutboxStatus.PENDING, None, None)
        assert back.last_error == "b: restarted while sending" and back.updated_at == at(3)
    assert rows["a1"].attempts == 2

    async with sessions() as session:  # a worker with no rows releases nothing
        assert await store.release_own(session, worker_id="c", now=at(4)) == 0
        await session.commit()
    assert await claim(sessions, "c", at(4), 10) == ["b1", "b2"]  # "a"'s rows are not up for grabs


async def test_expired_lease_release_leaves_the_callers_own_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions, message("mine"), message("dead"))
    assert await claim(sessions, "w", at(0), 1) == ["mine"]
    assert await claim(sessions, "x", at(0), 1) == ["dead"]
    async with sessions() as session:  # both leases ran out long ago, but "w" is alive and holds "mine"
        released = await store.release_expired_leases(
            session, worker_id="w", now=at(30), lease=LEASE, max_attempts=MAX_ATTEMPTS
        )
        await session.commit()
    assert released == 1
    rows = await snapshot(sessions)
    assert (rows["mine"].status, rows["mine"].claimed_by) == (OutboxStatus.SENDING, "w")
    assert (rows["dead"].status, rows["dead"].claimed_by) == (OutboxStatus.PENDING, None)


async def test_renew_leases_renews_only_the_callers_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add(sessions, message("mine"), message("theirs"))
    assert await claim(sessions, "w", at(0), 1) == ["mine"]
    assert await claim(sessions, "x", at(0), 1) == ["theirs"]
    async with sessions() as session:
        assert await store.renew_leases(session, worker_id="w", now=at(5)) == 1
        await session.commit()
    rows = await snapshot(sessions)
    assert rows["mine"].claimed_at == at(5) and rows["theirs"].claimed_at == at(0)


# ------------------------------------------------------------------- 2. the poison-message threshold


async def test_poison_row_fails_exactly_at_the_threshold(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Lost leases count, not attempts: a row retried through a Telegram outage is no closer to poison."""
    assert MAX_ATTEMPTS >= 2
    # Rows that have outlived a crashed worker N-2, N-1 and N times before this crash.
    below, at_threshold, beyond = MAX_ATTEMPTS - 2, MAX_ATTEMPTS - 1, MAX_ATTEMPTS
    await add(
        sessions,
        message("below", lease_losses=below, attempts=below),
        message("threshold", lease_losses=at_threshold, attempts=at_threshold),
        message("beyond", lease_losses=beyond, attempts=beyond),
        # Many attempts (network errors, 5xx) and no lost lease: one crash does not fail it.
        message("outage", lease_losses=0, attempts=3 * MAX_ATTEMPTS),
    )
    claimed = await claim(sessions, "crashed", at(0), 10)
    assert sorted(claimed) == ["below", "beyond", "outage", "threshold"]
    async with sessions() as session:
        released = await store.release_expired_leases(
            session, worker_id="w", now=at(5), lease=LEASE, max_attempts=MAX_ATTEMPTS
        )
        await session.commit()
    assert released == 4
    rows = await snapshot(sessions)
    # One lease short of the threshold: pending again, with one lost lease (and attempt) more.
    assert (rows["below"].status, rows["below"].lease_losses) == (OutboxStatus.PENDING, MAX_ATTEMPTS - 1)
    assert rows["below"].attempts == MAX_ATTEMPTS - 1
    assert rows["below"].last_error == "crashed: lease expired"
    assert (rows["outage"].status, rows["outage"].lease_losses) == (OutboxStatus.PENDING, 1)
    assert rows["outage"].attempts == 3 * MAX_ATTEMPTS + 1
    # This expiry is lost lease number MAX_ATTEMPTS: failed now, not one expiry later.
    for key in ("threshold", "beyond"):
        assert rows[key].status == OutboxStatus.FAILED
        assert rows[key].last_error == "lease expired too often (worker crashed while sending)"
        assert rows[key].claimed_by is None and rows[key].claimed_at is None
    assert rows["threshold"].lease_losses == MAX_ATTEMPTS and rows["beyond"].lease_losses == MAX_ATTEMPTS + 1
    assert rows["threshold"].attempts == MAX_ATTEMPTS and rows["beyond"].attempts == MAX_ATTEMPTS + 1

    # The row that was one short crashes its next worker too: now it reaches the threshold and fails.
    assert sorted(await claim(sessions, "crashed-again", at(6), 10)) == ["below", "outage"]
    async with sessions() as session:
        released = await store.release_expired_leases(
            session, worker_id="w", now=at(10), lease=LEASE, max_attempts=MAX_ATTEMPTS
        )
        await session.commit()
    assert released == 2
    rows = await snapshot(sessions)
    assert (rows["below"].status, rows["below"].lease_losses) == (OutboxStatus.FAILED, MAX_ATTEMPTS)
    assert (rows["outage"].status, rows["outage"].lease_losses) == (OutboxStatus.PENDING, 2)
    assert await claim(sessions, "w", at(10), 10) == ["outage"]


# ------------------------------------------------------------------------- 3. the claim's ORDER BY


async def test_claim_picks_rows_in_priority_due_id_order_in_the_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Claims of one row at a time: each must be the next row by (priority, due_at, id).

    Ids are given, and rows inserted out of id order, so that the id order, the insertion (heap) order
    and the due-time index order each differ from the documented order: a claim that follows any of
    them, or drops or reverses a sort key, takes a wrong row.
    """
    await add(
        sessions,
        message("normal-due3", id=1, priority=Priority.NORMAL, due_at=at(3)),
        message("bulk-due0", id=2, priority=Priority.BULK, due_at=at(0)),
        message("normal-due1-id5", id=5, priority=Priority.NORMAL, due_at=at(1)),
        message("normal-due1-id4", id=4, priority=Priority.NORMAL, due_at=at(1)),
        message("urgent-due5", id=6, priority=Priority.URGENT, due_at=at(5)),
        message("urgent-not-due", id=3, priority=Priority.URGENT, due_at=at(30)),
        message("urgent-expired", id=7, priority=Priority.URGENT, due_at=at(0), expires_at=at(5)),
    )
    now = at(10)
    assert await claim(sessions, "w", now, 2) == ["urgent-due5", "normal-due1-id4"]
    taken = [key for _ in range(3) for key in await claim(sessions, "w", now, 1)]
    assert taken == ["normal-due1-id5", "normal-due3", "bulk-due0"]
    assert await claim(sessions, "w", now, 1) == []  # neither the row not yet due nor the expired one


async def test_claim_due_and_expiry_boundaries(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = at(10)
    await add(
        sessions,
        message("due-now", due_at=now),
        message("due-later", due_at=now + US),
        message("expires-now", due_at=at(0), expires_at=now),
        message("expires-later", due_at=at(0), expires_at=now + US),
    )
    assert sorted(await claim(sessions, "w", now, 10)) == ["due-now", "expires-later"]
    async with sessions() as session:
        assert await store.expire_late(session, now=now) == 1
        await session.commit()
    assert (await snapshot(sessions))["expires-now"].status == OutboxStatus.EXPIRED


# --------------------------------------------------------------------------- 4. what requeue resets


async def test_requeue_failed_gives_failed_rows_a_fresh_start(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Documented: "pending, due now, attempts reset" — for failed rows and no others."""
    failed = {"status": OutboxStatus.FAILED, "last_error": "gave up after 5 attempts: 502"}
    await add(
        sessions,
        message("failed-a", attempts=MAX_ATTEMPTS, lease_losses=2, due_at=at(-60), retry_at=at(-50), **failed),
        message("failed-b", attempts=1, due_at=at(30), **failed),
        message("sent", status=OutboxStatus.SENT, attempts=1, sent_at=at(0)),
        message("cancelled", status=OutboxStatus.CANCELLED, attempts=0),
        message("expired", status=OutboxStatus.EXPIRED, attempts=2),
        message("pending", attempts=3, due_at=at(20)),
    )
    now = at(10)
    async with sessions() as session:
        assert await store.requeue_failed(session, now=now) == 2
        await session.commit()
    rows = await snapshot(sessions)
    for key in ("failed-a", "failed-b"):
        row = rows[key]
        assert (row.status, row.attempts, row.due_at) == (OutboxStatus.PENDING, 0, now)
        assert (row.lease_losses, row.retry_at) == (0, None)
        assert (row.claimed_by, row.claimed_at, row.updated_at) == (None, None, now)
        assert row.last_error == "gave up after 5 attempts: 502"  # kept: why it failed last time
    assert {k: (r.status, r.attempts) for k, r in rows.items() if not k.startswith("failed")} == {
        "sent": (OutboxStatus.SENT, 1),
        "cancelled": (OutboxStatus.CANCELLED, 0),
        "expired": (OutboxStatus.EXPIRED, 2),
        "pending": (OutboxStatus.PENDING, 3),
    }
    assert rows["pending"].due_at == at(20)
    # A fresh start: due now, claimable at once, with the whole budget of attempts again.
    assert sorted(await claim(sessions, "w", now, 10)) == ["failed-a", "failed-b"]


# ---------------------------------------------------------------------- 5. the instant a lease ends


async def test_lease_is_taken_over_only_after_it_has_run_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """``claimed_at < now - lease``: a lease running out exactly now still holds; a microsecond past, not."""
    now = at(10)
    await add(
        sessions,
        message("ran-out-1us-ago", priority=0),
        message("runs-out-now", priority=1),
        message("runs-out-in-1us", priority=2),
    )
    assert await claim(sessions, "dead-1", now - LEASE - US, 1) == ["ran-out-1us-ago"]
    assert await claim(sessions, "dead-2", now - LEASE, 1) == ["runs-out-now"]
    assert await claim(sessions, "dead-3", now - LEASE + US, 1) == ["runs-out-in-1us"]

    async with sessions() as session:
        released = await store.release_expired_leases(
            session, worker_id="w2", now=now, lease=LEASE, max_attempts=MAX_ATTEMPTS
        )
        await session.commit()
    assert released == 1
    assert await claim(sessions, "w2", now, 10) == ["ran-out-1us-ago"]  # the only one another worker gets
    rows = await snapshot(sessions)
    assert (rows["ran-out-1us-ago"].claimed_by, rows["ran-out-1us-ago"].attempts) == ("w2", 1)
    assert rows["runs-out-now"].claimed_by == "dead-2" and rows["runs-out-now"].claimed_at == now - LEASE
    assert rows["runs-out-in-1us"].claimed_by == "dead-3"
    assert rows["runs-out-now"].attempts == rows["runs-out-in-1us"].attempts == 0

    async with sessions() as session:  # one microsecond later the lease of "dead-2" has run out too
        released = await store.release_expired_leases(
            session, worker_id="w2", now=now + US, lease=LEASE, max_attempts=MAX_ATTEMPTS
        )
        await session.commit()
    assert released == 1
    assert await claim(sessions, "w2", now + US, 10) == ["runs-out-now"]
