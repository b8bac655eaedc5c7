"""The delivery worker: sends due outbox rows through Telegram within its limits, recording every outcome.

One worker per process. It claims due rows in batches under a lease (``storage/outbox.py``), keeps them in
a priority heap, and a single dispatch loop takes the most urgent row whose chat may receive a message
now, waits for a slot of the global rate limiter and hands the row to a send task. Outcomes go to a
writer task that stores them in one transaction every few tens of milliseconds, so the database sees
a handful of statements per batch, not several per message.

A row is ``sending`` in the database from its claim until its outcome is written: a crash in between
leaves it there until the lease expires, and it is sent again. Those rows, the sends in flight at the
crash, are the only possible duplicates. The design notes are in ``docs/delivery.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import os
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from dialogs.feature import Feature
from dialogs.registry import FEATURES
from dialogs.text import isolate
from storage import outbox as store
from storage.outbox import OutboxMessage, OutboxStatus, Outcome
from storage.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]
TICK_HINT = 1.0  # seconds: the scheduler ticks the worker about this often


# --------------------------------------------------------------------------------------------- limiter


class SlidingWindow:
    """At most ``limit`` events in any ``period`` seconds."""

    __slots__ = ("limit", "period", "times")

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0.0 when it fits now)."""
        edge = now - self.period
        while self.times and self.times[0] <= edge:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[-self.limit] + self.period - now

    def add(self, now: float, slack: float = 0.0) -> None:
        """Count an event at ``now``; with ``slack``, as early as the slot opened if that was that recently.

        Slack keeps a late wake-up of the event loop from pushing every later slot back with it.
        """
        at = now
        if slack and len(self.times) >= self.limit:
            at = max(now - slack, self.times[-self.limit] + self.period)
        self.times.append(at)
        if len(self.times) > self.limit:
            self.times.popleft()


