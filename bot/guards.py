"""What reaches the features at all: no bots, no channels, clean text, and personal things only in private.

Outer middlewares, each a few lines, registered by ``bot/app.py`` in the order the docstrings say.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    Update,
    User,
)
from aiogram.utils.i18n import gettext as _

from dialogs.text import N_

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

#: Longest text a handler sees; Telegram's own limit for a message, so nothing a person can send is cut.
TEXT_MAX = 4096
# C0 and C1 control characters except tab and newline, and the non-characters PostgreSQL refuses (NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

STALE = N_("This button is no longer valid. Please use the newest message.")
PRIVATE_ONLY = N_("🔒 I answer only in a private chat, so that your data stays private. Please write to me there.")
OPEN_PRIVATE = N_("💬 Open the private chat")


def normalise_text(text: str, limit: int = TEXT_MAX) -> str:
    """Text as the services may store it: control characters (NUL first of all) removed, NFC, at most ``limit``."""
    return unicodedata.normalize("NFC", _CONTROL.sub("", text))[:limit]


class IgnoreSenders(BaseMiddleware):
    """First: updates from bots (an anonymous group admin writes as a bot) and channel posts are not people
    talking to us; they are dropped quietly, before a database session is opened."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if isinstance(event, Update) and (event.channel_post or event.edited_channel_post):
            return None
        if user is not None and user.is_bot:
            return None
        return await handler(event, data)


class NormaliseText(BaseMiddleware):
    """On messages: the text and caption every handler sees are normalised (``normalise_text``)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message):
            changes: dict[str, Any] = {
                name: clean
                for name in ("text", "caption")
                if (value := getattr(event, name)) is not None and (clean := normalise_text(value)) != value
            }
            if changes:
                # Entities point into the original text; after a change they would point elsewhere.
                changes |= {"entities": None, "caption_entities": None}
                event = event.model_copy(update=changes).as_(data["bot"])
        return await handler(event, data)


class PrivateChatsOnly(BaseMiddleware):
    """Last of the update middlewares: in a group, a command or a button press gets one line in the sender's
    language with a button to the private chat; nothing is stored, nothing personal is shown there, and plain
    group chatter gets no answer at all."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        if isinstance(event, Update) and event.callback_query is not None and _not_ours(event.callback_query):
            # No message (an inline message's button) or no data (a game button): nothing of ours was pressed.
            await event.callback_query.answer(_(STALE), show_alert=True)
            return None
        if not is_group(chat) or not isinstance(event, Update):
            return await handler(event, data)
        bot: Bot = data["bot"]
        if event.callback_query is not None:
            await _answer_callback(event.callback_query)
        elif event.message is not None and _addressed_to_bot(event.message, await _username(bot)):
            me = await _username(bot)
            button = InlineKeyboardButton(text=_(OPEN_PRIVATE), url=f"https://t.me/{me}")
            await event.message.reply(_(PRIVATE_ONLY), reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))
        return None


def _not_ours(query: CallbackQuery) -> bool:
    """A button this bot cannot have sent: it sends no inline-mode messages and no buttons without data."""
    return query.message is None or query.data is None


def is_group(chat: Chat | None) -> bool:
    """A chat with several people in it (aiogram-dialog's own background events carry a chat of no type)."""
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL)


async def _answer_callback(query: CallbackQuery) -> None:
    await query.answer(_(PRIVATE_ONLY), show_alert=True)


async def _username(bot: Bot) -> str:
    me = await bot.me()  # cached by aiogram after the first call
    return me.username or ""


def _addressed_to_bot(message: Message, username: str) -> bool:
    text = message.text or message.caption or ""
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        return "@" not in command or command.lower().endswith("@" + username.lower())
    return bool(username) and f"@{username.lower()}" in text.lower()


class DatabaseHealth:
    """One log line when the database stops answering, one when it is back: not a traceback per update."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.down_since: float | None = None
        self.refused = 0  # updates answered with "technical problem" during the outage

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = self.clock()
            self.refused = 0
            log.warning("database unreachable (%s): answering with a technical-problem message", type(exc).__name__)
        self.refused += 1

    def succeeded(self) -> None:
        if self.down_since is not None:
            log.warning(
                "database reachable again after %.0f s; %d updates were answered with the technical-problem message",
                self.clock() - self.down_since, self.refused,
            )
            self.down_since = None
