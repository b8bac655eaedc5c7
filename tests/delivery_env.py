"""What the delivery tests share: a database, the emulator, the worker's bot, and helpers to fill the outbox
and run workers until it is drained. Each test module makes its fixtures from ``delivery_env`` and
``pg_delivery_env``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiogram import Bot
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import create_bot
from bot.config import Settings, load_settings
from bot.delivery import DeliveryConfig, DeliveryWorker
from bot.i18n import create_i18n
from bot.scheduler import create_scheduler
from dialogs import outbox
from emulator import BotAPIEmulator
from storage import outbox as store
from storage.db import create_engine, create_sessionmaker
from storage.models import Person
from storage.outbox import OutboxMessage

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-delivery"


@dataclass
class Env:
    url: str
    emu: BotAPIEmulator
    sessions: async_sessionmaker[AsyncSession]
    bot: Bot
    i18n: I18n

    def worker(
        self,
        rate: float = 300,
        *,
        worker_id: str = "w1",
        now: Callable[[], datetime] | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        **kw: object,
    ) -> DeliveryWorker:
        config = DeliveryConfig(worker_id=worker_id, rate_per_second=rate, **kw)  # type: ignore[arg-type]
        extra = {"now": now} if now else {}
        return DeliveryWorker(sessions or self.sessions, self.bot, self.i18n, config, **extra)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def delivery_env(url: str) -> AsyncIterator[Env]:
    engine = create_engine(url)
    async with BotAPIEmulator() as emu:
        settings = load_settings(Settings, bot_token=TOKEN, telegram_api_url=emu.base_url, database_url=url)
        bot = create_bot(settings, retry_transient=False)  # the worker's own client, as bot.runtime builds it
        try:
            yield Env(url, emu, create_sessionmaker(engine), bot, create_i18n(ROOT / "locales", "de"))
        finally:
            await bot.session.close()
            await engine.dispose()


@contextlib.asynccontextmanager
async def pg_delivery_env(postgres_url: str) -> AsyncIterator[Env]:
    """PostgreSQL only: several workers on several machines share one outbox there."""
    from storage.migrate import upgrade

    await upgrade(postgres_url)
    async with delivery_env(postgres_url) as environment:
        yield environment


async def people(
    env: Env, count: int, *, first_id: int = 10_000, language: str = "de", start: bool = True
) -> list[Person]:
    """Persons in the database; with ``start`` also users who wrote /start to the bot in the emulator."""
    found = [
        Person(telegram_user_id=user_id, chat_id=user_id, language=language, roles=[])
        for user_id in range(first_id, first_id + count)
    ]
    if start:
        for person in found:
            await env.emu.user(person.telegram_user_id or 0, "U", language).send("/start")
    async with env.sessions() as session:
        session.add_all(found)
        await session.commit()
    return found


async def schedule_texts(env: Env, recipients: list[Person], prefix: str = "m", **kw: object) -> None:
    drafts = [
        outbox.Draft(key=f"{prefix}:{i}", person_id=p.id, text=f"{prefix}{i}", **kw)  # type: ignore[arg-type]
        for i, p in enumerate(recipients)
    ]
    async with env.sessions() as session:
        await outbox.schedule_many(session, drafts)
        await session.commit()


async def schedule_rounds(env: Env, recipients: list[Person], rounds: int) -> None:
    """``rounds`` messages to each recipient, scheduled round by round (so a chat's rows are not
    neighbours in the table); the text is ``"<user id>:<round>"``, so the order a chat got them in shows."""
    drafts = [
        outbox.Draft(key=f"r:{p.telegram_user_id}:{k}", person_id=p.id, text=f"{p.telegram_user_id}:{k}")
        for k in range(rounds)
        for p in recipients
    ]
    async with env.sessions() as session:
        await outbox.schedule_many(session, drafts)
        await session.commit()


def out_of_order_chats(env: Env) -> list[int]:
    """Chats whose messages (texts ``"<chat>:<round>"``) the emulator accepted out of their rounds' order."""
    rounds: dict[int, list[int]] = {}
    for record in sorted(env.emu.sent_messages, key=lambda r: r.time):
        rounds.setdefault(record.chat_id, []).append(int(record.text.rsplit(":", 1)[1]))
    return [chat for chat, seen in rounds.items() if seen != sorted(seen)]


async def counts(env: Env) -> dict[str, int]:
    async with env.sessions() as session:
        return (await store.summary(session)).counts


async def drain(env: Env, *workers: DeliveryWorker, timeout: float = 60) -> None:  # noqa: ASYNC109
    """Run the workers with their schedulers until nothing is pending or being sent."""
    schedulers = [create_scheduler(worker=w) for w in workers]
    for w, s in zip(workers, schedulers, strict=True):
        await w.start()
        s.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            c = await counts(env)
            if not c.get("pending") and not c.get("sending") and all(w.idle for w in workers):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not drained in {timeout}s: {c}")
            await asyncio.sleep(0.05)
    finally:
        for w, s in zip(workers, schedulers, strict=True):
            s.shutdown(wait=False)
            await w.stop()


async def rows(env: Env) -> list[OutboxMessage]:
    async with env.sessions() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())  # type: ignore[arg-type]
