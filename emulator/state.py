"""What the emulated Telegram knows: the bot, its chats and messages, files, open callback queries, logs.

Every area of the Bot API (:mod:`emulator.messages`, :mod:`emulator.settings`, :mod:`emulator.updates`)
and the scripted users (:mod:`emulator.users`) work on one :class:`EmulatorState`; none of them knows
the others. Nothing here talks HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.faults import Faults, Stats
from emulator.models import (
    JSON,
    BotMessage,
    CallbackAnswer,
    ChatAction,
    SentRecord,
    StoredFile,
    markup_buttons,
    markup_kind,
)

BOT_USERNAME = "proconnect_test_bot"
BOT_FIRST_NAME = "pro:connect (test)"
DEFAULT_BOT_ID = 123456
DEFAULT_MIME = {"voice": "audio/ogg", "video": "video/mp4", "animation": "video/mp4", "audio": "audio/mpeg"}


class Signal:
    """Wakes every waiter on ``fire()``; waiters re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109
        event = self._event
        if timeout <= 0:
            return False
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass
class StoredMessage:
    """A bot message with edits applied (the emulator's history)."""

    message_id: int
    chat_id: int
    date: int
    sender: JSON
    chat: JSON
    kind: str
    raw_text: str = ""
    text: str = ""
    parse_mode: str | None = None
    entities: Any = None
    reply_markup: JSON | None = None
    media: Any = None
    file: StoredFile | None = None
    edit_date: int | None = None
    deleted: bool = False
    extra: JSON = field(default_factory=dict)

    def to_json(self) -> JSON:
        msg: JSON = {"message_id": self.message_id, "from": self.sender, "chat": self.chat, "date": self.date}
        if self.kind == "text":
            msg["text"] = self.text
            if self.entities:
                msg["entities"] = self.entities
        else:
            msg[self.kind] = self.media
            if self.text:
                msg["caption"] = self.text
                if self.entities:
                    msg["caption_entities"] = self.entities
        if self.edit_date is not None:
            msg["edit_date"] = self.edit_date
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            msg["reply_markup"] = self.reply_markup
        msg.update(self.extra)
        return msg

    def snapshot(self) -> BotMessage:
        buttons, data = markup_buttons(self.reply_markup)
        return BotMessage(
            message_id=self.message_id,
            chat_id=self.chat_id,
            text=self.text,
            buttons=buttons,
            button_data=data,
            kind=self.kind,
            document_bytes=self.file.data if self.file else None,
            file_name=self.file.file_name if self.file else None,
            file_id=self.file.file_id if self.file else None,
            edited=self.edit_date is not None,
            deleted=self.deleted,
            keyboard=markup_kind(self.reply_markup),
            raw_text=self.raw_text,
            parse_mode=self.parse_mode,
            date=self.date,
            raw=self.to_json(),
        )


@dataclass
class ChatState:
    chat: JSON
    user: JSON | None = None  # the private chat's user
    started: bool = False  # the user has written to the bot
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)  # bot messages, oldest first
    user_messages: dict[int, JSON] = field(default_factory=dict)
    events: list[BotMessage] = field(default_factory=list)  # snapshots of sends and edits, in order
    answers: list[CallbackAnswer] = field(default_factory=list)
    reply_keyboard: StoredMessage | None = None
    last_activity: float = 0.0
    pending_updates: int = 0  # updates from this chat's user not yet confirmed/delivered
    signal: Signal = field(default_factory=Signal)

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    def new_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def touch(self) -> None:
        self.last_activity = time.monotonic()
        self.signal.fire()


@dataclass
class PendingCallback:
    """A callback query the bot has not answered yet."""

    user_id: int
    chat_id: int
    data: str | None


class EmulatorState:
    """The emulated Telegram's memory, shared by every part of the emulator."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0]) if token else DEFAULT_BOT_ID
        self.faults = Faults()
        self.stats = Stats()
        self.sent_messages: list[SentRecord] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[ChatAction] = []
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callbacks: dict[str, PendingCallback] = {}
        self._ids = itertools.count(1)

    # ----------------------------------------------------------------- identities
    def bot_json(self, bot_id: int | None = None) -> JSON:
        """The bot as a User object (``bot_id``: the id of the token of the current request)."""
        return {
            "id": self.bot_id if bot_id is None else bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

    def next_id(self) -> int:
        """A fresh number for file and callback query ids."""
        return next(self._ids)

    # ----------------------------------------------------------------- chats
    def private_chat(self, user: JSON) -> ChatState:
        """The private chat with ``user`` (created on first use)."""
        chat = self.chats.get(user["id"])
        if chat is None:
            chat_json: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if user.get(key):
                    chat_json[key] = user[key]
            chat = self.chats[user["id"]] = ChatState(chat=chat_json, user=user)
        return chat

    def history(self, chat_id: int) -> list[BotMessage]:
        chat = self.chats.get(chat_id)
        return [m.snapshot() for m in chat.messages.values()] if chat else []

    def messages(self, chat_id: int) -> list[BotMessage]:
        chat = self.chats.get(chat_id)
        return [m.snapshot() for m in chat.messages.values() if not m.deleted] if chat else []

    # ----------------------------------------------------------------- files
    def store_file(
        self, data: bytes, kind: str, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        """Keep bytes as a Telegram file (getFile and the download route serve it)."""
        n = self.next_id()
        file_id = f"{kind[:2].upper()}AC{n:06d}{secrets.token_urlsafe(12)}"
        if mime_type is None or mime_type == "application/octet-stream":
            guessed = mimetypes.guess_type(file_name)[0] if file_name else None
            mime_type = guessed or DEFAULT_MIME.get(kind, mime_type)
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        elif kind == "photo":
            suffix = ".jpg"
        elif kind == "voice":
            suffix = ".oga"
        folder = "photos" if kind == "photo" else kind + "s"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=f"AgAD{n:08d}",
            data=bytes(data),
            file_name=file_name,
            mime_type=mime_type,
            kind=kind,
            file_path=f"{folder}/file_{n}{suffix}",
        )
        self.files[file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored
