"""A local stand-in for the Telegram Bot API over HTTP.

The bot talks to it exactly as to ``api.telegram.org`` (aiogram:
``AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))``): ``{base}/bot{token}/{method}`` and
``{base}/file/bot{token}/{path}``. Scripted users (:mod:`emulator.users`) play the humans in-process.

One emulator serves one bot: the token's format is checked (and, when the emulator was given a token,
its value), the bot's id is the token's numeric prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from emulator.faults import Faults, Stats
from emulator.models import (
    JSON,
    ApiError,
    BotMessage,
    CallbackAnswer,
    ChatAction,
    SentRecord,
    StoredFile,
    bad_request,
    markup_buttons,
    markup_kind,
    same_json,
    utf16_len,
    validate_reply_markup,
    visible_text,
)
from emulator.users import ScriptedUser

log = logging.getLogger("emulator")

BOT_USERNAME = "proconnect_test_bot"
BOT_FIRST_NAME = "pro:connect (test)"
TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,100}$")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
ALL_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
        "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
        "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
        "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {"chat_member", "message_reaction", "message_reaction_count"}
JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "allowed_updates", "commands", "scope", "menu_button",
        "link_preview_options", "reply_parameters", "media", "results", "message_ids", "options",
        "explanation_entities", "prices", "rights",
    }
)  # fmt: skip
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)  # fmt: skip
MEDIA_KINDS = ("document", "photo", "audio", "voice", "video", "animation", "sticker", "video_note")
DEFAULT_MIME = {"voice": "audio/ogg", "video": "video/mp4", "animation": "video/mp4", "audio": "audio/mpeg"}
STALE_QUERY = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------- small pieces


class _Signal:
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
class Upload:
    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """The parameters of one call, whatever way they arrived; typed accessors raise 400 like Telegram."""

    def __init__(self, data: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.data = data
        self.files = files or {}

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "") or name in self.files

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        return (
            value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, dict | list)
            else str(value)
        )

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str, default: float = 0.0) -> float:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def get_json(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                if name == "reply_markup":
                    raise bad_request("can't parse reply keyboard markup JSON object") from None
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def file(self, name: str) -> Upload | str | None:
        if name in self.files:
            return self.files[name]
        value = self.data.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            key = value[len("attach://") :]
            if key not in self.files:
                raise bad_request(f"file of field {name} not found in the request")
            return self.files[key]
        return value if isinstance(value, str) and value else None


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
    signal: _Signal = field(default_factory=_Signal)

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
class _Queued:
    update_id: int
    update: JSON
    chat_id: int | None


@dataclass
class _PendingCallback:
    user_id: int
    chat_id: int
    data: str | None


Handler = Callable[[Params, int], Awaitable[Any]]


# --------------------------------------------------------------------------- the emulator


class BotAPIEmulator:
    """The Bot API on ``base_url``; see the module docstring and README of the package."""

    def __init__(self, token: str | None = None, *, webhook_attempts: int = 4) -> None:
        if token is not None and not TOKEN_RE.match(token):
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.faults = Faults()
        self.stats = Stats()
        self.sent_messages: list[SentRecord] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[ChatAction] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.menu_buttons: dict[int | None, JSON] = {}
        self.bot_settings: dict[tuple[str, str], str] = {}
        self.webhook_attempts = webhook_attempts
        self.webhook_dropped: list[JSON] = []
        self._bot_id = int(token.split(":")[0]) if token else 123456
        self._chats: dict[int, ChatState] = {}
        self._users: dict[int, ScriptedUser] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._updates: deque[_Queued] = deque()
        self._updates_signal = _Signal()
        self._next_update_id = 100_000_001
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._callbacks: dict[str, _PendingCallback] = {}
        self._ids = itertools.count(1)
        self._webhook: JSON | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._client: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._base_url: str | None = None
        self._closing = False
        self._methods: dict[str, Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendDocument": self._media_sender("document"),
                "sendPhoto": self._media_sender("photo"),
                "sendAudio": self._media_sender("audio"),
                "sendVoice": self._media_sender("voice"),
                "sendVideo": self._media_sender("video"),
                "sendAnimation": self._media_sender("animation"),
                "sendSticker": self._media_sender("sticker"),
                "sendVideoNote": self._media_sender("video_note"),
                "sendContact": self._send_contact,
                "sendLocation": self._send_location,
                "copyMessage": self._copy_message,
                "forwardMessage": self._forward_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "editMessageMedia": self._edit_message_media,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "answerCallbackQuery": self._answer_callback_query,
                "getFile": self._get_file,
                "sendChatAction": self._send_chat_action,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setChatMenuButton": self._set_chat_menu_button,
                "getChatMenuButton": self._get_chat_menu_button,
                "setMyDescription": self._bot_setting("description"),
                "getMyDescription": self._bot_getting("description"),
                "setMyShortDescription": self._bot_setting("short_description"),
                "getMyShortDescription": self._bot_getting("short_description"),
                "setMyName": self._bot_setting("name"),
                "getMyName": self._bot_getting("name"),
            }.items()
        }

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns ``base_url``."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already started")
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_get("/_emulator", self._control_summary)
        app.router.add_post("/_emulator/users/{user_id:\\d+}/{action}", self._control_user)
        app.router.add_get("/_emulator/users/{user_id:\\d+}/messages", self._control_messages)
        app.router.add_post("/_emulator/faults/{name}", self._control_fault)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host, port)
        await self._site.start()
        addresses = self._runner.addresses
        real_port = int(addresses[0][1]) if addresses else port
        shown_host = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown_host}:{real_port}"
        log.info("Bot API emulator on %s", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        """Wake long polls, stop webhook delivery, close the server. Safe to call twice."""
        self._closing = True
        self._updates_signal.fire()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- public helpers for tests
    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        language_code: str | None = "en",
        *,
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
    ) -> ScriptedUser:
        """The scripted user ``user_id`` (created on first call; later calls return the same one)."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user_json: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user_json["last_name"] = last_name
        if username:
            user_json["username"] = username
        if language_code:
            user_json["language_code"] = language_code
        chat_json: JSON = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            chat_json["last_name"] = last_name
        if username:
            chat_json["username"] = username
        self._chats.setdefault(user_id, ChatState(chat=chat_json, user=user_json))
        scripted = ScriptedUser(self, user_json, phone=phone or f"+4915{user_id:09d}"[:16])
        self._users[user_id] = scripted
        return scripted

    def group(self, chat_id: int, title: str = "Test group", type: str = "group") -> None:
        """Register a group chat the bot is a member of (chat ids of groups are negative)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self._chats.setdefault(
            chat_id, ChatState(chat={"id": chat_id, "type": type, "title": title}, started=True)
        )

    def history(self, chat_id: int) -> list[BotMessage]:
        """Every bot message of the chat, current state, deleted ones included (``deleted=True``)."""
        chat = self._chats.get(chat_id)
        return [m.snapshot() for m in chat.messages.values()] if chat else []

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot messages the user still sees in the chat, current state, oldest first."""
        chat = self._chats.get(chat_id)
        return [m.snapshot() for m in chat.messages.values() if not m.deleted] if chat else []

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id].data

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates or delivered to the webhook."""
        return [q.update for q in self._updates]

    @property
    def bot_user(self) -> JSON:
        return {"id": self._bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}

    def add_update(self, update: JSON) -> int:
        """Enqueue a raw update (``update_id`` is assigned when absent); returns its update_id."""
        kind = next((k for k in update if k != "update_id"), None)
        payload = update.get(kind) if kind else None
        chat_id: int | None = None
        if isinstance(payload, dict):
            chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
            sender = payload.get("from")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                chat_id = chat["id"]
                state = self._chats.get(chat["id"])
                if state is None:
                    state = self._chats[chat["id"]] = ChatState(chat=dict(chat), user=sender)
                if kind == "message":
                    state.started = True
            elif isinstance(sender, dict) and isinstance(sender.get("id"), int):
                chat_id = sender["id"]
        if "update_id" in update:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        else:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        if kind not in self._allowed_updates:
            return int(update["update_id"])
        self._updates.append(_Queued(int(update["update_id"]), update, chat_id))
        if chat_id is not None and chat_id in self._chats:
            state = self._chats[chat_id]
            state.pending_updates += 1
            state.touch()
        self._updates_signal.fire()
        return int(update["update_id"])

    # ----------------------------------------------------------------- HTTP
    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _handle_api(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        try:
            bot_id = self._check_token(request.match_info["token"])
            name = request.match_info["method"].lower()
            handler = self._methods.get(name)
            if handler is None:
                raise ApiError(404, "Not Found")
            self.stats.methods[name] += 1
            params = await self._read_params(request)
            if self.faults.delay:
                await asyncio.sleep(self.faults.delay)
            result = await self._call(name, handler, params, bot_id)
        except ApiError as error:
            self.stats.errors[error.code] += 1
            return web.json_response(error.payload(), status=error.code)
        return web.json_response({"ok": True, "result": result})

    async def _call(self, name: str, handler: Handler, params: Params, bot_id: int) -> Any:
        is_send = (name.startswith("send") and name != "sendchataction") or name in (
            "copymessage",
            "forwardmessage",
        )
        error = self.faults.server_error(is_send)
        if error is not None:
            self.stats.server_errors += 1
            raise error
        if is_send:
            error = self.faults.flooded()
            if error is not None:
                self._count_rate_limited(params)
                raise error
        return await handler(params, bot_id)

    def _count_rate_limited(self, params: Params) -> None:
        self.stats.rate_limited += 1
        with contextlib.suppress(ApiError):
            chat_id = params.get_int("chat_id")
            if chat_id is not None:
                per_chat = self.stats.rate_limited_per_chat
                per_chat[chat_id] = per_chat.get(chat_id, 0) + 1

    def _check_token(self, token: str) -> int:
        match = TOKEN_RE.match(token)
        if not match or (self.token is not None and token != self.token):
            raise ApiError(401, "Unauthorized")
        self._bot_id = int(match.group(1))
        return self._bot_id

    async def _read_params(self, request: web.Request) -> Params:
        data: dict[str, Any] = dict(request.query)
        files: dict[str, Upload] = {}
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if isinstance(body, dict):
                    data.update(body)
            elif ctype.startswith("multipart/"):
                await read_multipart(await request.multipart(), data, files)
            elif ctype == "application/x-www-form-urlencoded":
                form = await request.post()
                data.update({k: v for k, v in form.items() if isinstance(v, str)})
        return Params(data, files)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        try:
            self._check_token(request.match_info["token"])
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return await self._handle_unknown(request)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # ----------------------------------------------------------------- chats and access
    def _chat_for(self, params: Params, name: str = "chat_id") -> ChatState:
        raw = params.data.get(name)
        if raw is None or raw == "":
            raise bad_request(f"{name} is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, params: Params, name: str = "chat_id") -> ChatState:
        chat = self._chat_for(params, name)
        if chat.user is not None and chat.chat.get("type") == "private":
            error = self.faults.forbidden(chat.id)
            if error is not None:
                self.stats.forbidden += 1
                raise error
            if not chat.started:
                self.stats.forbidden += 1
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _bot_message(self, params: Params) -> StoredMessage:
        if params.has("inline_message_id"):
            raise bad_request("message to edit not found")
        chat = self._writable_chat(params)
        message_id = params.get_int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            if message_id in chat.user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return stored

    # ----------------------------------------------------------------- sending
    def _text_of(self, params: Params, name: str, limit: int, required: bool) -> tuple[str, str, str | None]:
        raw = params.get_str(name) or ""
        parse_mode = params.get_str("parse_mode") or None
        text = visible_text(raw, parse_mode) if raw else ""
        if required and not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > limit:
            raise bad_request("message is too long" if name == "text" else "message caption is too long")
        return raw, text, parse_mode

    def _commit_send(
        self, chat: ChatState, method: str, bot_id: int, kind: str, params: Params, **fields: Any
    ) -> JSON:
        """Rate-limit, store, log and announce one bot message; returns its Message JSON."""
        markup = validate_reply_markup(params.get_json("reply_markup"))
        now = time.monotonic()
        error = self.faults.take_send_slot(chat.id, now)
        if error is not None:
            self._count_rate_limited(params)
            raise error
        stored = StoredMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            date=int(time.time()),
            sender=self._bot_json(bot_id),
            chat=chat.chat,
            kind=kind,
            reply_markup=markup,
            **fields,
        )
        chat.messages[stored.message_id] = stored
        kind_of_markup = markup_kind(markup)
        if kind_of_markup == "reply":
            chat.reply_keyboard = stored
        elif kind_of_markup == "remove":
            chat.reply_keyboard = None
        self.stats.sends_ok += 1
        self.stats.per_chat_sends[chat.id] = self.stats.per_chat_sends.get(chat.id, 0) + 1
        self.sent_messages.append(SentRecord(chat.id, method, stored.message_id, now, stored.text))
        snapshot = stored.snapshot()
        chat.events.append(snapshot)
        chat.touch()
        return snapshot.raw

    def _bot_json(self, bot_id: int) -> JSON:
        return {"id": bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}

    async def _send_message(self, params: Params, bot_id: int) -> JSON:
        chat = self._writable_chat(params)
        raw, text, parse_mode = self._text_of(params, "text", MAX_TEXT, required=True)
        entities = params.get_json("entities")
        return self._commit_send(
            chat, "sendMessage", bot_id, "text", params,
            raw_text=raw, text=text, parse_mode=parse_mode, entities=entities,
        )  # fmt: skip

    def _media_sender(self, kind: str) -> Handler:
        method = "send" + "".join(part.capitalize() for part in kind.split("_"))

        async def send(params: Params, bot_id: int) -> JSON:
            chat = self._writable_chat(params)
            raw, text, parse_mode = self._text_of(params, "caption", MAX_CAPTION, required=False)
            stored_file = self._file_from_request(params, kind)
            return self._commit_send(
                chat, method, bot_id, kind, params,
                raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("caption_entities"),
                media=self._media_json(stored_file, kind, params), file=stored_file,
            )  # fmt: skip

        return send

    def store_file(
        self, data: bytes, kind: str, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        """Keep bytes as a Telegram file (getFile and the download route serve it)."""
        n = next(self._ids)
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
        self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _file_from_request(self, params: Params, kind: str) -> StoredFile:
        source = params.file(kind)
        if source is None:
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(source, Upload):
            if not source.data:
                raise bad_request("file must be non-empty")
            if len(source.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            return self.store_file(source.data, kind, source.filename, source.content_type)
        known = self._files.get(source)
        if known is not None:
            return known
        if source.startswith(("http://", "https://")):
            name = source.rstrip("/").rsplit("/", 1)[-1] or None
            return self.store_file(b"", kind, name)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _media_json(self, stored: StoredFile, kind: str, params: Params) -> Any:
        base: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        duration = params.get_int("duration", 1) or 1
        if kind == "photo":
            return [{**base, "width": 800, "height": 600}]
        if kind == "sticker":
            return {
                **base,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        if kind == "video_note":
            return {**base, "length": 240, "duration": duration}
        if kind in ("video", "animation"):
            base.update(width=640, height=480, duration=duration)
        elif kind in ("audio", "voice"):
            base["duration"] = duration
        if kind != "voice" and stored.file_name:
            base["file_name"] = stored.file_name
        if stored.mime_type:
            base["mime_type"] = stored.mime_type
        return base

    async def _send_contact(self, params: Params, bot_id: int) -> JSON:
        chat = self._writable_chat(params)
        phone = params.get_str("phone_number")
        first_name = params.get_str("first_name")
        if not phone or not first_name:
            raise bad_request("phone number or first name is empty")
        contact = {"phone_number": phone, "first_name": first_name}
        return self._commit_send(chat, "sendContact", bot_id, "contact", params, media=contact)

    async def _send_location(self, params: Params, bot_id: int) -> JSON:
        chat = self._writable_chat(params)
        location = {"latitude": params.get_float("latitude"), "longitude": params.get_float("longitude")}
        return self._commit_send(chat, "sendLocation", bot_id, "location", params, media=location)

    def _source_message(self, params: Params) -> tuple[JSON, StoredMessage | None]:
        source_chat = self._chat_for(params, "from_chat_id")
        message_id = params.get_int("message_id")
        if message_id is not None:
            stored = source_chat.messages.get(message_id)
            if stored is not None and not stored.deleted:
                return stored.to_json(), stored
            if message_id in source_chat.user_messages:
                return source_chat.user_messages[message_id], None
        raise bad_request("message to copy not found")

    def _copy_fields(self, source: JSON, stored: StoredMessage | None) -> tuple[str, dict[str, Any]]:
        if stored is not None:
            return stored.kind, {
                "raw_text": stored.raw_text, "text": stored.text, "parse_mode": stored.parse_mode,
                "entities": stored.entities, "media": stored.media, "file": stored.file,
            }  # fmt: skip
        for kind in (*MEDIA_KINDS, "contact", "location"):
            if kind in source:
                media = source[kind]
                file_id = (media[-1] if isinstance(media, list) else media).get("file_id")
                caption = source.get("caption", "")
                return kind, {
                    "raw_text": caption, "text": caption, "entities": source.get("caption_entities"),
                    "media": media, "file": self._files.get(file_id) if file_id else None,
                }  # fmt: skip
        text = source.get("text", "")
        return "text", {"raw_text": text, "text": text, "entities": source.get("entities")}

    async def _copy_message(self, params: Params, bot_id: int) -> JSON:
        chat = self._writable_chat(params)
        source, stored = self._source_message(params)
        kind, fields = self._copy_fields(source, stored)
        if params.has("caption") and kind != "text":
            raw, text, parse_mode = self._text_of(params, "caption", MAX_CAPTION, required=False)
            fields.update(
                raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("caption_entities")
            )
        message = self._commit_send(chat, "copyMessage", bot_id, kind, params, **fields)
        return {"message_id": message["message_id"]}

    async def _forward_message(self, params: Params, bot_id: int) -> JSON:
        chat = self._writable_chat(params)
        source, stored = self._source_message(params)
        kind, fields = self._copy_fields(source, stored)
        origin_user = source.get("from") or self._bot_json(bot_id)
        fields["extra"] = {
            "forward_origin": {"type": "user", "sender_user": origin_user, "date": source.get("date", 0)}
        }
        params.data.pop("reply_markup", None)
        return self._commit_send(chat, "forwardMessage", bot_id, kind, params, **fields)

    # ----------------------------------------------------------------- editing and deleting
    def _commit_edit(self, stored: StoredMessage, **changes: Any) -> JSON:
        before = (stored.raw_text, stored.parse_mode, stored.reply_markup, stored.media)
        after = (
            changes.get("raw_text", stored.raw_text),
            changes.get("parse_mode", stored.parse_mode),
            changes.get("reply_markup", stored.reply_markup),
            changes.get("media", stored.media),
        )
        if same_json(before, after):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message"
            )
        for key, value in changes.items():
            setattr(stored, key, value)
        stored.edit_date = int(time.time())
        chat = self._chats[stored.chat_id]
        snapshot = stored.snapshot()
        chat.events.append(snapshot)
        chat.touch()
        return snapshot.raw

    async def _edit_message_text(self, params: Params, bot_id: int) -> JSON:
        stored = self._bot_message(params)
        if stored.kind != "text":
            raise bad_request("there is no text in the message to edit")
        raw, text, parse_mode = self._text_of(params, "text", MAX_TEXT, required=True)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self._commit_edit(
            stored, raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("entities"),
            reply_markup=markup,
        )  # fmt: skip

    async def _edit_message_caption(self, params: Params, bot_id: int) -> JSON:
        stored = self._bot_message(params)
        if stored.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        raw, text, parse_mode = self._text_of(params, "caption", MAX_CAPTION, required=False)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self._commit_edit(
            stored, raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("caption_entities"),
            reply_markup=markup,
        )  # fmt: skip

    async def _edit_message_reply_markup(self, params: Params, bot_id: int) -> JSON:
        stored = self._bot_message(params)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self._commit_edit(stored, reply_markup=markup)

    async def _edit_message_media(self, params: Params, bot_id: int) -> JSON:
        stored = self._bot_message(params)
        media = params.get_json("media")
        if not isinstance(media, dict) or media.get("type") not in MEDIA_KINDS:
            raise bad_request("can't parse InputMedia JSON object")
        if stored.kind not in MEDIA_KINDS:
            raise bad_request("there is no media in the message to edit")
        kind = str(media["type"])
        inner = Params({kind: media.get("media"), **media}, params.files)
        stored_file = self._file_from_request(inner, kind)
        raw, text, parse_mode = self._text_of(inner, "caption", MAX_CAPTION, required=False)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self._commit_edit(
            stored, kind=kind, file=stored_file, media=self._media_json(stored_file, kind, inner),
            raw_text=raw, text=text, parse_mode=parse_mode, entities=media.get("caption_entities"),
            reply_markup=markup,
        )  # fmt: skip

    def _delete_one(self, chat: ChatState, message_id: int) -> bool:
        stored = chat.messages.get(message_id)
        if stored is not None and not stored.deleted:
            stored.deleted = True
            chat.touch()
            return True
        if chat.user_messages.pop(message_id, None) is not None:
            return True
        return False

    async def _delete_message(self, params: Params, bot_id: int) -> bool:
        chat = self._chat_for(params)
        message_id = params.get_int("message_id")
        if message_id is None or not self._delete_one(chat, message_id):
            raise bad_request("message to delete not found")
        return True

    async def _delete_messages(self, params: Params, bot_id: int) -> bool:
        chat = self._chat_for(params)
        ids = params.get_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            self._delete_one(chat, int(message_id))
        return True

    # ----------------------------------------------------------------- callbacks, files, misc
    async def _answer_callback_query(self, params: Params, bot_id: int) -> bool:
        query_id = params.get_str("callback_query_id") or ""
        pending = self._callbacks.pop(query_id, None)
        if pending is None:
            raise bad_request(STALE_QUERY)
        text = params.get_str("text") or ""
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            callback_query_id=query_id,
            user_id=pending.user_id,
            text=text,
            show_alert=params.get_bool("show_alert"),
            url=params.get_str("url"),
            time=time.monotonic(),
            data=pending.data,
        )
        self.callback_answers.append(answer)
        chat = self._chats.get(pending.chat_id)
        if chat is not None:
            chat.answers.append(answer)
            chat.touch()
        return True

    async def _get_file(self, params: Params, bot_id: int) -> JSON:
        stored = self._files.get(params.get_str("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _send_chat_action(self, params: Params, bot_id: int) -> bool:
        chat = self._writable_chat(params)
        action = params.get_str("action") or ""
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append(ChatAction(chat.id, action, time.monotonic()))
        return True

    def _commands_key(self, params: Params) -> tuple[str, str]:
        scope = params.get_json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get_str("language_code") or ""

    async def _set_my_commands(self, params: Params, bot_id: int) -> bool:
        commands = params.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: Params, bot_id: int) -> list[JSON]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: Params, bot_id: int) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_chat_menu_button(self, params: Params, bot_id: int) -> bool:
        chat_id = params.get_int("chat_id")
        if chat_id is not None and chat_id not in self._chats:
            raise bad_request("chat not found")
        button = params.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise bad_request("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: Params, bot_id: int) -> JSON:
        chat_id = params.get_int("chat_id")
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "default"}

    def _bot_setting(self, key: str) -> Handler:
        async def setter(params: Params, bot_id: int) -> bool:
            self.bot_settings[key, params.get_str("language_code") or ""] = params.get_str(key) or ""
            return True

        return setter

    def _bot_getting(self, key: str) -> Handler:
        async def getter(params: Params, bot_id: int) -> JSON:
            return {key: self.bot_settings.get((key, params.get_str("language_code") or ""), "")}

        return getter

    async def _true(self, params: Params, bot_id: int) -> bool:
        return True

    async def _get_me(self, params: Params, bot_id: int) -> JSON:
        return {
            **self._bot_json(bot_id),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ----------------------------------------------------------------- updates: polling
    def _set_allowed(self, params: Params) -> None:
        allowed = params.get_json("allowed_updates")
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        self._allowed_updates = frozenset(allowed) & ALL_UPDATE_TYPES if allowed else DEFAULT_UPDATE_TYPES
        kept: deque[_Queued] = deque()
        for queued in self._updates:
            if any(k in self._allowed_updates for k in queued.update if k != "update_id"):
                kept.append(queued)
            else:
                self._forget(queued)
        self._updates = kept

    def _forget(self, queued: _Queued) -> None:
        if queued.chat_id is not None:
            chat = self._chats.get(queued.chat_id)
            if chat is not None:
                chat.pending_updates -= 1
                chat.touch()

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:
            while len(updates) > -offset:
                self._forget(updates.popleft())
        else:
            while updates and updates[0].update_id < offset:
                self._forget(updates.popleft())

    def _webhook_conflict(self) -> ApiError:
        return ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                        "use deleteWebhook to delete the webhook first")  # fmt: skip

    async def _get_updates(self, params: Params, bot_id: int) -> list[JSON]:
        if self._webhook is not None:
            raise self._webhook_conflict()
        offset = params.get_int("offset", 0) or 0
        limit = min(100, max(1, params.get_int("limit", 100) or 100))
        timeout = max(0, params.get_int("timeout", 0) or 0)
        self._set_allowed(params)
        if offset:
            self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.fire()  # an older long poll sees the newer one and ends with 409
        deadline = time.monotonic() + timeout
        while True:
            if self._updates or self._closing:
                return [q.update for q in itertools.islice(self._updates, limit)]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            await self._updates_signal.wait(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                               "make sure that only one bot instance is running")  # fmt: skip
            if self._webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")

    # ----------------------------------------------------------------- updates: webhook
    async def _set_webhook(self, params: Params, bot_id: int) -> bool:
        url = params.get_str("url") or ""
        if not url:
            return await self._delete_webhook(params, bot_id)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        self._set_allowed(params)
        if params.get_bool("drop_pending_updates"):
            self._confirm(self._next_update_id)
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.get_int("max_connections", 40),
            "ip_address": params.get_str("ip_address"),
        }
        self._webhook_error = None
        self._updates_signal.fire()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_loop(), name="emulator-webhook")
        return True

    async def _delete_webhook(self, params: Params, bot_id: int) -> bool:
        self._webhook = None
        if params.get_bool("drop_pending_updates"):
            self._confirm(self._next_update_id)
        self._updates_signal.fire()
        return True

    async def _get_webhook_info(self, params: Params, bot_id: int) -> JSON:
        info: JSON = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook["ip_address"]:
                info["ip_address"] = self._webhook["ip_address"]
            if self._allowed_updates != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self._allowed_updates)
        if self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _webhook_loop(self) -> None:
        """Deliver queued updates one at a time, in order; retry a few times, then drop."""
        while not self._closing and self._webhook is not None:
            if not self._updates:
                await self._updates_signal.wait(1.0)
                continue
            queued = self._updates[0]
            delivered = False
            for attempt in range(self.webhook_attempts):
                if self._webhook is None or self._closing:
                    return
                if await self._post_update(self._webhook, queued.update):
                    delivered = True
                    break
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
            if not delivered:
                self.webhook_dropped.append(queued.update)
                log.warning(
                    "webhook: dropped update %s after %s attempts", queued.update_id, self.webhook_attempts
                )
            if self._updates and self._updates[0] is queued:
                self._forget(self._updates.popleft())

    async def _post_update(self, hook: JSON, update: JSON) -> bool:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {"Content-Type": "application/json"}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        try:
            async with self._client.post(hook["url"], data=json.dumps(update), headers=headers) as resp:
                if not 200 <= resp.status < 300:
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {resp.status} {resp.reason}",
                    )
                    self.stats.webhook_failures += 1
                    return False
                reply = await self._webhook_reply(resp)
        except (aiohttp.ClientError, TimeoutError) as error:
            self._webhook_error = (int(time.time()), f"Connection failed: {type(error).__name__}")
            self.stats.webhook_failures += 1
            return False
        self.stats.webhook_deliveries += 1
        if reply is not None:
            await self._run_webhook_reply(reply)
        return True

    async def _webhook_reply(self, resp: aiohttp.ClientResponse) -> Params | None:
        """A method call in the webhook's answer (JSON or form data), as Telegram allows."""
        data: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        ctype = resp.content_type
        try:
            if ctype == "application/json":
                body = await resp.json()
                if isinstance(body, dict):
                    data.update(body)
            elif ctype.startswith("multipart/"):
                await read_multipart(aiohttp.MultipartReader(resp.headers, resp.content), data, files)
        except ValueError:
            return None
        return Params(data, files) if data.get("method") else None

    async def _run_webhook_reply(self, params: Params) -> None:
        name = str(params.data.pop("method")).lower()
        handler = self._methods.get(name)
        if handler is None:
            return
        self.stats.requests += 1
        self.stats.methods[name] += 1
        try:
            await self._call(name, handler, params, self._bot_id)
        except ApiError as error:
            self.stats.errors[error.code] += 1
            log.info("webhook reply %s failed: %s", name, error)

    # ----------------------------------------------------------------- control API (standalone demo)
    # GET  /_emulator                          stats and known users
    # POST /_emulator/users/{id}/send          {"text": "...", "first_name"?, "language_code"?}
    # POST /_emulator/users/{id}/press         {"button": "..."} or {"callback_data": "...", "message_id"?}
    # POST /_emulator/users/{id}/contact       {"phone"?}
    # GET  /_emulator/users/{id}/messages      the bot messages in the chat, current state
    # POST /_emulator/faults/{name}            keyword arguments of Faults.<name> as JSON
    CONTROL_FAULTS = frozenset(
        {
            "rate_limits",
            "no_rate_limits",
            "flood",
            "block",
            "unblock",
            "deactivate",
            "server_errors",
            "latency",
            "reset",
        }
    )

    async def _control_summary(self, request: web.Request) -> web.Response:
        users = [
            {"id": u.id, "first_name": u.first_name, "messages": len(u.messages)}
            for u in self._users.values()
        ]
        return web.json_response(
            {"base_url": self._base_url, "stats": self._stats_snapshot(), "users": users}
        )

    async def _control_body(self, request: web.Request) -> JSON:
        if not request.body_exists:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="the body must be a JSON object")
        return body

    async def _control_user(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        user_id = int(request.match_info["user_id"])
        user = self._users.get(user_id) or self.user(
            user_id, str(body.get("first_name") or "Test"), body.get("language_code") or "en"
        )
        action = request.match_info["action"]
        result: Any
        try:
            if action == "send":
                result = await user.send(str(body.get("text", "")))
            elif action == "press" and "button" in body:
                result = await user.press(str(body["button"]))
            elif action == "press":
                result = await user.press_data(body.get("callback_data"), body.get("message_id"))
            elif action == "contact":
                result = await user.send_contact(body.get("phone"))
            else:
                raise web.HTTPNotFound(text=f"unknown action {action}")
        except LookupError as error:
            return web.json_response({"ok": False, "description": str(error)}, status=400)
        return web.json_response({"ok": True, "result": result})

    async def _control_messages(self, request: web.Request) -> web.Response:
        messages = self.messages(int(request.match_info["user_id"]))
        return web.json_response({"ok": True, "result": [message_summary(m) for m in messages]})

    async def _control_fault(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.CONTROL_FAULTS:
            raise web.HTTPNotFound(text=f"no fault {name}; choose from {sorted(self.CONTROL_FAULTS)}")
        body = await self._control_body(request)
        try:
            getattr(self.faults, name)(**body)
        except TypeError as error:
            return web.json_response({"ok": False, "description": str(error)}, status=400)
        return web.json_response({"ok": True})

    # ----------------------------------------------------------------- used by ScriptedUser
    def _chat_state(self, chat_id: int) -> ChatState:
        return self._chats[chat_id]

    def _user_message(self, user: JSON, content: JSON) -> JSON:
        chat = self._chats[user["id"]]
        chat.started = True
        message: JSON = {
            "message_id": chat.new_message_id(),
            "from": user,
            "chat": chat.chat,
            "date": int(time.time()),
            **content,
        }
        chat.user_messages[message["message_id"]] = message
        self.add_update({"message": message})
        return message

    def _user_edit(self, user: JSON, message_id: int, text: str) -> JSON:
        chat = self._chats[user["id"]]
        original = chat.user_messages.get(message_id)
        if original is None:
            raise LookupError(f"user {user['id']} has no message {message_id} to edit")
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        chat.user_messages[message_id] = edited
        self.add_update({"edited_message": edited})
        return edited

    def _user_callback(self, user: JSON, data: str | None, message: JSON | None) -> str:
        query_id = str(4_000_000_000_000_000_000 + next(self._ids))
        chat = self._chats[user["id"]]
        query: JSON = {
            "id": query_id,
            "from": user,
            "chat_instance": str(-7_000_000_000_000 - abs(chat.id)),
        }
        if message is not None:
            query["message"] = message
        if data is not None:
            query["data"] = data
        self._callbacks[query_id] = _PendingCallback(user["id"], chat.id, data)
        self.add_update({"callback_query": query})
        return query_id

    def _chat_member_update(self, user: JSON, old: str, new: str) -> None:
        chat = self._chats[user["id"]]
        now = int(time.time())
        self.add_update(
            {
                "my_chat_member": {
                    "chat": chat.chat,
                    "from": user,
                    "date": now,
                    "old_chat_member": {
                        "status": old,
                        "user": self.bot_user,
                        **({"until_date": 0} if old == "kicked" else {}),
                    },
                    "new_chat_member": {
                        "status": new,
                        "user": self.bot_user,
                        **({"until_date": 0} if new == "kicked" else {}),
                    },
                }
            }
        )

    def _stats_snapshot(self) -> JSON:
        s = self.stats
        return {
            "requests": s.requests,
            "sends_ok": s.sends_ok,
            "rate_limited": s.rate_limited,
            "server_errors": s.server_errors,
            "forbidden": s.forbidden,
            "methods": dict(s.methods),
            "errors": {str(k): v for k, v in s.errors.items()},
            "per_chat_sends": {str(k): v for k, v in s.per_chat_sends.items()},
            "pending_updates": len(self._updates),
        }


async def read_multipart(
    reader: aiohttp.MultipartReader, data: dict[str, Any], files: dict[str, Upload]
) -> None:
    """Fields to ``data`` (strings), file parts to ``files`` (bytes with their file name)."""
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        name = part.name or ""
        if part.filename is not None:
            files[name] = Upload(
                data=bytes(await part.read(decode=True)),
                filename=part.filename,
                content_type=part.headers.get(aiohttp.hdrs.CONTENT_TYPE),
            )
        else:
            data[name] = await part.text()


def message_summary(message: BotMessage) -> JSON:
    """A BotMessage as JSON for the control API (file bytes left out)."""
    return {
        "message_id": message.message_id,
        "kind": message.kind,
        "text": message.text,
        "buttons": message.buttons,
        "button_data": message.button_data,
        "keyboard": message.keyboard,
        "file_name": message.file_name,
        "file_size": len(message.document_bytes) if message.document_bytes is not None else None,
        "edited": message.edited,
    }
