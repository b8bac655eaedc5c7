"""Scripted users: play a human in a private chat with the bot, in-process, from a test or a demo."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from emulator.faults import Faults
from emulator.formatting import utf16_len
from emulator.models import (
    JSON,
    BotMessage,
    ButtonNotFound,
    CallbackAnswer,
    EmulatorTimeout,
    markup_kind,
)
from emulator.state import ChatState, EmulatorState, PendingCallback, StoredMessage
from emulator.updates import UpdateQueue

# Small stand-ins for media a user sends; the bot can download them with getFile.
TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
TINY_OGG = b"OggS\x00\x02" + bytes(20)
TINY_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + bytes(14)


class UserBackend(Protocol):
    """What a scripted user needs of the emulator (``BotAPIEmulator`` is one)."""

    @property
    def state(self) -> EmulatorState: ...

    @property
    def updates(self) -> UpdateQueue: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def callback_answers(self) -> list[CallbackAnswer]: ...


class ScriptedUser:
    """A Telegram user in a private chat with the bot. Get one with ``emu.user(user_id, ...)``.

    The ``send*``/``press*``/``edit``/``block`` methods enqueue updates the bot receives via getUpdates or
    its webhook (their ids: ``update_ids``); the ``wait*`` methods wait for what the bot does in this
    chat, ``settled()`` until the bot has handled every update this user sent.
    """

    def __init__(self, emu: UserBackend, user: JSON, phone: str) -> None:
        self.emu = emu
        self.user = user
        self.id: int = user["id"]
        self.phone = phone
        self.update_ids: list[int] = []  # every update this user caused, oldest first
        self._state = emu.state
        self._queue = emu.updates
        self._event_cursor = 0
        self._answer_cursor = 0

    def __repr__(self) -> str:
        return f"ScriptedUser(id={self.id}, first_name={self.user['first_name']!r})"

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def first_name(self) -> str:
        return str(self.user["first_name"])

    @property
    def _chat(self) -> ChatState:
        return self._state.private_chat(self.user)

    @property
    def last_update_id(self) -> int | None:
        """The id of the newest update this user caused (None before the first)."""
        return self.update_ids[-1] if self.update_ids else None

    # ----------------------------------------------------------------- what the user does
    def _enqueue(self, update: JSON) -> int:
        update_id = self._queue.add(update)
        self.update_ids.append(update_id)
        return update_id

    async def _post(self, content: JSON, chat: ChatState | None = None) -> int:
        """Post a message as this user into ``chat`` (their private chat by default)."""
        if chat is None:
            chat = self._chat
            chat.started = True
        message: JSON = {
            "message_id": chat.new_message_id(),
            "from": self.user,
            "chat": chat.chat,
            "date": int(time.time()),
            **content,
        }
        chat.user_messages[message["message_id"]] = message
        self._enqueue({"message": message})
        await asyncio.sleep(0)
        return int(message["message_id"])

    async def send(self, text: str) -> int:
        """Send a text message (a leading ``/command`` gets its bot_command entity); returns its id."""
        return await self._post(_text_content(text))

    async def send_in_group(self, chat_id: int, text: str) -> int:
        """Send a text into the group ``chat_id`` (registered with ``emu.group``) as this user."""
        return await self._post(_text_content(text), self._state.chats[chat_id])

    async def press_in_group(self, chat_id: int, callback_data: str, message_id: int | None = None) -> str:
        """Press a button with ``callback_data`` on a bot message in the group (the newest one if no id)."""
        chat = self._state.chats[chat_id]
        stored = chat.messages.get(message_id) if message_id is not None else next(
            (m for m in reversed(chat.messages.values()) if not m.deleted), None
        )
        message = stored.to_json() if stored is not None else {"chat": chat.chat, "message_id": message_id or 1, "date": 0}
        return await self._callback(callback_data, message, chat)

    def _file_json(
        self, data: bytes, kind: str, file_name: str | None = None, mime: str | None = None
    ) -> JSON:
        stored = self._state.store_file(data, kind, file_name, mime)
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size}

    async def send_photo(self, data: bytes = TINY_JPEG, caption: str | None = None) -> int:
        photo = {**self._file_json(data, "photo", None, "image/jpeg"), "width": 640, "height": 480}
        content: JSON = {"photo": [photo]}
        if caption:
            content["caption"] = caption
        return await self._post(content)

    async def send_sticker(self, emoji: str = "👍") -> int:
        sticker = {
            **self._file_json(TINY_WEBP, "sticker", None, "image/webp"),
            "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False,
            "emoji": emoji,
        }  # fmt: skip
        return await self._post({"sticker": sticker})

    async def send_voice(self, data: bytes = TINY_OGG, duration: int = 2) -> int:
        voice = {
            **self._file_json(data, "voice", None, "audio/ogg"),
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return await self._post({"voice": voice})

    async def send_document(
        self, name: str, data: bytes, mime_type: str | None = None, caption: str | None = None
    ) -> int:
        stored = self._state.store_file(data, "document", name, mime_type)
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_name": name,
        }
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        content: JSON = {"document": document}
        if caption:
            content["caption"] = caption
        return await self._post(content)

    async def send_contact(self, phone: str | None = None, first_name: str | None = None) -> int:
        """Share a contact; without arguments the user's own (with ``user_id``, as the share button does)."""
        contact: JSON = {"phone_number": phone or self.phone, "first_name": first_name or self.first_name}
        if phone is None or phone == self.phone:
            contact["user_id"] = self.id
        return await self._post({"contact": contact})

    async def edit(self, message_id: int, text: str) -> int:
        """Edit one of the user's own text messages (the bot gets an edited_message update); returns the
        update's id."""
        chat = self._chat
        original = chat.user_messages.get(message_id)
        if original is None:
            raise LookupError(f"user {self.id} has no message {message_id} to edit")
        edited = {**original, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        chat.user_messages[message_id] = edited
        update_id = self._enqueue({"edited_message": edited})
        await asyncio.sleep(0)
        return update_id

    async def send_location(self, latitude: float = 53.1435, longitude: float = 8.2146) -> int:
        return await self._post({"location": {"latitude": latitude, "longitude": longitude}})

    async def press(self, button_text: str) -> str | None:
        """Press the button labelled ``button_text`` on the newest bot message that has one.

        Inline button: enqueues a callback_query, returns its id. Reply-keyboard button: sends its
        text (or the contact/location it requests), returns None. Raises ButtonNotFound otherwise.
        """
        chat = self._chat
        wanted = button_text.strip()

        def matches(button: Any) -> bool:
            text = button.get("text", "") if isinstance(button, dict) else ""
            return bool(text == button_text or text.strip() == wanted)

        inline: tuple[StoredMessage, JSON] | None = None
        for stored in reversed(chat.messages.values()):
            if stored.deleted or markup_kind(stored.reply_markup) != "inline" or stored.reply_markup is None:
                continue
            hit = next((b for row in stored.reply_markup["inline_keyboard"] for b in row if matches(b)), None)
            if hit is not None:
                inline = (stored, hit)
                break
        keyboard = chat.reply_keyboard
        reply: JSON | None = None
        if keyboard is not None and keyboard.reply_markup is not None:
            reply = next((b for row in keyboard.reply_markup["keyboard"] for b in row if matches(b)), None)
        if inline is not None and (
            reply is None or keyboard is None or inline[0].message_id > keyboard.message_id
        ):
            stored, button = inline
            if "callback_data" not in button:
                raise ButtonNotFound(
                    f"button {button_text!r} of message {stored.message_id} is not a callback button: {button}"
                )
            return await self._callback(button["callback_data"], stored.to_json())
        if reply is not None:
            if reply.get("request_contact"):
                await self.send_contact()
            elif reply.get("request_location"):
                await self.send_location()
            else:
                await self.send(str(reply["text"]))
            return None
        raise ButtonNotFound(
            f"no button {button_text!r} in the chat with user {self.id}; {self.describe_buttons()}"
        )

    async def press_data(self, callback_data: str | None, message_id: int | None = None) -> str:
        """Send a callback_query with any data (forged, or for a stale message); returns its id.

        ``message_id`` None: attached to the newest bot message (if any). A deleted or unknown id is
        sent as an inaccessible message (date 0), as Telegram does.
        """
        chat = self._chat
        message: JSON | None = None
        if message_id is None:
            newest = next((m for m in reversed(chat.messages.values()) if not m.deleted), None)
            message = newest.to_json() if newest is not None else None
        else:
            stored = chat.messages.get(message_id)
            if stored is not None and not stored.deleted:
                message = stored.to_json()
            else:
                message = {"chat": chat.chat, "message_id": message_id, "date": 0}
        return await self._callback(callback_data, message)

    async def _callback(self, data: str | None, message: JSON | None, chat: ChatState | None = None) -> str:
        state = self._state
        query_id = str(4_000_000_000_000_000_000 + state.next_id())
        chat = chat or self._chat
        query: JSON = {
            "id": query_id,
            "from": self.user,
            "chat_instance": str(-7_000_000_000_000 - abs(chat.id)),
        }
        if message is not None:
            query["message"] = message
        if data is not None:
            query["data"] = data
        state.callbacks[query_id] = PendingCallback(self.id, chat.id, data)
        self._enqueue({"callback_query": query})
        await asyncio.sleep(0)
        return query_id

    async def block(self) -> int:
        """Block the bot: sends answer 403 and the bot gets a my_chat_member update (kicked); returns
        the update's id."""
        self._state.faults.block(self.id)
        update_id = self._chat_member_update("member", "kicked")
        await asyncio.sleep(0)
        return update_id

    async def unblock(self) -> int:
        self._state.faults.unblock(self.id)
        update_id = self._chat_member_update("kicked", "member")
        await asyncio.sleep(0)
        return update_id

    def _chat_member_update(self, old: str, new: str) -> int:
        bot = self._state.bot_json()

        def member(status: str) -> JSON:
            return {"status": status, "user": bot, **({"until_date": 0} if status == "kicked" else {})}

        return self._enqueue(
            {
                "my_chat_member": {
                    "chat": self._chat.chat,
                    "from": self.user,
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    # ----------------------------------------------------------------- what the user sees
    @property
    def messages(self) -> list[BotMessage]:
        """The bot messages in the chat as they are now (edits applied, deleted ones left out)."""
        return self._state.messages(self.id)

    @property
    def history(self) -> list[BotMessage]:
        """All bot messages in the chat, deleted ones included (``deleted=True``)."""
        return self._state.history(self.id)

    @property
    def last(self) -> BotMessage:
        """The newest bot message still in the chat."""
        chat = self._chat
        newest = next((m for m in reversed(chat.messages.values()) if not m.deleted), None)
        if newest is None:
            raise LookupError(f"the bot has sent no message to user {self.id}")
        return newest.snapshot()

    def take_new(self) -> list[BotMessage]:
        """All bot messages/edits since the last wait or take, without waiting."""
        events = self._chat.events
        new = events[self._event_cursor :]
        self._event_cursor = len(events)
        return new

    async def wait_messages(self, count: int = 1, timeout: float = 10) -> list[BotMessage]:  # noqa: ASYNC109
        """Wait for ``count`` new bot messages or edits in this chat (since the last wait) and return
        exactly those, oldest first; more that arrived stay for the next wait. An edit shows up as a
        snapshot with ``edited=True``."""
        chat = self._chat
        deadline = time.monotonic() + timeout
        while len(chat.events) - self._event_cursor < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = chat.events[self._event_cursor :]
                raise EmulatorTimeout(
                    f"user {self.id} waited {timeout}s for {count} new bot message(s), got {len(got)}: "
                    + "; ".join(f"#{m.message_id} {m.text[:60]!r}" for m in got)
                )
            await chat.signal.wait(remaining)
        got = chat.events[self._event_cursor : self._event_cursor + count]
        self._event_cursor += count
        return got

    async def wait_message(self, timeout: float = 10) -> BotMessage:  # noqa: ASYNC109
        return (await self.wait_messages(1, timeout))[0]

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the bot has taken this user's updates and done nothing in the chat for ``quiet`` s."""
        chat = self._chat
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle_for = now - chat.last_activity
            if chat.pending_updates <= 0 and idle_for >= quiet:
                return
            if now >= deadline:
                raise EmulatorTimeout(
                    f"the chat with user {self.id} was not idle for {quiet}s within {timeout}s "
                    f"({chat.pending_updates} update(s) not yet taken by the bot)"
                )
            pause = deadline - now if chat.pending_updates > 0 else min(deadline - now, quiet - idle_for)
            await chat.signal.wait(max(0.001, pause))

    @property
    def unsettled(self) -> list[int]:
        """Ids of this user's updates the bot has not yet handled (nor were they discarded)."""
        return self._queue.unhandled(self.id)

    async def settled(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until the bot has handled every update this user has sent so far.

        "Handled" needs the bot's side to say so: ``emu.mark_handled(update_id)`` after the dispatcher
        returned from the update, or ``BotAPIEmulator(ack_means_handled=True)`` for a bot that handles
        one update at a time. Updates that can never reach the bot (filtered by ``allowed_updates``,
        dropped) count as settled. Raises EmulatorTimeout (a TimeoutError) naming the pending update ids.
        For a bot that cannot tell (another process), use ``wait_idle``.
        """
        await self._queue.wait_handled(self.unsettled, timeout, who=f"user {self.id}")

    async def wait_callback_answer(self, timeout: float = 10) -> str:  # noqa: ASYNC109
        """Wait for the bot's next answerCallbackQuery to this user; returns its text ("" if none)."""
        chat = self._chat
        deadline = time.monotonic() + timeout
        while len(chat.answers) <= self._answer_cursor:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulatorTimeout(f"user {self.id} got no callback answer within {timeout}s")
            await chat.signal.wait(remaining)
        answer = chat.answers[self._answer_cursor]
        self._answer_cursor += 1
        return answer.text

    def describe_buttons(self) -> str:
        """The buttons the user can press now, for error messages."""
        chat = self._chat
        parts: list[str] = []
        for stored in reversed(chat.messages.values()):
            if stored.deleted or markup_kind(stored.reply_markup) != "inline" or stored.reply_markup is None:
                continue
            texts = [b.get("text") for row in stored.reply_markup["inline_keyboard"] for b in row]
            parts.append(f"message {stored.message_id}: {texts}")
            if len(parts) == 5:
                break
        keyboard = chat.reply_keyboard
        reply = (
            [b.get("text") for row in keyboard.reply_markup["keyboard"] for b in row]
            if keyboard is not None and keyboard.reply_markup is not None
            else []
        )
        inline = "; ".join(parts) if parts else "none"
        return f"inline buttons (newest first): {inline}; reply keyboard: {reply or 'none'}"


def _text_content(text: str) -> JSON:
    """A text message's content; a leading ``/command`` gets its bot_command entity, as Telegram's clients do."""
    content: JSON = {"text": text}
    if text.startswith("/") and len(text) > 1:
        command = text.split(maxsplit=1)[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
    return content
