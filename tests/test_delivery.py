"""The delivery worker against the Bot API emulator with its faults on, on SQLite and PostgreSQL.

Timing: the recipients check runs at Telegram's real 30/s for five seconds and at a raised 300/s for
2,000 recipients: the invariants are the same, and the raised rate exercises the limiter ten times
harder. Everything else uses small counts or a raised limit. Outages: test_delivery_outages.py; several
workers: test_delivery_workers.py; the claim's chat rules: test_delivery_claims.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.delivery import RateLimiter, SlidingWindow, run_worker
from dialogs import outbox
from dialogs.outbox import Button, Priority
from storage.models import Person
from storage.outbox import OutboxStatus
from tests.delivery_env import ROOT, TOKEN, Env, counts, delivery_env, drain, people, rows, schedule_texts


@pytest.fixture
async def env(migrated_url: str) -> AsyncIterator[Env]:
    async with delivery_env(migrated_url) as environment:
        yield environment


# ------------------------------------------------------------------------------------------ limiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_sliding_window_allows_limit_per_period() -> None:
    w = SlidingWindow(3, 1.0)
    for t in (0.0, 0.1, 0.2):
        assert w.wait(t) == 0
        w.add(t)
    assert w.wait(0.5) == pytest.approx(0.5)
    assert w.wait(1.0) == 0  # the event at 0.0 left the window


def test_limiter_keeps_chat_group_and_global_limits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, margin=0.0, clock=clock)
    limiter.record(1)
    assert limiter.chat_wait(1) == pytest.approx(1.0)
    assert limiter.chat_wait(2) == 0
    for _ in range(20):
        assert limiter.chat_wait(-100) == 0
        limiter.record(-100)
        clock.t += 0.11
    assert limiter.chat_wait(-100) > 57  # 20 per minute in a group
    clock.t += 60
    sent_at: list[float] = []
    while len(sent_at) < 90:  # three seconds' worth as fast as the limiter allows
        wait = limiter.global_wait()
        if wait > 0:
            clock.t += wait
            continue
        limiter.record(5000 + len(sent_at))
        sent_at.append(clock.t)
    for i in range(len(sent_at) - 30):
        assert sent_at[i + 30] - sent_at[i] >= 1.0 - 1e-9  # never 31 in a second
    assert sent_at[-1] - sent_at[0] < 3.0
    limiter.pause(5)
    assert limiter.global_wait() == pytest.approx(5)


# ------------------------------------------------------------------------------------------ sending


@pytest.mark.parametrize(
    ("rate", "count"),
    [
        # Telegram's 30/s for a bot, held for five seconds: the shape of the limit is what is tested, and
        # 2,000 at 30/s would spend a minute of the suite waiting. bench/delivery.py runs the long version.
        (30, 150),
        # A broadcast to 2,000 people at 300/s (the paid-broadcast tier's order): every one gets one message.
        (300, 2000),
    ],
)
async def test_recipients_each_get_one_message_within_limits(env: Env, rate: int, count: int) -> None:
    env.emu.faults.rate_limits(global_per_second=rate, per_chat_per_second=1, per_group_per_minute=20)
    t_setup = time.monotonic()
    recipients = await people(env, count)
    await schedule_texts(env, recipients, priority=Priority.BULK)
    worker = env.worker(rate)
    print(f"\nset-up of {count:,} recipients: {time.monotonic() - t_setup:.1f}s")
    started = time.monotonic()
    await drain(env, worker, timeout=count / rate * 1.5 + 20)
    elapsed = time.monotonic() - started
    assert env.emu.stats.rate_limited == 0 and worker.stats.rate_limited == 0
    assert sorted(env.emu.stats.per_chat_sends.values()) == [1] * count
    assert await counts(env) == {"sent": count}
    accepted = sorted(r.time for r in env.emu.sent_messages)
    achieved = (len(accepted) - 1) / (accepted[-1] - accepted[0])
    assert achieved <= rate * 1.02  # never faster than the limit (the emulator's windows would say 429)
    print(
        f"\n{count:,} messages at {rate}/s: {elapsed:.1f}s in all, {achieved:.1f}/s while sending = "
        f"{achieved / rate:.2f} of the limit"
    )


async def test_template_rendered_in_language_of_send_time_with_buttons(env: Env) -> None:
    (anna,) = await people(env, 1, language="en")
    async with env.sessions() as session:
        await outbox.schedule(
            session,
            person=anna,
            template="Change language",
            buttons=[[Button("Start", callback_data="s:1")]],
            key="t1",
        )
        await outbox.schedule(
            session,
            person=anna,
            template="Hello <b>{name}</b> {n}",
            args={"name": "A&B", "n": 3},  # plain text: sent as is, values isolated for RTL
            key="t2",
            due_at=datetime.now(UTC) + timedelta(seconds=0.5),
        )
        person = await session.get(Person, anna.id)
        assert person is not None
        person.language = "de"  # changed after scheduling: the message follows
        await session.commit()
    await drain(env, env.worker())
    messages = env.emu.user(anna.telegram_user_id or 0).messages
    assert [m.text for m in messages] == ["Sprache ändern", "Hello <b>\u2068A&B\u2069</b> \u20683\u2069"]
    assert messages[0].buttons == [[env.i18n.gettext("Start", locale="de")]]


async def test_one_chat_gets_at_most_one_message_a_second(env: Env) -> None:
    env.emu.faults.rate_limits(global_per_second=300, per_chat_per_second=1)
    (anna,) = await people(env, 1)
    async with env.sessions() as session:
        for i in range(4):
            await outbox.schedule(session, person=anna, text=f"n{i}", key=f"n{i}")
        await session.commit()
    await drain(env, env.worker())
    times = [r.time for r in env.emu.sent_messages]
    assert len(times) == 4 and env.emu.stats.rate_limited == 0
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0


async def test_429_burst_is_waited_out_and_nothing_lost(env: Env) -> None:
    recipients = await people(env, 40)
    await schedule_texts(env, recipients)
    env.emu.faults.flood(5, retry_after=1)
    worker = env.worker(100)
    started = time.monotonic()
    await drain(env, worker)
    assert env.emu.stats.rate_limited == 5
    assert worker.stats.rate_limited >= 1
    assert time.monotonic() - started >= 1.0  # it paused as told
    assert sorted(env.emu.stats.per_chat_sends.values()) == [1] * 40
    assert all(
        r.status == OutboxStatus.SENT and r.attempts == 1 for r in await rows(env)
    )  # 429 is no attempt


async def test_403_marks_unreachable_and_others_are_unaffected(env: Env) -> None:
    recipients = await people(env, 20)
    blocked = recipients[:3]
    for person in blocked[:2]:
        env.emu.faults.block(person.telegram_user_id or 0)
    env.emu.faults.deactivate(blocked[2].telegram_user_id or 0)
    await schedule_texts(env, recipients)
    async with env.sessions() as session:  # a later reminder for a blocked person
        await outbox.schedule(
            session,
            person=blocked[0],
            text="later",
            key="later",
            due_at=datetime.now(UTC) + timedelta(seconds=1),
        )
        await session.commit()
    await drain(env, env.worker())
    by_key = {r.idempotency_key: r for r in await rows(env)}
    for i, person in enumerate(recipients):
        row = by_key[f"m:{i}"]
        if person in blocked:
            assert row.status == OutboxStatus.FAILED and (row.last_error or "").startswith("blocked")
        else:
            assert row.status == OutboxStatus.SENT
    assert by_key["later"].status == OutboxStatus.FAILED  # never tried against Telegram
    assert env.emu.stats.forbidden == 3
    async with env.sessions() as session:
        flags = {p.id: p.blocked for p in (await session.exec(select(Person))).all()}
    assert {pid for pid, b in flags.items() if b} == {p.id for p in blocked}


async def test_chat_not_found_fails_with_reason(env: Env) -> None:
    (ghost,) = await people(env, 1, start=False, first_id=77)
    await schedule_texts(env, [ghost])
    await drain(env, env.worker())
    (row,) = await rows(env)
    assert row.status == OutboxStatus.FAILED
    assert "chat not found" in (row.last_error or "")


async def test_server_errors_are_retried_with_backoff(env: Env) -> None:
    """A few 502s: each failed send is an attempt, and the rows go out after their backoff.
    A long outage, the retry horizon and expiry: tests/test_delivery_outages.py."""
    recipients = await people(env, 3)
    await schedule_texts(env, recipients)
    env.emu.faults.server_errors(4, status=502)
    await drain(env, env.worker(backoff_base=0.05))
    assert all(r.status == OutboxStatus.SENT for r in await rows(env))
    assert sum(r.attempts for r in await rows(env)) == 3 + 4
    assert sorted(env.emu.stats.per_chat_sends.values()) == [1, 1, 1]


async def test_reminder_due_while_stopped_follows_the_late_rule(env: Env) -> None:
    """Due at 09:00, bot down until 11:00: the reminder for a 10:00 slot expired, the news goes late."""
    (anna,) = await people(env, 1)
    nine = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    async with env.sessions() as session:
        await outbox.schedule(
            session,
            person=anna,
            text="Your slot is at 10:00",
            key="booking:1:reminder",
            due_at=nine,
            expires_at=nine + timedelta(hours=1),
            priority=Priority.REMINDER,
        )
        await outbox.schedule(session, person=anna, text="News", key="campaign:1:item:1", due_at=nine)
        await session.commit()
    await drain(env, env.worker(now=lambda: nine + timedelta(hours=2)))
    by_key = {r.idempotency_key: r.status for r in await rows(env)}
    assert by_key == {"booking:1:reminder": OutboxStatus.EXPIRED, "campaign:1:item:1": OutboxStatus.SENT}
    assert [m.text for m in env.emu.user(anna.telegram_user_id or 0).messages] == ["News"]


def _worker_process(settings: Settings) -> int:
    """Fork a process that runs the real worker entry point (``proconnect worker``) until killed.

    Forked rather than spawned: a fresh interpreter spends about ten seconds importing aiogram on the
    CI machine, a fork starts at once with everything imported. The child gets a new event loop and
    never touches the parent's connections.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            asyncio.events._set_running_loop(None)
            asyncio.run(run_worker(settings))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    return pid


