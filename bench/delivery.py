"""Delivery throughput, order and cost: 1, 2 and 4 workers against the emulator enforcing Telegram's limits.

    .venv/bin/python bench/delivery.py [--limits 30 300] [--workers 1 2 4] [--seconds 20] [--per-chat 3]
                                       [--database-url URL]

For each limit L the emulator runs in a forked process and enforces L messages/s overall, 1/s per chat.
The outbox gets L x seconds messages, ``--per-chat`` to each chat, scheduled round by round. Then, for
each number of workers N, N worker processes (forked, each with its own database pool, as on N
machines) share the bot's rate, L/N each, until every message is sent. Printed per run:

- rate: messages / (last accept - first accept) on the emulator's clock, and its ratio to L
  (target >= 0.95; the ceiling is 0.98, our 2 % margin);
- 429s: how often the emulator refused a message (target 0);
- out-of-order chats: chats that got their messages in another order than scheduled (target 0);
- CPU seconds per 1,000 messages, of the worker processes together.

Beside them the baseline: a naive sender (aiogram, no database, no limiter, one send every 1/L s in the
order scheduled) against the same emulator.

The database is a temporary SQLite file unless ``--database-url`` names one, e.g. a PostgreSQL database
for the benchmark (``postgresql+asyncpg://…``): it is migrated, the benchmark's people are added once and
found again on later runs, and its outbox rows (keys ``bench:…``) are deleted before each run. It must not
hold other rows waiting to be sent: the workers would send them to the emulator, which knows no such chat.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:BENCH"
FIRST_USER = 1_000_000
KEY = "bench:"  # every outbox row of the benchmark, and nothing else, has a key starting so
TEXT = "Bench <b>message</b> {round}"


# ------------------------------------------------------------------------------------------ emulator


def _emulator_child(conn: Connection, limit: float, users: int) -> None:
    """Serve the emulator until told to stop; report what it accepted and how often it said 429."""
    from emulator import BotAPIEmulator

    async def serve() -> None:
        async with BotAPIEmulator() as emu:

            def limits() -> None:
                emu.faults.rate_limits(global_per_second=limit, per_chat_per_second=1, per_group_per_minute=20)

            limits()
            for uid in range(FIRST_USER, FIRST_USER + users):
                await emu.user(uid, "B", "de").send("/start")
            conn.send(emu.base_url)
            while True:
                await asyncio.sleep(0.05)
                if conn.poll():
                    command = conn.recv()
                    if command == "reset":
                        emu.sent_messages.clear()
                        emu.stats.reset()
                        limits()  # fresh windows
                        conn.send("ok")
                    elif command == "report":
                        accepted = [(r.time, r.chat_id, r.text) for r in emu.sent_messages]
                        conn.send((accepted, emu.stats.rate_limited))
                    else:
                        return

    asyncio.run(serve())


@dataclass
class Result:
    sent: int
    rate: float
    rate_limited: int
    out_of_order: int
    cpu_per_1000: float


def _result(report: tuple[list[tuple[float, int, str]], int], cpu: float, count: int) -> Result:
    accepted, limited = report
    accepted.sort()
    span = accepted[-1][0] - accepted[0][0] if len(accepted) > 1 else 0.0
    rounds: dict[int, list[int]] = {}
    for _, chat_id, text in accepted:
        rounds.setdefault(chat_id, []).append(int(text.rsplit(" ", 1)[1]))
    out_of_order = sum(1 for seen in rounds.values() if seen != sorted(seen))
    return Result(len(accepted), (len(accepted) - 1) / span if span else 0.0, limited, out_of_order, cpu / count * 1000)


# ------------------------------------------------------------------------------------------ database


async def _prepare(database_url: str, chats: int, per_chat: int) -> str:
    """Migrate, find or add the benchmark's people, replace its outbox rows; return this run's key prefix."""
    from sqlalchemy import delete, func, select

    from dialogs import outbox
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Person
    from storage.outbox import OUTBOX, OutboxStatus, cols

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            others = await session.scalar(
                select(func.count())
                .select_from(OUTBOX)
                .where(cols.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]), cols.idempotency_key.not_like(f"{KEY}%"))
            )
            if others:
                raise SystemExit(f"the database holds {others} outbox rows of its own waiting to be sent; use another one")
            await (await session.connection()).execute(delete(OUTBOX).where(cols.idempotency_key.like(f"{KEY}%")))
            wanted = range(FIRST_USER, FIRST_USER + chats)
            found = {
                p.telegram_user_id: p
                for p in (await session.scalars(select(Person).where(Person.telegram_user_id.in_(wanted)))).all()  # type: ignore[union-attr]
            }
            missing = [Person(telegram_user_id=uid, chat_id=uid, language="de", roles=[]) for uid in wanted if uid not in found]
            session.add_all(missing)
            await session.flush()
            people = sorted([*found.values(), *missing], key=lambda p: p.telegram_user_id or 0)
            prefix = f"{KEY}{uuid.uuid4().hex[:8]}:"
            drafts = [
                outbox.Draft(key=f"{prefix}{p.id}:{k}", person_id=p.id, text=TEXT.format(round=k))
                for k in range(per_chat)
                for p in people
            ]
            await outbox.schedule_many(session, drafts)
            await session.commit()
    finally:
        await engine.dispose()
    return prefix


async def _left(sessions: object, prefix: str, statuses: tuple[str, ...]) -> int:
    from sqlalchemy import func, select

    from storage.outbox import OUTBOX, cols

    async with sessions() as session:  # type: ignore[operator]
        return int(
            await session.scalar(
                select(func.count()).select_from(OUTBOX).where(cols.idempotency_key.like(f"{prefix}%"), cols.status.in_(statuses))
            )
            or 0
        )


# ------------------------------------------------------------------------------------------ senders


def _worker_child(base_url: str, database_url: str, rate: float, worker_id: str, prefix: str) -> None:
    """One worker with its scheduler, as ``proconnect worker`` runs it, until the benchmark's rows are out."""

    import logging

    logging.getLogger("bot.delivery").setLevel(logging.ERROR)  # a 429 is counted in the table, not logged

    async def run() -> None:
        from aiogram import Bot
        from aiogram.client.default import DefaultBotProperties
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer
        from aiogram.enums import ParseMode

        from bot.delivery import DeliveryConfig, DeliveryWorker
        from bot.i18n import create_i18n
        from bot.scheduler import create_scheduler
        from storage.db import create_engine, create_sessionmaker

        engine = create_engine(database_url)
        sessions = create_sessionmaker(engine)
        bot = Bot(
            TOKEN,
            session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        worker = DeliveryWorker(
            sessions, bot, create_i18n(ROOT / "locales", "de"), DeliveryConfig(worker_id, rate_per_second=rate)
        )
        scheduler = create_scheduler(worker=worker)
        await worker.start()
        scheduler.start()
        while await _left(sessions, prefix, ("pending", "sending")):  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.2)
        scheduler.shutdown(wait=False)
        await worker.stop()
        await bot.session.close()
        await engine.dispose()

    asyncio.run(run())