class RateLimiter:
    """Telegram's limits, kept on our side so that Telegram never has to throttle us.

    Global: ``per_second`` messages in any second, also spread out over the tenths of a second so that
    one second's allowance does not leave as one burst (a burst arrives with more jitter, and jitter is
    what makes a limit on our clock a violation on Telegram's). Per chat: one message a second in a
    private chat, ``group_per_minute`` in a group (negative chat id). Every period is stretched by
    ``margin`` for the same reason. ``pause`` stops everything after a 429.

    Hand-written (about sixty lines, tested) because the libraries that fit (aiolimiter, limits) know
    one window each and neither per-key windows with expiry nor a global pause.
    """

    def __init__(
        self,
        per_second: float,
        *,
        chat_interval: float = 1.0,
        group_per_minute: int = 20,
        margin: float = 0.02,
        clock: Monotonic = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        stretch = 1.0 + margin
        if per_second >= 1:
            limit = int(per_second)
            self.global_windows = [SlidingWindow(limit, stretch * limit / per_second)]
            if limit >= 10:
                self.global_windows.append(SlidingWindow(math.ceil(limit / 10), stretch * 0.1))
        else:
            self.global_windows = [SlidingWindow(1, stretch / per_second)]
        self.chat_period = chat_interval * stretch
        self.group_limit = group_per_minute
        self.group_period = 60.0 * stretch
        self.clock = clock
        self.paused_until = 0.0
        self.chats: dict[int, SlidingWindow] = {}
        self._cleanup_at = 0.0

    def _chat(self, chat_id: int) -> SlidingWindow:
        window = self.chats.get(chat_id)
        if window is None:
            window = self.chats[chat_id] = (
                SlidingWindow(self.group_limit, self.group_period)
                if chat_id < 0
                else SlidingWindow(1, self.chat_period)
            )
        return window

    def chat_wait(self, chat_id: int) -> float:
        return self._chat(chat_id).wait(self.clock())

    def global_wait(self) -> float:
        now = self.clock()
        return max(self.paused_until - now, *(w.wait(now) for w in self.global_windows), 0.0)

    def record(self, chat_id: int) -> None:
        now = self.clock()
        for window in self.global_windows:
            # Up to 10 ms of a late wake-up is not carried forward; the margin (20 ms a second) covers it.
            window.add(now, slack=0.01)
        self._chat(chat_id).add(now)
        if now >= self._cleanup_at:  # forget idle chats, or the map grows with every recipient ever
            self._cleanup_at = now + 2 * self.group_period
            self.chats = {
                k: w for k, w in self.chats.items() if w.times and w.times[-1] > now - self.group_period
            }

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def acquire_global(self) -> None:
        while (wait := self.global_wait()) > 0:  # noqa: ASYNC110 - sleeps exactly until a slot frees
            await asyncio.sleep(wait)


# --------------------------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class DeliveryConfig:
    worker_id: str
    rate_per_second: float = 30.0
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    backoff_base: float = 2.0  # seconds before the first retry of a network error or 5xx
    backoff_cap: float = 600.0
    concurrency: int = 64  # sends in flight at once
    flush_interval: float = 0.1  # seconds between outcome writes: a crash may resend what one holds

    @property
    def buffer(self) -> int:
        """Rows held in memory: about a second and a half of sending, so claims stay small and fair."""
        return max(20, math.ceil(self.rate_per_second * 1.5))

    @property
    def claim_size(self) -> int:
        """Rows per claim: small claims keep the event loop from stalling (a stall is send jitter)."""
        return max(10, min(self.buffer, math.ceil(self.rate_per_second / 2)))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(order=True)
class _Job:
    sort_key: tuple[int, datetime, int]
    row: OutboxMessage = field(compare=False)
    chat_id: int = field(compare=False)
    locale: str | None = field(compare=False)


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0
    expired: int = 0
    retried: int = 0
    rate_limited: int = 0  # 429 answers seen
    blocked: int = 0


class DeliveryWorker:
    """Claims, sends and records outbox rows. ``start()``/``stop()`` around its life; ``tick()`` claims."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bot: Bot,
        i18n: I18n,
        config: DeliveryConfig,
        *,
        now: Clock = utcnow,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
        templates: frozenset[str] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        # The msgids the features declare as outbox templates (None: any). A row with another template
        # would go out untranslated, in English, so it fails with the reason instead.
        self.templates = templates
        self.bot = bot
        self.i18n = i18n
        self.config = config
        self.now = now
        self.limiter = limiter or RateLimiter(config.rate_per_second)
        self.rng = rng or random.Random()
        self.stats = DeliveryStats()
        self._heap: list[_Job] = []
        self._deferred: list[tuple[float, int, _Job]] = []  # (monotonic ready time, seq, job): chat busy
        self._seq = itertools.count()
        self._held: set[int] = set()  # ids of rows claimed and not yet written back
        self._blocked_people: set[int] = set()
        self._outcomes: list[Outcome] = []
        self._new_blocked: set[int] = set()
        self._rows_ready = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._tick_task: asyncio.Task[None] | None = None
        self._tick_again = False
        self._more_due = False
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._stopping = False
        self._writer_stop = False
        self._tick_lock = asyncio.Lock()

    # ----------------------------------------------------------------- life

    async def start(self) -> None:
        async with self.sessionmaker() as session:
            released = await store.release_own(session, worker_id=self.config.worker_id, now=self.now())
            await session.commit()
        if released:
            log.info(
                "outbox: %d rows of an earlier run of %s are pending again", released, self.config.worker_id
            )
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="delivery-dispatch"),
            asyncio.create_task(self._writer_loop(), name="delivery-writer"),
        ]
        self.wake()

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a bound on the drain
        """Finish the sends in flight, write their outcomes, hand unsent claimed rows back at once."""
        self._stopping = True
        dispatch, writer = self._tasks or (None, None)
        if dispatch is not None:
            dispatch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatch
        if self._tick_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
        if self._sends:
            await asyncio.wait(self._sends, timeout=timeout)
        for job in [*self._heap, *(j for _, _, j in self._deferred)]:
            self._outcome(job.row, OutboxStatus.PENDING, job.row.attempts, "released at shutdown")
        self._heap.clear()
        self._deferred.clear()
        if writer is not None:
            # Not cancelled: a cancel in the middle of a commit can leave SQLite locked for the final flush.
            self._writer_stop = True
            self._flush_now.set()
            await writer
        await self._flush()
        self._tasks = []

    def wake(self) -> None:
        """Claim now instead of at the next tick (an urgent row was added, or the buffer runs low)."""
        if self._stopping:
            return
        if self._tick_task is not None and not self._tick_task.done():
            self._tick_again = True
            return
        self._tick_task = asyncio.create_task(self._tick_loop(), name="delivery-tick")

    async def _tick_loop(self) -> None:
        while True:
            self._tick_again = False
            try:
                await self.tick()
            except Exception:
                log.exception("delivery tick failed; the next one tries again")
                return
            if not self._tick_again or self._stopping:
                return

    @property
    def idle(self) -> bool:
        """Nothing held, nothing in flight, nothing left to write."""
        return not self._held and not self._sends and not self._outcomes

    # ----------------------------------------------------------------- claiming

    async def tick(self) -> None:
        """One round of housekeeping and claiming; the scheduler calls it every second."""
        async with self._tick_lock:  # the scheduler's tick and a wake() must not claim twice over
            await self._tick()

    async def _tick(self) -> None:
        if self._stopping:
            return
        now = self.now()
        room = min(self.config.claim_size, self.config.buffer - len(self._held))
        async with self.sessionmaker() as session:
            expired = await store.expire_late(session, now=now)
            released = await store.release_expired_leases(
                session,
                worker_id=self.config.worker_id,
                now=now,
                lease=self.config.lease,
                max_attempts=self.config.max_attempts,
            )
            if self._held:
                await store.renew_leases(session, worker_id=self.config.worker_id, now=now)
            rows: list[OutboxMessage] = []
            if room > 0:
                rows = await store.claim_due(session, worker_id=self.config.worker_id, now=now, limit=room)
            people = await store.recipients(session, (r.person_id for r in rows if r.person_id is not None))
            await session.commit()
        if expired or released:
            log.info("outbox: %d rows expired (late rule), %d returned from dead workers", expired, released)
        # A full claim (or none, the queue being full) means more may be due: then the dispatch loop asks
        # for the next batch as soon as its queue runs low, instead of waiting for the next tick.
        self._more_due = room <= 0 or len(rows) == room
        for row in rows:
            self._take(row, people)
        if rows:
            self._rows_ready.set()

    def _take(self, row: OutboxMessage, people: dict[int, store.Recipient]) -> None:
        assert row.id is not None
        if row.id in self._held:  # cannot happen while leases are renewed; never send a row twice if it does
            log.warning("outbox row %s claimed again while held", row.id)
            return
        self._held.add(row.id)
        chat_id, locale = row.chat_id, row.locale
        if row.person_id is not None:
            person = people.get(row.person_id)
            if person is None or person.chat_id is None:
                self._outcome(row, OutboxStatus.FAILED, row.attempts, "recipient has no chat")
                return
            if person.blocked or row.person_id in self._blocked_people:
                self._outcome(row, OutboxStatus.FAILED, row.attempts, "blocked: recipient is unreachable")
                return
            chat_id, locale = person.chat_id, person.language or locale
        if chat_id is None:
            self._outcome(row, OutboxStatus.FAILED, row.attempts, "no recipient")
            return
        heapq.heappush(self._heap, _Job((row.priority, row.due_at, row.id), row, chat_id, locale))

    # ----------------------------------------------------------------- dispatching

    def _next_job(self) -> tuple[_Job | None, float]:
        """The most urgent job whose chat may receive now, or None and how long to wait."""
        now = time.monotonic()
        while self._deferred and self._deferred[0][0] <= now:
            heapq.heappush(self._heap, heapq.heappop(self._deferred)[2])
        while self._heap:
            job = heapq.heappop(self._heap)
            wait = self.limiter.chat_wait(job.chat_id)
            if wait <= 0:
                return job, 0.0
            heapq.heappush(self._deferred, (now + wait, next(self._seq), job))
        return None, (self._deferred[0][0] - now) if self._deferred else 1.0

    async def _dispatch_loop(self) -> None:
        while True:
            if self._more_due and len(self._heap) + len(self._deferred) < self.config.buffer // 2:
                self._more_due = False
                self.wake()
            job, wait = self._next_job()
            if job is None:
                self._rows_ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._rows_ready.wait(), timeout=wait)
                continue
            expires_at = job.row.expires_at
            if expires_at is not None and expires_at <= self.now():
                self._outcome(
                    job.row, OutboxStatus.EXPIRED, job.row.attempts, "expired before it could be sent"
                )
                continue
            try:
                text, markup = self._render(job)
            except (KeyError, IndexError, ValueError) as exc:
                self._outcome(job.row, OutboxStatus.FAILED, job.row.attempts + 1, f"cannot render: {exc!r}")
                continue
            await self.limiter.acquire_global()
            if self.limiter.chat_wait(job.chat_id) > 0:  # a 429 retry of this chat got in first
                heapq.heappush(self._heap, job)
                continue
            self.limiter.record(job.chat_id)
            await self._semaphore.acquire()
            task = asyncio.create_task(self._send(job, text, markup))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _render(self, job: _Job) -> tuple[str, InlineKeyboardMarkup | None]:
        row = job.row
        locale = job.locale if job.locale in self.i18n.available_locales else self.i18n.default_locale
        if row.template is not None:
            if self.templates is not None and row.template not in self.templates:
                raise ValueError("its template is not declared by any feature")
            # Plain text (no parse mode), so values need no escaping; isolation marks keep a Latin name or
            # a date from scrambling a right-to-left sentence.
            args = {k: isolate(v) for k, v in (row.args or {}).items()}
            text = self.i18n.gettext(row.template, locale=locale).format(**args)
        else:
            text = row.text or ""
        markup = None
        if row.buttons:
            translate = row.template is not None
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(
                            text=self.i18n.gettext(b["text"], locale=locale) if translate else b["text"],
                            callback_data=b.get("callback_data"),
                            url=b.get("url"),
                        )
                        for b in line
                    ]
                    for line in row.buttons
                ]
            )
        return text, markup

    async def _send(self, job: _Job, text: str, markup: InlineKeyboardMarkup | None) -> None:
        row = job.row
        try:
            message = await self.bot.send_message(job.chat_id, text, reply_markup=markup)
        except TelegramRetryAfter as exc:
            # Telegram's word is final: everybody waits, and this row goes again without an attempt.
            self.stats.rate_limited += 1
            log.warning("429 from Telegram: pausing all sends for %ss", exc.retry_after)
            self.limiter.pause(exc.retry_after)
            heapq.heappush(self._heap, job)
            self._rows_ready.set()
        except TelegramForbiddenError as exc:
            self.stats.blocked += 1
            if row.person_id is not None:
                self._blocked_people.add(row.person_id)
                self._new_blocked.add(row.person_id)
            self._outcome(row, OutboxStatus.FAILED, row.attempts + 1, f"blocked: {exc.message}")
        except TelegramUnauthorizedError as exc:
            log.error("Telegram refuses the bot token (%s); pausing delivery for a minute", exc.message)
            self.limiter.pause(60)
            self._outcome(row, OutboxStatus.PENDING, row.attempts, f"unauthorized: {exc.message}")
        except (TelegramBadRequest, TelegramNotFound) as exc:
            self._outcome(row, OutboxStatus.FAILED, row.attempts + 1, f"bad request: {exc.message}")
        except (TelegramNetworkError, TelegramServerError, TelegramAPIError) as exc:
            self._retry_later(row, f"{type(exc).__name__}: {exc.message}")
        except Exception as exc:  # a bug or a transport error aiogram did not wrap: retry, never lose the row
            log.exception("unexpected error sending outbox row %s", row.id)
            self._retry_later(row, f"{type(exc).__name__}: {exc}")
        else:
            self.stats.sent += 1
            self._outcome(
                row,
                OutboxStatus.SENT,
                row.attempts + 1,
                None,
                sent_at=self.now(),
                telegram_message_id=message.message_id,
            )
        finally:
            self._semaphore.release()

    def _retry_later(self, row: OutboxMessage, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= self.config.max_attempts:
            self._outcome(row, OutboxStatus.FAILED, attempts, f"gave up after {attempts} attempts: {error}")
            return
        self.stats.retried += 1
        delay = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (attempts - 1))
        delay *= 0.5 + self.rng.random() / 2  # jitter, so that rows failed together do not retry together
        self._outcome(
            row, OutboxStatus.PENDING, attempts, error, due_at=self.now() + timedelta(seconds=delay)
        )

    # ----------------------------------------------------------------- recording

    def _outcome(
        self, row: OutboxMessage, status: OutboxStatus, attempts: int, error: str | None, **kw: Any
    ) -> None:
        assert row.id is not None
        if status == OutboxStatus.FAILED:
            self.stats.failed += 1
        elif status == OutboxStatus.EXPIRED:
            self.stats.expired += 1
        self._outcomes.append(Outcome(row.id, status, attempts, error, **kw))
        if len(self._outcomes) >= 100:
            self._flush_now.set()

    async def _writer_loop(self) -> None:
        while not self._writer_stop:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), timeout=self.config.flush_interval)
            self._flush_now.clear()
            try:
                await self._flush()
            except Exception:
                log.exception("could not write delivery outcomes; retrying")
                await asyncio.sleep(1)

    async def _flush(self) -> None:
        if not self._outcomes and not self._new_blocked:
            return
        outcomes, self._outcomes = self._outcomes, []
        blocked, self._new_blocked = self._new_blocked, set()
        try:
            async with self.sessionmaker() as session:
                now = self.now()
                await store.record_outcomes(session, outcomes, worker_id=self.config.worker_id, now=now)
                await store.mark_blocked(
                    session, blocked, reason="blocked: recipient is unreachable", now=now
                )
                await session.commit()
        except BaseException:
            self._outcomes[:0] = outcomes  # keep them for the next try
            self._new_blocked |= blocked
            raise
        soonest: float | None = None
        for o in outcomes:
            self._held.discard(o.id)
            if o.status == OutboxStatus.PENDING and o.due_at is not None:
                wait = (o.due_at - now).total_seconds()
                soonest = wait if soonest is None else min(soonest, wait)
        if soonest is not None and soonest < TICK_HINT:
            # A short backoff is kept to the moment, not rounded up to the next tick.
            asyncio.get_running_loop().call_later(max(0.0, soonest), self.wake)


def create_worker(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot: Bot,
    i18n: I18n,
    features: Sequence[Feature] = FEATURES,
) -> DeliveryWorker:
    """The worker as configured by :class:`bot.config.Settings`, for the templates of ``features``."""
    config = DeliveryConfig(
        worker_id=settings.delivery_worker_id or default_worker_id(),
        rate_per_second=settings.delivery_rate_per_second,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        max_attempts=settings.delivery_max_attempts,
    )
    templates = frozenset(template for feature in features for template in feature.templates)
    return DeliveryWorker(sessionmaker, bot, i18n, config, templates=templates)


async def run_worker(settings: Settings) -> None:
    """Only the delivery worker and its scheduler, no update handling: ``proconnect worker``.

    For deployments that scale sending apart from answering, and for the crash test. Stops cleanly on
    SIGTERM or SIGINT, handing unsent claimed rows back.
    """
    import signal

    from bot.app import create_bot
    from bot.i18n import create_i18n
    from bot.runtime import ensure_schema
    from bot.scheduler import create_scheduler
    from storage.db import create_engine, create_sessionmaker

    await ensure_schema(settings.database_url)
    engine = create_engine(settings.database_url)
    bot = create_bot(settings, retry_transient=False)
    worker = create_worker(
        settings,
        sessionmaker=create_sessionmaker(engine),
        bot=bot,
        i18n=create_i18n(settings.locales_dir, settings.default_language),
    )
    scheduler = create_scheduler(settings.timezone, worker=worker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("delivery worker %s at %.0f messages/s", worker.config.worker_id, worker.config.rate_per_second)
    await worker.start()
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await worker.stop()
        await bot.session.close()
        await engine.dispose()
