"""The real bot, polling the emulator, on a real database: the deepest level of our tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.config import Settings, load_settings
from bot.runtime import Runtime, runtime
from dialogs.feature import Feature
from dialogs.registry import FEATURES
from emulator import BotAPIEmulator

TOKEN = "123456:TEST-TOKEN"


@dataclass
class Harness:
    emu: BotAPIEmulator
    rt: Runtime
    settings: Settings


def report_handled_updates(dp: Dispatcher, emu: BotAPIEmulator) -> None:
    """Tell the emulator when the dispatcher is done with an update, error handlers included, so a scripted
    user's ``settled()`` returns the moment the bot's answer is complete instead of after a quiet spell.

    Only observes: the real ``feed_update`` (polling and webhook both go through it) runs unchanged.
    """
    feed_update = dp.feed_update

    async def feed_and_report(bot: Bot, update: Update, **kwargs: Any) -> Any:
        try:
            return await feed_update(bot, update, **kwargs)
        finally:
            emu.mark_handled(update.update_id)

    dp.feed_update = feed_and_report  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def running_bot(
    database_url: str,
    *,
    emu: BotAPIEmulator | None = None,
    features: Sequence[Feature] = FEATURES,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """Start the emulator (unless one is given: a bot restart keeps Telegram's side) and the bot polling it.

    ``features``: the registry by default; a test may run the real runtime with features of its own.
    """
    async with contextlib.AsyncExitStack() as stack:
        if emu is None:
            emu = await stack.enter_async_context(BotAPIEmulator())
        settings = load_settings(
            Settings,
            bot_token=TOKEN,
            telegram_api_url=emu.base_url,
            database_url=database_url,
            **overrides,
        )
        async with runtime(settings, features=features) as rt:
            report_handled_updates(rt.dp, emu)
            task = asyncio.create_task(
                rt.dp.start_polling(rt.bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
            )
            try:
                yield Harness(emu, rt, settings)
            finally:
                if rt.dp._running_lock.locked():
                    await rt.dp.stop_polling()
                await asyncio.wait_for(task, 10)
