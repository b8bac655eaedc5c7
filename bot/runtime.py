"""Start-up shared by polling, webhook and demo: check the schema, build the services, run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import create_bot, create_dispatcher, set_commands
from bot.config import ConfigError, Settings
from bot.delivery import DeliveryWorker, create_worker
from bot.i18n import create_i18n
from bot.scheduler import AsyncIOScheduler, add_cron_job, create_scheduler
from dialogs.feature import Feature
from dialogs.people import reconcile_coordinators
from dialogs.registry import FEATURES
from storage.db import create_engine, create_sessionmaker
from storage.migrate import SchemaState, schema_status, upgrade
from storage.uow import unit_of_work

log = logging.getLogger(__name__)


async def ensure_schema(database_url: str) -> None:
    """Refuse to run on a database that is behind; a brand-new empty one is created at head.

    An empty database has nothing to lose, so the embedded default just works on first start. A database
    with data is never migrated implicitly: that is the operator's decision (``proconnect migrate``),
    taken after a backup.
    """
    try:
        status = await schema_status(database_url)
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError(f"DATABASE_URL: cannot open the database ({reason})") from None
    if status.state is SchemaState.EMPTY:
        log.info("new empty database: creating the schema")
        await upgrade(database_url)
    elif status.state is SchemaState.BEHIND:
        raise ConfigError(
            f"DATABASE_URL points to a database at revision {status.current}, behind {status.head}: "
            "run `proconnect migrate` first"
        )
    elif status.state is SchemaState.UNKNOWN:
        raise ConfigError(
            f"DATABASE_URL points to a database this version does not know (revision {status.current}): "
            "is it another program's, or from a newer pro:connect?"
        )


async def reconcile_roles(sessionmaker: async_sessionmaker[AsyncSession], coordinator_ids: frozenset[int]) -> None:
    """COORDINATOR_IDS is the truth: a person taken off the list loses the role at this start, logged."""
    async with unit_of_work(sessionmaker) as session:
        added, removed = await reconcile_coordinators(session, coordinator_ids)
    for person_id in added:
        log.info("coordinator role given to person #%d (listed in COORDINATOR_IDS)", person_id)
    for person_id in removed:
        log.warning("coordinator role taken from person #%d (no longer in COORDINATOR_IDS)", person_id)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bot: Bot
    dp: Dispatcher
    delivery: DeliveryWorker | None = None  # None with DELIVERY_ENABLED=false (dedicated workers send)
    scheduler: AsyncIOScheduler | None = None  # cron jobs: bot.scheduler.add_cron_job(rt.scheduler, ...)


@asynccontextmanager
async def runtime(settings: Settings, *, features: Sequence[Feature] = FEATURES) -> AsyncIterator[Runtime]:
    """Everything the bot needs, opened in order and closed in reverse."""
    await ensure_schema(settings.database_url)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    await reconcile_roles(sessionmaker, settings.coordinator_ids)
    i18n = create_i18n(settings.locales_dir, settings.default_language)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, sessionmaker=sessionmaker, i18n=i18n, features=features)
    delivery_bot = create_bot(settings, retry_transient=False) if settings.delivery_enabled else None
    delivery = (
        create_worker(settings, sessionmaker=sessionmaker, bot=delivery_bot, i18n=i18n, features=features)
        if delivery_bot is not None
        else None
    )
    scheduler = create_scheduler(settings.timezone, worker=delivery)
    services = {"sessionmaker": sessionmaker, "settings": settings}
    for feature in features:
        for job in feature.jobs:
            add_cron_job(scheduler, job.job, job_id=job.id, cron=job.cron, **job.build(services))
    dp["delivery"] = delivery  # a handler that committed an urgent outbox row may call delivery.wake()
    try:
        await set_commands(bot, dp, i18n)
        if delivery is not None:
            await delivery.start()
        scheduler.start()
        yield Runtime(settings, engine, sessionmaker, bot, dp, delivery, scheduler)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        if delivery is not None:
            await delivery.stop()  # before the bot session closes: sends in flight finish
        await dp.storage.close()
        await dp.fsm.events_isolation.close()
        if delivery_bot is not None:
            await delivery_bot.session.close()
        await bot.session.close()
        await engine.dispose()


async def run_polling(settings: Settings) -> None:
    async with runtime(settings) as rt:
        me = await rt.bot.get_me()
        log.info("polling as @%s against %s", me.username, settings.telegram_api_url)
        # SIGTERM and SIGINT stop polling gracefully: the update in hand finishes, nothing is lost.
        await rt.dp.start_polling(rt.bot, handle_signals=True, close_bot_session=False)