async def test_sigkill_mid_send_and_restart_delivers_everything(env: Env) -> None:
    rate = 200
    env.emu.faults.rate_limits(global_per_second=rate, per_chat_per_second=1)
    recipients = await people(env, 1000)
    await schedule_texts(env, recipients)

    def settings(worker_id: str) -> Settings:
        return Settings(
            bot_token=TOKEN,
            database_url=env.url,
            telegram_api_url=env.emu.base_url,
            delivery_rate_per_second=rate,
            delivery_lease_seconds=2,
            delivery_worker_id=worker_id,
            locales_dir=ROOT / "locales",
            _env_file=None,  # type: ignore[call-arg]
        )

    t0 = time.monotonic()
    first = _worker_process(settings("killed"))
    try:
        deadline = time.monotonic() + 30
        while env.emu.stats.sends_ok < 300:
            assert time.monotonic() < deadline and os.waitpid(first, os.WNOHANG) == (0, 0)  # noqa: ASYNC222
            await asyncio.sleep(0.005)
    finally:
        os.kill(first, signal.SIGKILL)
        await asyncio.to_thread(os.waitpid, first, 0)
    t_kill = time.monotonic() - t0
    sent_at_kill = env.emu.stats.sends_ok
    in_flight = (await counts(env)).get("sending", 0)

    second = _worker_process(settings("restarted"))
    try:
        deadline = time.monotonic() + 60
        while (await counts(env)).get("sent", 0) < 1000:
            assert time.monotonic() < deadline and os.waitpid(second, os.WNOHANG) == (0, 0)  # noqa: ASYNC222
            await asyncio.sleep(0.1)
        t_done = time.monotonic() - t0
        os.kill(second, signal.SIGTERM)
        _, status = await asyncio.to_thread(os.waitpid, second, 0)
        assert os.waitstatus_to_exitcode(status) == 0  # a clean stop on SIGTERM
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(second, signal.SIGKILL)
            await asyncio.to_thread(os.waitpid, second, 0)
    per_chat = env.emu.stats.per_chat_sends
    duplicates = sum(per_chat.values()) - len(per_chat)
    print(
        f"\nSIGKILL after {sent_at_kill} sends: {in_flight} rows were claimed (sending) at the kill, "
        f"{duplicates} messages were sent twice; killed at {t_kill:.1f}s, all sent at {t_done:.1f}s"
    )
    assert set(per_chat) == {p.telegram_user_id for p in recipients}  # everyone got theirs
    assert duplicates <= in_flight
    assert await counts(env) == {"sent": 1000}
