"""The outbox service and its storage queries, on SQLite and PostgreSQL, without Telegram."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs import outbox
from dialogs.outbox import Button, Priority, key_prefix, make_key
from storage import outbox as store
from storage.db import create_engine, create_sessionmaker
from storage.models import Person
from storage.outbox import OutboxStatus

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def add_person(session: AsyncSession, user_id: int, language: str = "de") -> Person:
    person = Person(telegram_user_id=user_id, chat_id=user_id, language=language, roles=[])
    session.add(person)
    await session.commit()
    return person


async def test_same_key_twice_gives_one_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        key = make_key("booking", 17, "reminder", "24h")
        first = await outbox.schedule(
            session,
            person=anna,
            template="Reminder: {slot}",
            args={"slot": "Mo 10:00"},
            due_at=at(0),
            key=key,
        )
        second = await outbox.schedule(session, person=anna, text="other", due_at=at(5), key=key)
        await session.commit()
        assert first.id == second.id
        assert second.template == "Reminder: {slot}" and second.due_at == at(0)
    async with sessions() as session:
        again = await outbox.schedule(session, person=anna, text="x", key=key)  # a later transaction
        await session.commit()
        assert again.id == first.id


async def test_concurrent_schedules_of_one_key_make_one_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)

    async def one() -> int | None:
        async with sessions() as session:
            row = await outbox.schedule(session, person=anna.id, text="hi", key="race")
            await session.commit()
            return row.id

    ids = await asyncio.gather(*(one() for _ in range(5)))
    assert len(set(ids)) == 1


async def test_buttons_priority_and_expiry_are_stored(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        row = await outbox.schedule(
            session,
            person=anna,
            template="Come?",
            buttons=[[Button("Yes", callback_data="rsvp:1:yes"), Button("Map", url="https://example.org")]],
            due_at=at(0),
            expires_at=at(60),
            max_delay=timedelta(minutes=30),
            priority=Priority.REMINDER,
            key="k",
        )
        await session.commit()
    assert row.buttons == [
        [{"text": "Yes", "callback_data": "rsvp:1:yes"}, {"text": "Map", "url": "https://example.org"}]
    ]
    assert row.expires_at == at(30)  # the earlier of expires_at and due_at + max_delay
    assert row.priority == Priority.REMINDER


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Button("x")
    with pytest.raises(ValueError, match="64 bytes"):
        Button("x", callback_data="y" * 65)
    assert key_prefix("booking", 17) == "booking:17:"


async def test_schedule_needs_payload_and_recipient(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="template and text"):
            await outbox.schedule(session, chat_id=1)
        with pytest.raises(ValueError, match="person or a chat_id"):
            await outbox.schedule(session, text="hi")


async def test_cancel_by_prefix_leaves_other_bookings_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        for booking in (17, 170):
            for when in ("24h", "2h"):
                await outbox.schedule(
                    session, person=anna, text="r", key=make_key("booking", booking, "reminder", when)
                )
        await session.commit()
        assert await outbox.cancel(session, prefix=key_prefix("booking", 17)) == 2
        await session.commit()
        statuses = {
            key: (await outbox.get(session, key)).status  # type: ignore[union-attr]
            for key in ("booking:17:reminder:24h", "booking:17:reminder:2h", "booking:170:reminder:2h")
        }
    assert statuses == {
        "booking:17:reminder:24h": OutboxStatus.CANCELLED,
        "booking:17:reminder:2h": OutboxStatus.CANCELLED,
        "booking:170:reminder:2h": OutboxStatus.PENDING,
    }


async def test_cancel_prefix_with_like_wildcards_is_literal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await outbox.schedule(session, chat_id=-5, text="a", key="camp_1:x")
        await outbox.schedule(session, chat_id=-5, text="b", key="campX1:x")
        await session.commit()
        assert await outbox.cancel(session, prefix="camp_1:") == 1


async def test_cancel_by_person_and_key(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        ben = await add_person(session, 2)
        await outbox.schedule(session, person=anna, text="a1", key="a1")
        await outbox.schedule(session, person=anna, text="a2", key="a2")
        await outbox.schedule(session, person=ben, text="b1", key="b1")
        await session.commit()
        assert await outbox.cancel(session, key="b1") == 1
        assert await outbox.cancel(session, person_id=anna.id) == 2
        assert await outbox.cancel(session, key="b1") == 0  # already cancelled
        with pytest.raises(ValueError):
            await outbox.cancel(session)


async def test_reschedule_moves_only_pending_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        await outbox.schedule(session, person=anna, text="r", key="r", due_at=at(0))
        await session.commit()
        moved = await outbox.reschedule(session, "r", due_at=at(60), expires_at=at(90))
        await session.commit()
        assert moved is not None and moved.due_at == at(60) and moved.expires_at == at(90)
        await outbox.cancel(session, key="r")
        await session.commit()
        assert await outbox.reschedule(session, "r", due_at=at(120)) is None
        assert await outbox.reschedule(session, "missing", due_at=at(120)) is None


async def test_claim_takes_due_rows_by_priority_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        await outbox.schedule(
            session, person=anna, text="bulk", key="bulk", due_at=at(0), priority=Priority.BULK
        )
        await outbox.schedule(
            session, person=anna, text="urgent", key="urg", due_at=at(1), priority=Priority.URGENT
        )
        await outbox.schedule(session, person=anna, text="later", key="later", due_at=at(30))
        await session.commit()
    async with sessions() as session:
        claimed = await store.claim_due(session, worker_id="w1", now=at(2), limit=10)
        await session.commit()
        assert [r.idempotency_key for r in claimed] == ["urg", "bulk"]
        assert all(r.status == OutboxStatus.SENDING and r.claimed_by == "w1" for r in claimed)
        assert await store.claim_due(session, worker_id="w2", now=at(2), limit=10) == []


async def test_expiry_and_lease_recovery(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        await outbox.schedule(session, person=anna, text="r", key="late", due_at=at(0), expires_at=at(10))
        await outbox.schedule(session, person=anna, text="n", key="news", due_at=at(0))
        await session.commit()
        assert await store.expire_late(session, now=at(20)) == 1
        claimed = await store.claim_due(session, worker_id="dead", now=at(20), limit=10)
        await session.commit()
        assert [r.idempotency_key for r in claimed] == ["news"]  # sent late: it never expires
        lease = timedelta(seconds=60)
        assert (
            await store.release_expired_leases(
                session, worker_id="w", now=at(20.5), lease=lease, max_attempts=3
            )
            == 0
        )
        assert (
            await store.release_expired_leases(
                session, worker_id="w", now=at(22), lease=lease, max_attempts=3
            )
            == 1
        )
        await session.commit()
        row = await outbox.get(session, "news")
        assert row is not None
        await session.refresh(row)
        assert row.status == OutboxStatus.PENDING and row.attempts == 1 and row.claimed_by is None
        assert "lease expired" in (row.last_error or "")


async def test_outcomes_summary_and_requeue(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        for i in range(3):
            await outbox.schedule(session, person=anna, text=str(i), key=f"m{i}", due_at=at(i))
        await session.commit()
        rows = await store.claim_due(session, worker_id="w", now=at(1), limit=10)
        assert len(rows) == 2
        outcomes = [
            store.Outcome(rows[0].id or 0, OutboxStatus.SENT, 1, sent_at=at(1), telegram_message_id=77),
            store.Outcome(rows[1].id or 0, OutboxStatus.FAILED, 1, last_error="400 chat not found"),
        ]
        await store.record_outcomes(session, outcomes, worker_id="other", now=at(1))
        assert (await store.summary(session)).counts == {"sending": 2, "pending": 1}  # not the other's rows
        await store.record_outcomes(session, outcomes, worker_id="w", now=at(1))
        await session.commit()
        view = await store.summary(session)
        assert view.counts == {"sent": 1, "failed": 1, "pending": 1}
        assert view.oldest_pending is not None and view.oldest_pending.idempotency_key == "m2"
        assert await store.requeue_failed(session, now=at(5)) == 1
        await session.commit()
        assert (await store.summary(session)).counts == {"sent": 1, "pending": 2}


async def test_schedule_many_skips_keys_already_there(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        anna = await add_person(session, 1)
        await outbox.schedule(session, person=anna, text="first", key="bc:1:1")
        drafts = [outbox.Draft(key=f"bc:1:{i}", person_id=anna.id, text=f"n{i}") for i in range(1, 1500)]
        await outbox.schedule_many(session, drafts, now=lambda: at(0))
        await outbox.schedule_many(session, drafts[:10], now=lambda: at(0))
        await session.commit()
        assert (await store.summary(session)).counts == {"pending": 1499}
        kept = await outbox.get(session, "bc:1:1")
        assert kept is not None and kept.text == "first"
        with pytest.raises(ValueError, match="needs one of"):
            await outbox.schedule_many(session, [outbox.Draft(key="bad", person_id=anna.id)])


def test_outbox_command_shows_counts_and_requeues_failed(
    sqlite_url: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert main(["migrate"]) == 0

    async def fill() -> None:
        engine = create_engine(sqlite_url)
        async with create_sessionmaker(engine)() as session:
            await outbox.schedule(session, chat_id=-1, text="a", key="a", due_at=at(0))
            await outbox.schedule(session, chat_id=-1, text="b", key="b", due_at=at(1))
            rows = await store.claim_due(session, worker_id="w", now=at(0), limit=1)
            await store.record_outcomes(
                session,
                [store.Outcome(rows[0].id or 0, OutboxStatus.FAILED, 1, "x")],
                worker_id="w",
                now=at(0),
            )
            await session.commit()
        await engine.dispose()

    asyncio.run(fill())
    capsys.readouterr()
    assert main(["outbox"]) == 0
    out = capsys.readouterr().out
    assert "pending  1" in out and "failed  1" in out and "oldest pending: #2 'b'" in out
    assert main(["outbox", "retry-failed"]) == 0
    out = capsys.readouterr().out
    assert "1 failed rows are pending again" in out and "pending  2" in out


def next_fires(trigger: BaseTrigger, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times of ``trigger`` after ``after``, in UTC."""
    fires: list[datetime] = []
    previous: datetime | None = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        fires.append(fire.astimezone(UTC))
        previous = now = fire
    return fires


