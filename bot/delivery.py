"""The delivery worker: sends due outbox rows through Telegram within its limits, recording every outcome.

One worker per process; several processes may share one PostgreSQL outbox, each with its share of the
bot's rate. A worker claims due rows in batches under a lease (``storage/outbox.py``; a chat's rows go to
one worker at a time), keeps one queue per chat, and a single dispatch loop takes the first row of the
most urgent chat that may receive a message now, waits for a slot of the global rate limiter and hands
the row to a send task. Outcomes go to a writer task that stores them in one transaction every few tens
of milliseconds, so the database sees a handful of statements per batch, not several per message.

A row is ``sending`` in the database from its claim until its outcome is written: a crash in between
leaves it there until the lease expires, and it is sent again. Those rows, the sends in flight at the
crash, are the only possible duplicates. Network errors and 5xx are retried with backoff while the
message is worth sending; an outage of Telegram or of the database is logged when it starts and when it
ends. The design notes are in ``docs/delivery.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
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
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.exc import SQLAlchemyError
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
            if limit >= 2:  # also a worker's small share of the bot's rate (several workers) is spread out
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
        """A message to ``chat_id`` leaves now."""
        self.record_global()
        self.record_chat(chat_id)

    def record_global(self) -> None:
        """A request leaves now: it counts against the bot's limit whatever becomes of it."""
        now = self.clock()
        for window in self.global_windows:
            # Up to 10 ms of a late wake-up is not carried forward; the margin (20 ms a second) covers it.
            window.add(now, slack=0.01)

    def record_chat(self, chat_id: int) -> None:
        """Telegram took a message for ``chat_id`` (at the latest) now.

        The worker counts a chat's message when the answer is in, not when the request leaves: Telegram
        took it somewhere in between, so the next one, a chat period after the answer, is a period after
        that moment whatever the network did to either request.
        """
        now = self.clock()
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


# --------------------------------------------------------------------------------------------- outages


