"""Delivery throughput and cost: the worker against the emulator enforcing Telegram's limits.

    .venv/bin/python bench/delivery.py [--limits 30 300] [--seconds 20] [--database-url URL]

For each limit L the emulator runs in a forked process (so the CPU time measured here is the worker's:
aiogram, the limiter, the database driver) and enforces L messages/s overall and 1/s per chat. The
outbox holds L x seconds messages to as many recipients. Printed per limit:

- achieved rate: messages / (last accept - first accept) on the emulator's clock, and its ratio to L
  (target >= 0.95), with the number of 429 answers (target 0);
- worker CPU seconds per 1,000 messages (process time of this process while sending);
- the baseline beside it: a naive sender (aiogram, no database, no limiter, one send every 1/L s on
  the event loop's clock) against the same emulator: its rate, its 429s, its CPU per 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:BENCH"
FIRST_USER = 1_000_000


def _emulator_child(conn: Connection, limit: float, users: int) -> None:
    """Serve the emulator until told to stop; report accept times and 429s."""
    from emulator import BotAPIEmulator

    async def serve() -> None:
        async with BotAPIEmulator() as emu:
            emu.faults.rate_limits(global_per_second=limit, per_chat_per_second=1, per_group_per_minute=20)
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
                        emu.faults.chat_windows.clear()
                        conn.send("ok")
                    elif command == "report":
                        conn.send(([r.time for r in emu.sent_messages], emu.stats.rate_limited))
                    else:
                        return

    asyncio.run(serve())


@dataclass
class Result:
    sent: int
    rate: float
    rate_limited: int
    cpu_per_1000: float


def _rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


async def _run_worker(base_url: str, database_url: str, limit: float, count: int, conn: Connection) -> Result:
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode

    from bot.delivery import DeliveryConfig, DeliveryWorker
    from bot.i18n import create_i18n
    from bot.scheduler import create_scheduler
    from dialogs import outbox
    from storage import outbox as store
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Person

    await upgrade(database_url)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        persons = [
            Person(telegram_user_id=uid, chat_id=uid, language="de", roles=[])
            for uid in range(FIRST_USER, FIRST_USER + count)
        ]
        session.add_all(persons)
        await session.flush()
        drafts = [outbox.Draft(key=f"bench:{p.id}", person_id=p.id, text="Bench <b>message</b>") for p in persons]
        await outbox.schedule_many(session, drafts)
        await session.commit()
    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    worker = DeliveryWorker(
        sessions, bot, create_i18n(ROOT / "locales", "de"), DeliveryConfig("bench", rate_per_second=limit)
    )
    scheduler = create_scheduler(worker=worker)
    cpu0 = time.process_time()
    await worker.start()
    scheduler.start()
    while worker.stats.sent < count:  # noqa: ASYNC110 - a bench polls its own counter
        await asyncio.sleep(0.05)
    scheduler.shutdown(wait=False)
    await worker.stop()
    cpu = time.process_time() - cpu0
    async with sessions() as session:
        counts = (await store.summary(session)).counts
    assert counts == {"sent": count}, counts
    await bot.session.close()
    await engine.dispose()
    conn.send("report")
    times, limited = conn.recv()
    return Result(len(times), _rate(times), limited, cpu / count * 1000)


async def _run_naive(base_url: str, limit: float, count: int, conn: Connection) -> Result:
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

    async def send(uid: int) -> None:
        try:
            await bot.send_message(uid, "Bench <b>message</b>")
        except TelegramRetryAfter:
            pass  # the naive sender just loses it: that is the point of the comparison

    cpu0 = time.process_time()
    tasks = []
    interval = 1 / limit
    start = time.monotonic()
    for i in range(count):
        tasks.append(asyncio.create_task(send(FIRST_USER + i)))
        await asyncio.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu0
    await bot.session.close()
    conn.send("report")
    times, limited = conn.recv()
    return Result(len(times), _rate(times), limited, cpu / count * 1000)


def bench(limit: float, seconds: float, database_url: str | None) -> None:
    count = int(limit * seconds)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_emulator_child, args=(child, limit, count), daemon=True)
    proc.start()
    base_url = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        worker = asyncio.run(_run_worker(base_url, url, limit, count, parent))
    parent.send("reset")
    parent.recv()
    time.sleep(1.1)  # let the emulator's windows forget the worker's sends
    naive = asyncio.run(_run_naive(base_url, limit, count, parent))
    parent.send("stop")
    proc.join(5)
    print(f"limit {limit:g}/s, {count} messages to {count} recipients ({'PostgreSQL' if database_url else 'SQLite'})")
    print(
        f"  worker:   {worker.rate:7.1f}/s = {worker.rate / limit:.3f} of the limit (target >= 0.95), "
        f"{worker.rate_limited} x 429, CPU {worker.cpu_per_1000:.2f} s per 1,000 messages"
    )
    print(
        f"  baseline: the limit {limit:g}/s; naive sender {naive.rate:7.1f}/s = {naive.rate / limit:.3f}, "
        f"{naive.rate_limited} x 429 ({naive.sent} of {count} delivered), CPU {naive.cpu_per_1000:.2f} s per 1,000"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limits", type=float, nargs="+", default=[30, 300])
    parser.add_argument("--seconds", type=float, default=20, help="messages = limit x seconds")
    parser.add_argument("--database-url", help="a migrated-or-empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    print(f"bench/delivery.py on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for limit in args.limits:
        bench(limit, args.seconds, args.database_url)


if __name__ == "__main__":
    main()