def _run_workers(base_url: str, database_url: str, limit: float, workers: int, chats: int, per_chat: int, conn: Connection) -> Result:
    count = chats * per_chat
    prefix = asyncio.run(_prepare(database_url, chats, per_chat))
    # Imported here, before the fork: the children start at once, and their CPU time is the workers' own.
    import bot.delivery
    import bot.i18n
    import bot.scheduler  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [
        ctx.Process(target=_worker_child, args=(base_url, database_url, limit / workers, f"bench-{i}", prefix))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a worker process failed (exit code {proc.exitcode})")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)

    async def sent() -> int:
        from storage.db import create_engine, create_sessionmaker

        engine = create_engine(database_url)
        try:
            return await _left(create_sessionmaker(engine), prefix, ("sent",))
        finally:
            await engine.dispose()

    done = asyncio.run(sent())
    if done != count:
        raise SystemExit(f"{done} of {count} messages are marked sent")
    conn.send("report")
    return _result(conn.recv(), cpu, count)


async def _run_naive(base_url: str, limit: float, chats: int, per_chat: int, conn: Connection) -> Result:
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode
    from aiogram.exceptions import TelegramRetryAfter

    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )

    async def send(uid: int, k: int) -> None:
        try:
            await bot.send_message(uid, TEXT.format(round=k))
        except TelegramRetryAfter:
            pass  # the naive sender just loses it: that is the point of the comparison

    cpu0 = time.process_time()
    tasks = []
    interval = 1 / limit
    start = time.monotonic()
    for i, (k, uid) in enumerate((k, uid) for k in range(per_chat) for uid in range(FIRST_USER, FIRST_USER + chats)):
        tasks.append(asyncio.create_task(send(uid, k)))
        await asyncio.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu0
    await bot.session.close()
    conn.send("report")
    return _result(conn.recv(), cpu, chats * per_chat)


# ------------------------------------------------------------------------------------------ report


def _line(name: str, result: Result, limit: float, count: int) -> str:
    lost = f" ({count - result.sent} lost)" if result.sent < count else ""
    return (
        f"  {name:<13} {result.rate:7.1f}/s = {result.rate / limit:.3f}   {result.rate_limited:5d} x 429{lost:<13} "
        f"{result.out_of_order:5d} out of order   CPU {result.cpu_per_1000:5.2f} s per 1,000"
    )


def bench(limit: float, seconds: float, per_chat: int, workers: list[int], database_url: str | None) -> None:
    chats = max(1, int(limit * seconds) // per_chat)
    count = chats * per_chat
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_emulator_child, args=(child, limit, chats), daemon=True)
    proc.start()
    base_url = parent.recv()
    backend = "PostgreSQL" if database_url and database_url.startswith("postgres") else "SQLite"
    print(f"limit {limit:g}/s: {count} messages, {per_chat} to each of {chats} chats ({backend})")
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        for n in workers:
            parent.send("reset")
            parent.recv()
            time.sleep(1.1)  # let the emulator's windows forget the last run's sends
            result = _run_workers(base_url, url, limit, n, chats, per_chat, parent)
            print(_line(f"{n} worker{'s' if n > 1 else ''}:", result, limit, count), flush=True)
    parent.send("reset")
    parent.recv()
    time.sleep(1.1)
    naive = asyncio.run(_run_naive(base_url, limit, chats, per_chat, parent))
    print(_line("naive sender:", naive, limit, count))
    parent.send("stop")
    proc.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limits", type=float, nargs="+", default=[30, 300], help="the bot's messages per second")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="numbers of workers to run")
    parser.add_argument("--seconds", type=float, default=20, help="messages = limit x seconds")
    parser.add_argument("--per-chat", type=int, default=3, help="messages to each chat (their order is checked)")
    parser.add_argument("--database-url", help="a database for the benchmark (default: a temporary SQLite file)")
    args = parser.parse_args()
    print(f"bench/delivery.py on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for limit in args.limits:
        bench(limit, args.seconds, args.per_chat, args.workers, args.database_url)


if __name__ == "__main__":
    main()
