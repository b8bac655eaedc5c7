"""Start-up shared by polling, webhook and demo: check the schema, build the services, run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    AiogramError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.types import User
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
    dp["delivery"] = delivery  # the update middleware wakes it after committing a row due now
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


async def check_bot_api(settings: Settings, *, request_timeout: int = 10) -> User:
    """Ask the Bot API who we are, once, before anything else talks to it.

    A wrong token or an unreachable API is an operator's mistake that no retry will fix: it stops start-up
    with one line naming the setting (``ConfigError``) instead of a traceback from the first real call.
    """
    url = settings.telegram_api_url
    bot = create_bot(settings, retry_transient=False)
    try:
        return await bot.get_me(request_timeout=request_timeout)
    except TelegramUnauthorizedError:
        raise ConfigError(f"BOT_TOKEN was refused by the Bot API at {url} (401 Unauthorized)") from None
    except TelegramNotFound:
        raise ConfigError(
            f"BOT_TOKEN or TELEGRAM_API_URL is wrong: {url} answered 404 Not Found to getMe"
        ) from None
    except TelegramNetworkError as exc:
        reason = _without(exc.message, settings.bot_token.get_secret_value())
        raise ConfigError(f"TELEGRAM_API_URL: cannot reach the Bot API at {url} ({reason})") from None
    except AiogramError as exc:  # a 5xx, or an answer that is not the Bot API's JSON
        reason = _without(str(exc).splitlines()[0], settings.bot_token.get_secret_value())
        raise ConfigError(f"TELEGRAM_API_URL: {url} did not answer getMe as a Bot API does ({reason})") from None
    finally:
        await bot.session.close()


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "<BOT_TOKEN>")


async def preflight(settings: Settings) -> User:
    """The checks every long-running command makes first: the database (``ensure_schema``), then the Bot API.

    The database comes first so that its error is the one reported when both are wrong.
    """
    await ensure_schema(settings.database_url)
    return await check_bot_api(settings)


async def stop_scheduler(scheduler: AsyncIOScheduler | None, timeout: float = 2.0) -> None:  # noqa: ASYNC109
    """Start no more jobs, let those running finish (up to ``timeout``), then shut the scheduler down.

    APScheduler's own ``shutdown`` cancels a running coroutine job and logs that as the job's failure,
    with a traceback: at almost every stop the worker's tick was in the middle of a claim.
    """
    if scheduler is None or not scheduler.running:
        return
    scheduler.pause()
    running = [
        future
        for executor in scheduler._executors.values()  # no public view of the jobs running now
        for future in getattr(executor, "_pending_futures", ())
        if not future.done()
    ]
    if running:
        _done, pending = await asyncio.wait(running, timeout=timeout)
        if pending:
            log.warning("%d scheduled jobs still running after %.0f s: cancelled", len(pending), timeout)
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback; after it, ``running`` is False


async def run_polling(settings: Settings) -> None:
    me = await preflight(settings)
    async with runtime(settings) as rt:
        log.info("polling as @%s against %s", me.username, settings.telegram_api_url)
        # SIGTERM and SIGINT stop polling gracefully: the update in hand finishes, nothing is lost.
        await rt.dp.start_polling(rt.bot, handle_signals=True, close_bot_session=False)
        await stop_scheduler(rt.scheduler)
    log.info("polling stopped")
