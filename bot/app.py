"""Factories for the bot and the dispatcher. Nothing here runs at import time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n
from aiogram_dialog import setup_dialogs
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from bot.errors import build_router as build_error_router
from bot.guards import DatabaseHealth, IgnoreSenders, NormaliseText, PrivateChatsOnly
from bot.i18n import PersonLocaleMiddleware
from bot.middlewares import DbSessionMiddleware, PersonMiddleware
from bot.navigation import Navigation, build_router, build_stale_dialog_router, fallback_router
from bot.retry import RetryTransientErrors
from dialogs.feature import Feature
from dialogs.registry import FEATURES

log = logging.getLogger(__name__)


def create_bot(settings: Settings, *, retry_transient: bool = True) -> Bot:
    """The Bot API client. Replies retry transient failures at once; the delivery worker, which paces
    itself under Telegram's limits and has its own backoff, gets a client without that retry."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    if retry_transient:
        session.middleware(RetryTransientErrors())
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        # Plain text: names and answers people type can never be taken as markup.
        default=DefaultBotProperties(link_preview_is_disabled=True),
    )


def create_fsm(settings: Settings) -> tuple[BaseStorage, BaseEventIsolation]:
    """Redis keeps dialog state and serialises a user's updates across processes; memory for one process."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisEventIsolation, RedisStorage

        storage = RedisStorage.from_url(settings.redis_url, key_builder=DefaultKeyBuilder(with_destiny=True))
        return storage, RedisEventIsolation(storage.redis)
    return MemoryStorage(), SimpleEventIsolation()


def _includer(dp: Dispatcher) -> Callable[[Router], None]:
    """Include module-level routers, detaching them from an earlier dispatcher of this process.

    Routers are stateless declarations (one per module, as aiogram recommends); a process that builds a
    second dispatcher (tests, a restart in place) re-attaches them instead of failing.
    """

    def include(router: Router) -> None:
        previous = router.parent_router
        if previous is not None and previous is not dp:
            previous.sub_routers.remove(router)
            router._parent_router = None
        dp.include_router(router)

    return include


def create_dispatcher(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    fsm: tuple[BaseStorage, BaseEventIsolation] | None = None,
    features: Sequence[Feature] = FEATURES,
) -> Dispatcher:
    """The dispatcher with every feature of ``features`` (the registry unless a test gives others)."""
    storage, isolation = fsm or create_fsm(settings)
    navigation = Navigation(features)
    dp = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,
        i18n=i18n,
        sessionmaker=sessionmaker,
        navigator=navigation,
    )
    for feature in features:
        for key, service in feature.services.items():
            dp[key] = service
    health = DatabaseHealth()
    # Order matters: bots and channels are dropped before anything is opened; the session exists before the
    # person is loaded, the person before the locale, the locale before a group gets its one line.
    dp.update.outer_middleware(IgnoreSenders())
    dp.update.outer_middleware(DbSessionMiddleware(sessionmaker, health))
    dp.update.outer_middleware(PersonMiddleware(settings.coordinator_ids))
    dp.update.outer_middleware(PersonLocaleMiddleware(i18n))
    dp.update.outer_middleware(PrivateChatsOnly())
    dp.message.outer_middleware(NormaliseText())
    include = _includer(dp)
    include(build_stale_dialog_router(navigation))
    include(build_error_router(health))  # after the stale-dialog recovery: whatever it does not take
    include(build_router(navigation))  # first: /start, /help, /menu, /cancel and the menu work inside any dialog
    for feature in features:  # plain commands and callbacks before any dialog's text input
        for router in feature.routers:
            include(router)
    for feature in features:
        for dialog in feature.dialogs:
            include(dialog)
    include(fallback_router)  # last: takes only what no feature took
    dp["dialog_bg_factory"] = setup_dialogs(dp)
    return dp


async def set_commands(bot: Bot, dp: Dispatcher, i18n: I18n) -> None:
    """Publish the command menu per language; a Bot API stand-in without the method is not fatal."""
    navigation: Navigation = dp["navigator"]
    try:
        for locale in [None, *sorted(i18n.available_locales)]:
            commands: list[BotCommand] = navigation.bot_commands(i18n, locale or i18n.default_locale)
            await bot.set_my_commands(commands, language_code=locale)
    except Exception as exc:  # any stand-in's answer, even a non-JSON 404, must not stop start-up
        log.warning("could not set the command menu: %s", type(exc).__name__)
