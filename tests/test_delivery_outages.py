"""Outages: Telegram unreachable for a while, the database unreachable for a while.

What an operator would notice: every message arrives once and in its chat's order after the outage,
one log line says when the outage started and one when it ended (no line per message, no traceback
every second), and nothing a worker sent is lost or sent again because the database was away.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.delivery import create_worker
from bot.scheduler import create_scheduler
from dialogs import outbox
from storage.db import create_engine, create_sessionmaker
from storage.outbox import OutboxStatus
from tests.conftest import _pg_admin
from tests.delivery_env import (
    TOKEN,
    Env,
    counts,
    delivery_env,
    drain,
    out_of_order_chats,
    people,
    pg_delivery_env,
    rows,
    schedule_rounds,
    schedule_texts,
)


@pytest.fixture
async def env(migrated_url: str) -> AsyncIterator[Env]:
    async with delivery_env(migrated_url) as environment:
        yield environment


@pytest.fixture
async def pg_env(postgres_url: str) -> AsyncIterator[Env]:
    async with pg_delivery_env(postgres_url) as environment:
        yield environment


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def _until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 20) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ----------------------------------------------------------------------------------------- Telegram


async def test_telegram_outage_beyond_five_attempts_delivers_every_message_once_in_order(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """A 502 stretch long enough for six or more attempts of some rows (the old give-up point was five),
    then recovery: everything arrives once, in order, and the log says exactly: it started, it ended."""
    caplog.set_level(logging.DEBUG, logger="bot.delivery")
    recipients = await people(env, 3)
    await schedule_rounds(env, recipients, 2)
    env.emu.faults.server_errors(30, status=502)  # 6 rows: at least one fails 5 times, so attempt 6+ is needed
    worker = env.worker(backoff_base=0.01, backoff_cap=0.05, flush_interval=0.02)
    await drain(env, worker, timeout=30)

    assert env.emu.stats.server_errors == 30
    assert sorted(env.emu.stats.per_chat_sends.values()) == [2, 2, 2]
    assert out_of_order_chats(env) == []
    final = await rows(env)
    assert {r.status for r in final} == {OutboxStatus.SENT}
    assert sum(r.attempts for r in final) == 6 + 30
    assert max(r.attempts for r in final) > 5
    start, end = _warnings(caplog)  # exactly two lines at WARNING or above
    assert "Telegram cannot be reached (TelegramServerError: Bad Gateway)" in start
    assert "Telegram answers again after" in end and "30 sends failed meanwhile" in end
    for record in caplog.records:  # neither chat ids nor texts (the texts start with the chat id)
        assert not any(str(p.telegram_user_id) in record.getMessage() for p in recipients)


async def test_retries_end_at_the_expiry_or_after_the_retry_horizon(env: Env) -> None:
    """With the clock 25 h after a news item was due, its horizon (24 h) has passed: failed at the first
    network error, not retried. A reminder whose expiry comes before the next try expires."""
    anna, ben = await people(env, 2)
    due = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    now = due + timedelta(hours=25)
    async with env.sessions() as session:
        await outbox.schedule(session, person=anna, text="News", key="news", due_at=due)
        await outbox.schedule(
            session,
            person=ben,
            text="Your slot starts in a minute",
            key="reminder",
            due_at=now - timedelta(minutes=1),
            expires_at=now + timedelta(seconds=1),  # the first retry comes 1-2 s later: too late
        )
        await session.commit()
    env.emu.faults.server_errors(2, status=503)
    await drain(env, env.worker(now=lambda: now), timeout=10)
    by_key = {r.idempotency_key: r for r in await rows(env)}
    news, reminder = by_key["news"], by_key["reminder"]
    assert (news.status, news.attempts) == (OutboxStatus.FAILED, 1)
    assert (news.last_error or "").startswith("gave up after 1 attempts in 24 h: TelegramServerError")
    assert (reminder.status, reminder.attempts) == (OutboxStatus.EXPIRED, 1)
    assert (reminder.last_error or "").startswith("expired while retrying: TelegramServerError")
    assert env.emu.sent_messages == []

    settings = Settings(bot_token=TOKEN, delivery_retry_horizon_hours=2, _env_file=None)  # type: ignore[call-arg]
    worker = create_worker(settings, sessionmaker=env.sessions, bot=env.bot, i18n=env.i18n)
    assert worker.config.retry_horizon == timedelta(hours=2)


# ----------------------------------------------------------------------------------------- database


def _database(url: str) -> str:
    name = make_url(url).database
    assert name is not None and name.startswith("pc_test_")  # never a database the tests did not make
    return name


async def _cut(url: str) -> None:
    """The database refuses new connections and drops the ones it has: as good as unreachable."""
    name = _database(url)
    await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await _pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


async def _restore(url: str) -> None:
    await _pg_admin(f'ALTER DATABASE "{_database(url)}" ALLOW_CONNECTIONS true')


async def test_database_outage_backs_off_logs_once_and_keeps_every_outcome(
    pg_env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """The database goes while sends are in flight and rows wait in the worker's queue.

    The worker tries the database again after growing pauses (not every second, not with a traceback),
    sends nothing while it cannot record what it sends, writes the outcomes of the sends that were in
    flight once the database is back, and then sends the rest: every message once.
    """
    env = pg_env
    caplog.set_level(logging.DEBUG, logger="bot.delivery")
    recipients = await people(env, 16)
    await schedule_texts(env, recipients)
    env.emu.faults.latency(0.3)  # so that sends are in flight when the database goes
    worker = env.worker(8, db_backoff_base=0.1, db_backoff_cap=0.8)
    scheduler = create_scheduler(worker=worker)
    await worker.start()
    scheduler.start()
    try:
        await _until(lambda: env.emu.stats.sends_ok >= 3)
        await _cut(env.url)
        try:
            tries = lambda: [  # noqa: E731
                r.created for r in caplog.records if r.getMessage().startswith("delivery: database try")
            ]
            # From the second try on (a send started before the first may still be on its way) ...
            await _until(lambda: len(tries()) >= 2)
            requests_in_outage = env.emu.stats.requests
            await _until(lambda: len(tries()) >= 5)
            # ... nothing is sent that could not be recorded
            assert env.emu.stats.requests == requests_in_outage
            assert env.emu.stats.sends_ok < 16
        finally:
            await _restore(env.url)

        async def all_sent() -> bool:
            return await counts(env) == {"sent": 16} and worker.idle

        await _until(all_sent)
    finally:
        scheduler.shutdown(wait=False)
        await worker.stop()

    assert sorted(env.emu.stats.per_chat_sends.values()) == [1] * 16
    accepted = {record.chat_id: record.message_id for record in env.emu.sent_messages}
    for row in await rows(env):  # the outcomes held through the outage were written, not lost
        person = next(p for p in recipients if p.id == row.person_id)
        assert row.telegram_message_id == accepted[person.telegram_user_id or 0]
    times = tries()[:5]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[2] > gaps[0] and gaps[3] > gaps[1], gaps  # the pauses grow: it backs off
    start, end = _warnings(caplog)  # exactly two lines at WARNING or above, no ERROR with a traceback
    assert "database cannot be reached (" in start
    assert "the database is back after" in end and "tries failed" in end


async def test_database_outage_longer_than_the_lease_sends_nothing_twice(pg_env: Env) -> None:
    """Two workers lose the database for longer than their lease while sends are in flight.

    Afterwards every lease has lapsed, and whichever worker is back first could take over the other's
    rows, among them rows sent but not yet recorded. It waits a lease first: the other comes back,
    renews and writes what it sent, and no message goes out twice (nor is any lease counted as lost).
    """
    env = pg_env
    recipients = await people(env, 24)
    await schedule_texts(env, recipients)
    env.emu.faults.latency(0.3)
    lease = timedelta(seconds=3)
    engine = create_engine(env.url)  # the second worker's own pool, as on another machine
    crew = [
        env.worker(8, worker_id="a", lease=lease, db_backoff_base=0.1, db_backoff_cap=0.8),
        env.worker(
            8, worker_id="b", lease=lease, db_backoff_base=0.1, db_backoff_cap=0.8, sessions=create_sessionmaker(engine)
        ),
    ]
    schedulers = [create_scheduler(worker=w) for w in crew]
    try:
        for worker, scheduler in zip(crew, schedulers, strict=True):
            await worker.start()
            scheduler.start()
        await _until(lambda: env.emu.stats.sends_ok >= 4)
        await _cut(env.url)
        try:
            await asyncio.sleep(lease.total_seconds() * 1.3)  # the outage: longer than the lease
        finally:
            await _restore(env.url)

        async def all_sent() -> bool:
            return await counts(env) == {"sent": 24} and all(w.idle for w in crew)

        await _until(all_sent, timeout=30)
    finally:
        for worker, scheduler in zip(crew, schedulers, strict=True):
            scheduler.shutdown(wait=False)
            await worker.stop()
        await engine.dispose()
    assert sorted(env.emu.stats.per_chat_sends.values()) == [1] * 24
    assert [r.lease_losses for r in await rows(env)] == [0] * 24
    assert all(w.stats.sent for w in crew)