def test_retention_job_is_registered_at_0330_berlin_time_across_dst_changes() -> None:
    from apscheduler.triggers.cron import CronTrigger

    from bot.scheduler import add_cron_job, create_scheduler
    from dialogs.privacy.jobs import RETENTION_CRON, retention_job

    sessionmaker = object()  # the job's dependencies travel as keyword arguments, untouched
    scheduler = create_scheduler("Europe/Berlin")
    add_cron_job(
        scheduler,
        retention_job,
        job_id="retention",
        cron=RETENTION_CRON,
        sessionmaker=sessionmaker,
        retention_months=12,
    )
    job = scheduler.get_job("retention")
    assert job is not None and job.func is retention_job
    assert job.kwargs == {"sessionmaker": sessionmaker, "retention_months": 12}
    assert isinstance(job.trigger, CronTrigger) and job.trigger.timezone == ZoneInfo("Europe/Berlin")
    # Summer time begins on Sunday 29 March 2026 (02:00 CET -> 03:00 CEST), ends on Sunday 25 October
    # (03:00 CEST -> 02:00 CET): 03:30 in Berlin is 02:30 UTC in winter and 01:30 UTC in summer.
    assert next_fires(job.trigger, datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 3) == [
        datetime(2026, 3, 28, 2, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 1, 30, tzinfo=UTC),
    ]
    assert next_fires(job.trigger, datetime(2026, 10, 23, 12, 0, tzinfo=UTC), 3) == [
        datetime(2026, 10, 24, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 2, 30, tzinfo=UTC),
    ]

    # The cron is read in the scheduler's zone, whatever the machine's own zone is.
    elsewhere = create_scheduler("America/New_York")
    add_cron_job(
        elsewhere,
        retention_job,
        job_id="retention",
        cron=RETENTION_CRON,
        sessionmaker=sessionmaker,
        retention_months=12,
    )
    job = elsewhere.get_job("retention")
    assert job is not None
    assert next_fires(job.trigger, datetime(2026, 12, 1, 12, 0, tzinfo=UTC), 1) == [
        datetime(2026, 12, 2, 8, 30, tzinfo=UTC)  # 03:30 EST
    ]
