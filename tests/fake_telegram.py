"""Telegram at the edge, in process: an aiogram session that records every request and answers it as the
Bot API would, without a network. For tests that feed thousands of updates straight into the dispatcher,
where the HTTP emulator's round trips would cost more than the bot's own work.

Only the answer's shape is faked (a ``Message`` in the chat it was sent to, ``True``, the bot's ``User``);
aiogram parses it with its own response parser, as it parses Telegram's.
"""

from __future__ import annotations

import itertools
import json
import time
import types
import typing
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, InputFile, Message, MessageId, User
from pydantic import BaseModel

BOT_USERNAME = "proconnect_test_bot"

# Which field of a sent message holds the file, per method: the answer carries it as Telegram's would, so
# code that looks at the sent message (aiogram-dialog decides between edit and resend by it) sees media.
_MEDIA = {
    "sendDocument": ("document", {"file_id": "doc", "file_unique_id": "doc-u"}),
    "sendPhoto": ("photo", [{"file_id": "photo", "file_unique_id": "photo-u", "width": 1, "height": 1}]),
    "sendVoice": ("voice", {"file_id": "voice", "file_unique_id": "voice-u", "duration": 1}),
    "sendAudio": ("audio", {"file_id": "audio", "file_unique_id": "audio-u", "duration": 1}),
    "sendVideo": ("video", {"file_id": "video", "file_unique_id": "video-u", "width": 1, "height": 1,
                            "duration": 1}),
    "sendAnimation": ("animation", {"file_id": "anim", "file_unique_id": "anim-u", "width": 1, "height": 1,
                                    "duration": 1}),
}


@dataclass
class Request:
    """One call the bot made: the method, where it went, every string it carried, whether it carried a file."""

    method: str
    chat_id: int | str | None
    text: str | None  # the message text or caption as sent
    strings: list[str] = field(default_factory=list)  # all of them: text, buttons, file names, file contents
    has_file: bool = False
    callback_query_id: str | None = None

    def carries(self, needle: str) -> bool:
        return any(needle in s for s in self.strings)


def _collect(value: Any, strings: list[str]) -> bool:
    """Every string inside ``value`` into ``strings``; True when a file is among it."""
    if value is None or isinstance(value, Default | bool | int | float):
        return False
    if isinstance(value, str):
        strings.append(value)
        return False
    if isinstance(value, InputFile):
        if value.filename:
            strings.append(value.filename)
        if isinstance(value, BufferedInputFile):
            strings.append(value.data.decode("utf-8", "replace"))
        return True
    if isinstance(value, BaseModel):
        return any([_collect(getattr(value, name), strings) for name in type(value).model_fields])
    if isinstance(value, dict):
        return any([_collect(item, strings) for item in value.values()])
    if isinstance(value, list | tuple | set | frozenset):
        return any([_collect(item, strings) for item in value])
    strings.append(str(value))
    return False


class FakeTelegram(BaseSession):
    """Records requests in ``self.requests``; ``self.unsupported`` names methods it could not answer;
    ``self.shown`` keeps every message the bot sent or edited that has buttons, as Telegram would show it,
    so a test can press them (the newest last; edited ones keep their old versions: stale buttons)."""

    def __init__(self, bot_id: int = 123456) -> None:
        super().__init__()
        self.bot_user = {"id": bot_id, "is_bot": True, "first_name": "pro:connect", "username": BOT_USERNAME}
        self.requests: list[Request] = []
        self.unsupported: list[str] = []
        self.shown: list[dict[str, Any]] = []
        self._message_ids = itertools.count(1_000_000)

    async def close(self) -> None:
        pass

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None  # noqa: ASYNC109
    ) -> TelegramType:
        name = method.__api_method__
        strings: list[str] = []
        has_file = _collect(method, strings)
        chat_id = getattr(method, "chat_id", None)
        text = getattr(method, "text", None)
        if not isinstance(text, str):
            text = getattr(method, "caption", None)
        self.requests.append(Request(
            method=name,
            chat_id=chat_id,
            text=text if isinstance(text, str) else None,
            strings=strings,
            has_file=has_file,
            callback_query_id=getattr(method, "callback_query_id", None),
        ))
        result = self._result(method, method.__returning__)
        response = self.check_response(bot, method, 200, json.dumps({"ok": True, "result": result}))
        return typing.cast(TelegramType, response.result)

    def _result(self, method: TelegramMethod[Any], returning: Any) -> Any:
        origin = typing.get_origin(returning)
        if origin in (typing.Union, types.UnionType):
            options = typing.get_args(returning)
            # editMessageText and friends: a Message for a chat message, True for an inline one.
            if Message in options and getattr(method, "chat_id", None) is not None:
                return self._message(method)
            return self._result(method, next(o for o in options if o is not type(None)))
        if origin is list:
            return []
        if returning is Message:
            return self._message(method)
        if returning is User:
            return self.bot_user
        if returning is MessageId:
            return {"message_id": next(self._message_ids)}
        if returning is bool:
            return True
        if returning is str:
            return ""
        if returning is int:
            return 0
        self.unsupported.append(method.__api_method__)
        raise NotImplementedError(f"FakeTelegram cannot answer {method.__api_method__}")

    def _message(self, method: TelegramMethod[Any]) -> dict[str, Any]:
        chat_id = getattr(method, "chat_id", None)
        if not isinstance(chat_id, int):
            chat_id = -1  # "@channelname": a channel
        chat: dict[str, Any] = (
            {"id": chat_id, "type": "private", "first_name": "Someone"}
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": "A group"}
        )
        message_id = getattr(method, "message_id", None)
        message: dict[str, Any] = {
            "message_id": message_id if isinstance(message_id, int) else next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
        }
        text = getattr(method, "text", None)
        if isinstance(text, str):
            message["text"] = text
        caption = getattr(method, "caption", None)
        if isinstance(caption, str):
            message["caption"] = caption
        if method.__api_method__ in _MEDIA:
            key, payload = _MEDIA[method.__api_method__]
            message[key] = payload
        markup = getattr(method, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            message["reply_markup"] = markup.model_dump(mode="json", exclude_none=True)
            self.shown.append(message)
        return message

    def buttons(self) -> list[tuple[dict[str, Any], str]]:
        """Every (message, callback data) the bot has shown, newest first."""
        return [
            (message, button["callback_data"])
            for message in reversed(self.shown)
            for row in message["reply_markup"]["inline_keyboard"]
            for button in row
            if button.get("callback_data") is not None
        ]