def backoff(base: float, cap: float, failures: int, rng: random.Random) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: base·2^(failures−1), at most ``cap``,
    times a random 0.5–1, so that things that failed together do not all try again together."""
    return min(cap, base * 2 ** min(failures - 1, 40)) * (0.5 + rng.random() / 2)


class Outage:
    """A stretch of failures between two successes, so that it is logged once when it starts and once
    when it ends instead of once per failure."""

    def __init__(self) -> None:
        self.since: float | None = None  # time.monotonic() of the first failure
        self.failures = 0

    @property
    def active(self) -> bool:
        return self.since is not None

    def fail(self) -> bool:
        """Count a failure; True when it is the first one after a success (an outage starts)."""
        starts = self.since is None
        if starts:
            self.since = time.monotonic()
            self.failures = 0
        self.failures += 1
        return starts

    def end(self) -> tuple[float, int] | None:
        """A success: how long the outage lasted and how many failures it had, or None if there was none."""
        if self.since is None:
            return None
        lasted, failures = time.monotonic() - self.since, self.failures
        self.since, self.failures = None, 0
        return lasted, failures


def _telegram_error(exc: BaseException) -> str:
    """What went wrong, for a log line and ``last_error``: the error's class and Telegram's description
    (which names no chat and quotes no text), or for anything else only the class."""
    if isinstance(exc, TelegramAPIError):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__


def _database_error(exc: BaseException) -> str:
    """The class of a database error and of the driver's error under it. Not the message: SQLAlchemy's
    carries the statement's parameters, which may be a message's text."""
    root, depth = exc, 0
    while root.__cause__ is not None and depth < 10:
        root, depth = root.__cause__, depth + 1
    return type(exc).__name__ if root is exc else f"{type(exc).__name__} ({type(root).__name__})"


def _is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, SQLAlchemyError | OSError | TimeoutError)


# --------------------------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class DeliveryConfig:
    worker_id: str
    rate_per_second: float = 30.0  # this worker's share of the bot's limit (workers' shares add up to it)
    lease: timedelta = timedelta(seconds=60)
    max_lease_losses: int = 5  # a row whose worker died holding it this often fails (a poison message)
    # A network error or 5xx is retried until the row's expires_at or, without one, this long after due_at.
    retry_horizon: timedelta = timedelta(hours=24)
    backoff_base: float = 2.0  # seconds before the first retry of a network error or 5xx
    backoff_cap: float = 600.0
    db_backoff_base: float = 1.0  # seconds before the database is tried again after it failed
    db_backoff_cap: float = 30.0
    concurrency: int = 64  # sends in flight at once
    flush_interval: float = 0.1  # seconds between outcome writes: a crash may resend what one holds

    @property
    def buffer(self) -> int:
        """Chats held in memory: about a second and a half of this worker's sending, so claims stay small
        and several workers share the chats in proportion to their rates (a chat stays with its worker)."""
        return max(5, math.ceil(self.rate_per_second * 1.5))

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
    retried: int = 0  # network errors and 5xx answered by a retry later
    rate_limited: int = 0  # 429 answers seen
    blocked: int = 0
    db_failures: int = 0  # rounds with the database (claims, outcome writes) that failed


class DeliveryWorker:
    """Claims, sends and records outbox rows. ``start()``/``stop()`` around its life; ``tick()`` claims.

    Each chat has its own queue in the worker, in the chat's order; a chat has at most one send in
    flight and its next message waits for the chat's rate limit, counted from Telegram's answer. The
    dispatch loop takes the chat whose first message is the most urgent among the chats that may
    receive one now, so one slow chat never holds up the others.
    """

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
        # Chat queues: jobs per chat, in the chat's order. A chat is in exactly one of: ready (may send now,
        # in the heap by its first job), deferred (waits for its rate limit), busy (a send in flight).
        self._queues: dict[int, list[_Job]] = {}
        self._queued = 0
        self._ready: list[tuple[tuple[int, datetime, int], int]] = []  # (first job's sort key, chat id)
        self._ready_chats: set[int] = set()  # a heap entry whose chat is not here is stale
        self._deferred: list[tuple[float, int]] = []  # (monotonic time the chat may receive, chat id)
        self._deferred_chats: set[int] = set()
        self._busy: set[int] = set()
        self._sending: set[int] = set()  # ids of rows whose send is in flight
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
        self._telegram = Outage()
        self._database = Outage()
        self._db_next_try = 0.0  # time.monotonic() before which the database is left alone
        self._db_retry: asyncio.TimerHandle | None = None
        self._confirmed_at = time.monotonic()  # when the database last confirmed this worker's leases
        self._takeover_after = 0.0  # time.monotonic() from which other workers' lapsed leases are taken over
        self._housekeeping_at = 0.0  # time.monotonic() of the next expiry and lease check (once a second)
        self._leases_confirmed = asyncio.Event()
        # Another worker may take a chat this long after this one's last message to it (storage/outbox.py).
        self._handover = (
            timedelta(seconds=self.limiter.chat_period) + store.HANDOVER_SLACK,
            timedelta(seconds=self.limiter.group_period) + store.HANDOVER_SLACK,
        )

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
        self._writer_stop = False
        self._confirmed_at = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="delivery-dispatch"),
            asyncio.create_task(self._writer_loop(), name="delivery-writer"),
        ]
        self.wake()

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a bound on the drain
        """Finish the sends in flight, write their outcomes, hand unsent claimed rows back at once."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        if self._db_retry is not None:
            self._db_retry.cancel()
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
        for queue in self._queues.values():
            for job in queue:
                self._hand_back(job, "released at shutdown")
        self._queues.clear()
        self._queued = 0
        self._ready.clear()
        self._ready_chats.clear()
        self._deferred.clear()
        self._deferred_chats.clear()
        if writer is not None:
            # Not cancelled: a cancel in the middle of a commit can leave SQLite locked for the final flush.
            self._writer_stop = True
            self._flush_now.set()
            await writer
        while True:  # the last outcomes, also through a short database outage
            try:
                await self._flush()
                break
            except Exception as exc:
                if time.monotonic() >= deadline:
                    log.error(
                        "delivery: %d outcomes could not be written before stopping (%s); those rows are "
                        "sent again when their lease runs out",
                        len(self._outcomes),
                        _database_error(exc),
                    )
                    break
                await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        self._tasks = []

    def wake(self) -> None:
        """Claim now instead of at the next tick (an urgent row was added, or the queue runs low)."""
        if self._stopping:
            return
        if self._tick_task is not None and not self._tick_task.done():
            self._tick_again = True
            return
        self._tick_task = asyncio.create_task(self._tick_loop(), name="delivery-tick")

    async def timer(self) -> None:
        """The scheduler's tick: starts a round unless one is running, and returns at once.

        So the scheduler never waits for the database: a claim that hangs on an unreachable server does
        not make it skip runs and say so every second.
        """
        if self._stopping or (self._tick_task is not None and not self._tick_task.done()):
            return
        self._tick_task = asyncio.create_task(self._tick_loop(), name="delivery-tick")

    async def _tick_loop(self) -> None:
        while True:
            self._tick_again = False
            await self.tick()
            if not self._tick_again or self._stopping:
                return

    @property
    def idle(self) -> bool:
        """Nothing held, nothing in flight, nothing left to write."""
        return not self._held and not self._sends and not self._outcomes

    # ----------------------------------------------------------------- the database

    def _db_failed(self, exc: BaseException) -> None:
        """A round with the database failed: back off, and say so once per outage."""
        self.stats.db_failures += 1
        kind = _database_error(exc)
        if self._database.fail():
            if _is_database_error(exc):
                log.warning(
                    "delivery: the database cannot be reached (%s); trying again with backoff, outcomes "
                    "are kept until it is back",
                    kind,
                )
            else:  # not an outage but a bug: its traceback, once
                log.error("delivery: a round with the database failed (%s); trying again with backoff",
                          kind, exc_info=exc)
        delay = backoff(self.config.db_backoff_base, self.config.db_backoff_cap, self._database.failures, self.rng)
        log.debug("delivery: database try %d failed (%s); next in %.2fs", self._database.failures, kind, delay)
        self._db_next_try = time.monotonic() + delay
        if self._db_retry is not None:
            self._db_retry.cancel()
        self._db_retry = asyncio.get_running_loop().call_later(delay, self.wake)

    def _db_ok(self, confirmed_at: float) -> None:
        self._confirmed_at = confirmed_at
        self._leases_confirmed.set()
        ended = self._database.end()
        if ended is not None:
            # The other workers were probably cut off as well, and their leases lapsed meanwhile: give
            # them a lease's time to come back and write what they sent before taking their rows over.
            self._takeover_after = time.monotonic() + self.config.lease.total_seconds()
            lasted, failures = ended
            log.warning(
                "delivery: the database is back after %.1fs (%d tries failed); writing the %d outcomes kept "
                "meanwhile",
                lasted,
                failures,
                len(self._outcomes),
            )
            self._flush_now.set()

    def _leases_doubtful(self) -> bool:
        """Half a lease without the database: other workers may soon take our rows, so send none of them
        until a round with the database shows which are still ours."""
        return time.monotonic() - self._confirmed_at > self.config.lease.total_seconds() / 2

    # ----------------------------------------------------------------- claiming

    async def tick(self) -> None:
        """One round of housekeeping and claiming; the scheduler starts one every second.

        It never raises: when the database fails, the next round waits for a backoff instead of the next
        second, and the outage is logged when it starts and when it ends.
        """
        async with self._tick_lock:  # the scheduler's tick and a wake() must not claim twice over
            if self._stopping or time.monotonic() < self._db_next_try:
                return
            started = time.monotonic()
            try:
                await self._tick()
            except Exception as exc:
                self._db_failed(exc)
            else:
                self._db_ok(started)

    async def _tick(self) -> None:
        now = self.now()
        # Room is counted in chats: a chat's second row waits for the first and takes nobody's turn.
        room = min(self.config.claim_size, self.config.buffer - len(self._queues.keys() | self._busy))
        ours: set[int] | None = None
        # Late rows and lapsed leases once a second, not in every round: at a high rate the worker claims
        # several times a second, and these read every pending or sending row.
        housekeeping = time.monotonic() >= self._housekeeping_at
        async with self.sessionmaker() as session:
            expired = released = 0
            if housekeeping:
                expired = await store.expire_late(session, now=now)
            if housekeeping and not self._database.active and time.monotonic() >= self._takeover_after:
                released = await store.release_expired_leases(
                    session,
                    worker_id=self.config.worker_id,
                    now=now,
                    lease=self.config.lease,
                    max_attempts=self.config.max_lease_losses,
                )
            if self._held:
                await store.renew_leases(session, worker_id=self.config.worker_id, now=now)
                if self._leases_doubtful():
                    ours = await store.claimed_ids(session, worker_id=self.config.worker_id)
            rows: list[OutboxMessage] = []
            if room > 0:
                rows = await store.claim_due(
                    session,
                    worker_id=self.config.worker_id,
                    now=now,
                    limit=room,
                    private_handover=self._handover[0],
                    group_handover=self._handover[1],
                )
            people = await store.recipients(session, (r.person_id for r in rows if r.person_id is not None))
            await session.commit()
        if housekeeping:
            self._housekeeping_at = time.monotonic() + TICK_HINT
        if expired or released:
            log.info("outbox: %d rows expired (late rule), %d returned from dead workers", expired, released)
        if ours is not None:
            self._forget_lost(ours)
        # A full claim (or none, the queue being full) means more may be due: then the dispatch loop asks
        # for the next batch as soon as its queue runs low, instead of waiting for the next tick.
        self._more_due = room <= 0 or len(rows) == room
        for row in rows:
            self._take(row, people)

    def _forget_lost(self, ours: set[int]) -> None:
        """Drop held rows that are no longer this worker's in the database (another worker took them over
        while this one could not renew its lease). Rows in flight or with an outcome to write are kept:
        their outcome is written if the row has not been claimed again (storage.outbox.record_outcomes)."""
        lost = self._held - ours - self._sending - {o.id for o in self._outcomes}
        if not lost:
            return
        self._held -= lost
        for chat_id in list(self._queues):
            queue = self._queues[chat_id]
            kept = [job for job in queue if job.row.id not in lost]
            if len(kept) != len(queue):
                self._queued -= len(queue) - len(kept)
                heapq.heapify(kept)
                self._queues[chat_id] = kept
                if not kept:
                    del self._queues[chat_id]
        log.info("delivery: %d claimed rows went to other workers while the database was away", len(lost))

    def _take(self, row: OutboxMessage, people: dict[int, store.Recipient]) -> None:
        assert row.id is not None
        if row.id in self._held:  # its earlier claim's outcome is not written yet: never send it twice
            log.info("outbox row %s claimed again while held; its outcome is on the way", row.id)
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
        self._enqueue(_Job((row.priority, row.due_at, row.id), row, chat_id, locale))

    # ----------------------------------------------------------------- chat queues

    def _enqueue(self, job: _Job) -> None:
        heapq.heappush(self._queues.setdefault(job.chat_id, []), job)
        self._queued += 1
        self._schedule_chat(job.chat_id)

    def _schedule_chat(self, chat_id: int) -> None:
        """Put a chat that has jobs and nothing in flight among the ready or the deferred chats."""
        if chat_id in self._busy or chat_id in self._deferred_chats:
            return
        queue = self._queues.get(chat_id)
        if not queue:
            return
        wait = self.limiter.chat_wait(chat_id)
        if wait > 0:
            self._ready_chats.discard(chat_id)
            heapq.heappush(self._deferred, (time.monotonic() + wait, chat_id))
            self._deferred_chats.add(chat_id)
        else:
            # Already ready with a later first job: a second entry with the new first job's key; the one
            # popped first takes the chat, the other is then stale.
            heapq.heappush(self._ready, (queue[0].sort_key, chat_id))
            self._ready_chats.add(chat_id)
        self._rows_ready.set()

    def _chat_done(self, chat_id: int) -> None:
        """The chat's job in flight is finished (or dropped before it went out): its next may follow."""
        self._busy.discard(chat_id)
        self._schedule_chat(chat_id)

    def _next_job(self) -> tuple[_Job | None, float]:
        """The first job of the most urgent chat that may receive now, or None and how long to wait."""
        now = time.monotonic()
        while self._deferred and self._deferred[0][0] <= now:
            _, chat_id = heapq.heappop(self._deferred)
            self._deferred_chats.discard(chat_id)
            self._schedule_chat(chat_id)
        while self._ready:
            _, chat_id = heapq.heappop(self._ready)
            if chat_id not in self._ready_chats:
                continue  # stale entry
            self._ready_chats.discard(chat_id)
            queue = self._queues.get(chat_id)
            if not queue:
                continue
            wait = self.limiter.chat_wait(chat_id)
            if wait > 0:  # a 429 or a late answer moved the chat's window since it was put here
                heapq.heappush(self._deferred, (now + wait, chat_id))
                self._deferred_chats.add(chat_id)
                continue
            job = heapq.heappop(queue)
            self._queued -= 1
            if not queue:
                del self._queues[chat_id]
            self._busy.add(chat_id)
            return job, 0.0
        return None, (self._deferred[0][0] - now) if self._deferred else 1.0

    def _hand_back(self, job: _Job, reason: str | None = None) -> None:
        """Return a claimed, unsent row to ``pending`` as it was."""
        row = job.row
        self._outcome(row, OutboxStatus.PENDING, row.attempts, reason or row.last_error, retry_at=row.retry_at)

    # ----------------------------------------------------------------- dispatching

    async def _dispatch_loop(self) -> None:
        while True:
            if self._more_due and self._queued < self.config.buffer // 2:
                self._more_due = False
                self.wake()
            if self._queued and (self._database.active or self._leases_doubtful()):
                # What it sent now it could not record, and another worker might send it again.
                self._leases_confirmed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._leases_confirmed.wait(), timeout=1.0)
                continue
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
                self._chat_done(job.chat_id)
                continue
            try:
                text, markup = self._render(job)
            except (KeyError, IndexError, ValueError) as exc:
                self._outcome(job.row, OutboxStatus.FAILED, job.row.attempts + 1, f"cannot render: {exc!r}")
                self._chat_done(job.chat_id)
                continue
            try:
                await self.limiter.acquire_global()
                await self._semaphore.acquire()
            except asyncio.CancelledError:
                # stop() cancels the loop here; the job is out of its chat queue already, so stop() would
                # not find it to hand back, and the row would sit in `sending` until its lease ran out.
                self._hand_back(job, "released at shutdown")
                raise
            if self._database.active or self._leases_doubtful():  # went away while this one waited
                self._semaphore.release()
                heapq.heappush(self._queues.setdefault(job.chat_id, []), job)
                self._queued += 1
                self._chat_done(job.chat_id)
                continue
            self.limiter.record_global()
            assert job.row.id is not None
            self._sending.add(job.row.id)
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
            self._telegram_answers()
            self.stats.rate_limited += 1
            log.warning("429 from Telegram: pausing all sends for %ss", exc.retry_after)
            self.limiter.pause(exc.retry_after)
            self.limiter.record_chat(job.chat_id)
            heapq.heappush(self._queues.setdefault(job.chat_id, []), job)  # first again: order kept
            self._queued += 1
        except TelegramForbiddenError as exc:
            self._telegram_answers()
            self.stats.blocked += 1
            if row.person_id is not None:
                self._blocked_people.add(row.person_id)
                self._new_blocked.add(row.person_id)
            self._outcome(row, OutboxStatus.FAILED, row.attempts + 1, f"blocked: {exc.message}")
        except TelegramUnauthorizedError as exc:
            self._telegram_answers()
            log.error("Telegram refuses the bot token (%s); pausing delivery for a minute", exc.message)
            self.limiter.pause(60)
            self._outcome(row, OutboxStatus.PENDING, row.attempts, f"unauthorized: {exc.message}")
        except TelegramMigrateToChat:
            self._telegram_answers()
            self._outcome(row, OutboxStatus.FAILED, row.attempts + 1, "bad request: the group became a supergroup")
        except (TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge, TelegramConflictError) as exc:
            self._telegram_answers()
            self._outcome(row, OutboxStatus.FAILED, row.attempts + 1, f"bad request: {exc.message}")
        except (TelegramNetworkError, TelegramServerError) as exc:
            self._telegram_unreachable(exc)
            self._retry_later(job, _telegram_error(exc))
        except TelegramAPIError as exc:  # an answer we do not know: not permanent as far as we can tell
            self._telegram_answers()
            self._retry_later(job, _telegram_error(exc))
        except Exception as exc:  # a transport error aiogram did not wrap (a proxy's HTML page …): retry
            self._telegram_unreachable(exc)
            self._retry_later(job, _telegram_error(exc))
        else:
            self._telegram_answers()
            self.limiter.record_chat(job.chat_id)
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
            self._sending.discard(row.id or 0)
            self._semaphore.release()
            self._chat_done(job.chat_id)

    def _telegram_unreachable(self, exc: BaseException) -> None:
        if self._telegram.fail():
            log.warning(
                "delivery: Telegram cannot be reached (%s); messages are retried with backoff until they "
                "expire or their retry horizon passes",
                _telegram_error(exc),
            )

    def _telegram_answers(self) -> None:
        ended = self._telegram.end()
        if ended is not None:
            lasted, failures = ended
            log.warning(
                "delivery: Telegram answers again after %.1fs; %d sends failed meanwhile and are retried",
                lasted,
                failures,
            )

    def _retry_later(self, job: _Job, error: str) -> None:
        """A send that may work later: again after a backoff, while the message is worth sending.

        It is worth sending until its ``expires_at`` or, without one, for the retry horizon after it was
        due. The chat's other rows held here go back to the database, where they wait behind this one.
        """
        row = job.row
        attempts = row.attempts + 1
        now = self.now()
        delay = backoff(self.config.backoff_base, self.config.backoff_cap, attempts, self.rng)
        retry_at = now + timedelta(seconds=delay)
        if row.expires_at is not None and retry_at >= row.expires_at:
            self._outcome(row, OutboxStatus.EXPIRED, attempts, f"expired while retrying: {error}")
        elif row.expires_at is None and retry_at >= row.due_at + self.config.retry_horizon:
            hours = self.config.retry_horizon.total_seconds() / 3600
            self._outcome(
                row, OutboxStatus.FAILED, attempts, f"gave up after {attempts} attempts in {hours:g} h: {error}"
            )
        else:
            self.stats.retried += 1
            log.debug("outbox row %s: %s; retry %d in %.1fs", row.id, error, attempts, delay)
            self._outcome(row, OutboxStatus.PENDING, attempts, error, retry_at=retry_at)
            for later in self._queues.pop(job.chat_id, []):
                self._queued -= 1
                self._hand_back(later)

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
            if self._database.active or time.monotonic() < self._db_next_try:
                continue  # the tick finds out when the database is back; outcomes wait here until then
            try:
                await self._flush()
            except Exception as exc:
                self._db_failed(exc)

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
            if o.status == OutboxStatus.PENDING and o.retry_at is not None:
                wait = (o.retry_at - now).total_seconds()
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
        max_lease_losses=settings.delivery_max_attempts,
        retry_horizon=timedelta(hours=settings.delivery_retry_horizon_hours),
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
