"""A local stand-in for the Telegram Bot API over HTTP.

The bot talks to it exactly as to ``api.telegram.org`` (aiogram:
``AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))``): ``{base}/bot{token}/{method}`` and
``{base}/file/bot{token}/{path}``. Scripted users (:mod:`emulator.users`) play the humans in-process.

One emulator serves one bot: the token's format is checked (and, when the emulator was given a token,
its value), the bot's id is the token's numeric prefix.

:class:`BotAPIEmulator` only puts the parts together: one :class:`~emulator.state.EmulatorState`, the
method handlers of each area registered in one :class:`~emulator.transport.MethodTable`, the HTTP server,
the update queue and the control API.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from emulator.control import ControlApi
from emulator.faults import Faults, Stats
from emulator.media import FileMethods
from emulator.messages import MessageMethods
from emulator.models import JSON, BotMessage, CallbackAnswer, ChatAction, SentRecord, StoredFile
from emulator.settings import SettingsMethods
from emulator.state import BOT_USERNAME, ChatState, EmulatorState
from emulator.transport import TOKEN_RE, HttpServer, MethodTable
from emulator.updates import PollingMethods, UpdateQueue
from emulator.users import ScriptedUser
from emulator.webhook import WebhookMethods

__all__ = ["BOT_USERNAME", "BotAPIEmulator"]


class BotAPIEmulator:
    """The Bot API on ``base_url``; see the module docstring and README of the package.

    ``ack_means_handled``: count an update as handled once the bot acknowledges it (a later getUpdates
    offset, a 2xx webhook answer); right only for a bot that handles one update at a time. Otherwise
    the bot's side calls :meth:`mark_handled`.
    """

    def __init__(
        self, token: str | None = None, *, webhook_attempts: int = 4, ack_means_handled: bool = False
    ) -> None:
        if token is not None and not TOKEN_RE.match(token):
            raise ValueError(f"not a bot token: {token!r}")
        self.state = EmulatorState(token)
        self.updates = UpdateQueue(self.state, ack_means_handled=ack_means_handled)
        self.methods = MethodTable(self.state)
        self.messages_api = MessageMethods(self.state)
        self.files = FileMethods(self.state)
        self.settings = SettingsMethods(self.state)
        self.polling = PollingMethods(self.updates)
        self.webhook = WebhookMethods(self.state, self.updates, self.methods, attempts=webhook_attempts)
        for area in (self.messages_api, self.files, self.settings, self.polling, self.webhook):
            self.methods.register(area.handlers())
        self.http = HttpServer(self.state, self.methods)
        self._users: dict[int, ScriptedUser] = {}
        self.control = ControlApi(
            self.state, self.updates, self._users, self._control_user, lambda: self.http.base_url
        )

    # ----------------------------------------------------------------- the parts' data, as before
    @property
    def token(self) -> str | None:
        return self.state.token

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def sent_messages(self) -> list[SentRecord]:
        return self.state.sent_messages

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return self.state.callback_answers

    @property
    def chat_actions(self) -> list[ChatAction]:
        return self.state.chat_actions

    @property
    def commands(self) -> dict[tuple[str, str], list[JSON]]:
        return self.settings.commands

    @property
    def menu_buttons(self) -> dict[int | None, JSON]:
        return self.settings.menu_buttons

    @property
    def bot_settings(self) -> dict[tuple[str, str], str]:
        return self.settings.bot_settings

    @property
    def webhook_attempts(self) -> int:
        return self.webhook.attempts

    @webhook_attempts.setter
    def webhook_attempts(self, value: int) -> None:
        self.webhook.attempts = value

    @property
    def webhook_dropped(self) -> list[JSON]:
        return self.webhook.dropped

    @property
    def ack_means_handled(self) -> bool:
        return self.updates.ack_means_handled

    @ack_means_handled.setter
    def ack_means_handled(self, value: bool) -> None:
        self.updates.ack_means_handled = value

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        if self.http.base_url is None:
            raise RuntimeError("the emulator is not started")
        return self.http.base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns ``base_url``."""
        if self.http.running:
            raise RuntimeError("the emulator is already started")
        self.updates.closing = False
        return await self.http.start(host, port, self.control.routes())

    async def stop(self) -> None:
        """Wake long polls, stop webhook delivery, close the server. Safe to call twice."""
        self.updates.close()
        await self.webhook.close()
        await self.http.stop()

    async def __aenter__(self) -> Self:
        if not self.http.running:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- users and chats
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
        self.state.private_chat(user_json)
        scripted = ScriptedUser(self, user_json, phone=phone or f"+4915{user_id:09d}"[:16])
        self._users[user_id] = scripted
        return scripted

    def _control_user(self, user_id: int, first_name: str, language_code: str | None) -> ScriptedUser:
        return self.user(user_id, first_name, language_code)

    def group(self, chat_id: int, title: str = "Test group", type: str = "group") -> None:
        """Register a group chat the bot is a member of (chat ids of groups are negative)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self.state.chats.setdefault(
            chat_id, ChatState(chat={"id": chat_id, "type": type, "title": title}, started=True)
        )

    def history(self, chat_id: int) -> list[BotMessage]:
        """Every bot message of the chat, current state, deleted ones included (``deleted=True``)."""
        return self.state.history(chat_id)

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot messages the user still sees in the chat, current state, oldest first."""
        return self.state.messages(chat_id)

    def file_bytes(self, file_id: str) -> bytes:
        return self.state.files[file_id].data

    def store_file(
        self, data: bytes, kind: str, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        """Keep bytes as a Telegram file (getFile and the download route serve it)."""
        return self.state.store_file(data, kind, file_name, mime_type)

    @property
    def bot_user(self) -> JSON:
        return self.state.bot_json()

    # ----------------------------------------------------------------- updates
    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates or delivered to the webhook."""
        return [q.update for q in self.updates.queued]

    def add_update(self, update: JSON) -> int:
        """Enqueue a raw update (``update_id`` is assigned when absent); returns its update_id."""
        return self.updates.add(update)

    def mark_handled(self, update_id: int) -> None:
        """The bot has finished handling update ``update_id`` (call it when the dispatcher returns)."""
        self.updates.mark_handled(update_id)

    @property
    def unhandled_updates(self) -> list[int]:
        """Ids of updates the bot has not yet handled (nor were they discarded), oldest first."""
        return self.updates.unhandled()

    async def wait_all_handled(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until every update so far is handled or discarded; EmulatorTimeout names the rest."""
        await self.updates.wait_handled(self.updates.unhandled(), timeout, who="the bot")
