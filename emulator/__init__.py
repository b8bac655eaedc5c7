"""A local stand-in for the Telegram Bot API over HTTP, with scripted users and switchable faults.

Usage::

    async with BotAPIEmulator() as emu:
        bot = Bot("123456:TEST", session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        alice = emu.user(1001, "Alice", "de")
        await alice.send("/start")
        reply = await alice.wait_message()

Imports nothing of the project: only the standard library and aiohttp.
"""

from emulator.faults import Faults, SlidingWindow, Stats
from emulator.models import (
    ApiError,
    BotMessage,
    ButtonNotFound,
    CallbackAnswer,
    ChatAction,
    EmulatorTimeout,
    SentRecord,
    StoredFile,
)
from emulator.server import BOT_USERNAME, BotAPIEmulator
from emulator.users import ScriptedUser

__all__ = [
    "BOT_USERNAME",
    "ApiError",
    "BotAPIEmulator",
    "BotMessage",
    "ButtonNotFound",
    "CallbackAnswer",
    "ChatAction",
    "EmulatorTimeout",
    "Faults",
    "ScriptedUser",
    "SentRecord",
    "SlidingWindow",
    "Stats",
    "StoredFile",
]
