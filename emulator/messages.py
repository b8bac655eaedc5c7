"""Messages in chats: send (text, media, contact, location), copy, forward, reply, edit, delete; answers
to callback queries; chat actions. Files of media messages: :mod:`emulator.media`."""

from __future__ import annotations

import time
from typing import Any

from emulator.formatting import parse_text, utf16_len
from emulator.media import MEDIA_KINDS, file_from_request, media_json
from emulator.models import (
    JSON,
    ApiError,
    CallbackAnswer,
    ChatAction,
    SentRecord,
    bad_request,
    markup_kind,
    same_json,
    validate_reply_markup,
)
from emulator.state import ChatState, EmulatorState, StoredMessage
from emulator.transport import Handler, Params, count_rate_limited

MAX_TEXT = 4096
MAX_CAPTION = 1024
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)  # fmt: skip
STALE_QUERY = "query is too old and response timeout expired or query ID is invalid"


class MessageMethods:
    """The Bot API methods that put messages into chats, change or remove them."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        return {
            "sendMessage": self.send_message,
            **{_method_name(kind): self._media_sender(kind) for kind in MEDIA_KINDS},
            "sendContact": self.send_contact,
            "sendLocation": self.send_location,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "editMessageMedia": self.edit_message_media,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
        }

    # ----------------------------------------------------------------- chats and access
    def chat_for(self, params: Params, name: str = "chat_id") -> ChatState:
        raw = params.data.get(name)
        if raw is None or raw == "":
            raise bad_request(f"{name} is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.state.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, params: Params, name: str = "chat_id") -> ChatState:
        chat = self.chat_for(params, name)
        if chat.user is not None and chat.chat.get("type") == "private":
            error = self.state.faults.forbidden(chat.id)
            if error is not None:
                self.state.stats.forbidden += 1
                raise error
            if not chat.started:
                self.state.stats.forbidden += 1
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def bot_message(self, params: Params) -> StoredMessage:
        if params.has("inline_message_id"):
            raise bad_request("message to edit not found")
        chat = self.writable_chat(params)
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
    @staticmethod
    def text_of(params: Params, name: str, limit: int, required: bool) -> dict[str, Any]:
        """The StoredMessage fields of the text or caption ``name``: raw and visible text, parse mode and
        entities (the ones given, else those of the parse mode)."""
        raw = params.get_str(name) or ""
        parse_mode = params.get_str("parse_mode") or None
        text, parsed = parse_text(raw, parse_mode) if raw else ("", [])
        if required and not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > limit:
            raise bad_request("message is too long" if name == "text" else "message caption is too long")
        given = params.get_json("entities" if name == "text" else "caption_entities")
        return {"raw_text": raw, "text": text, "parse_mode": parse_mode, "entities": given or parsed or None}

    def commit_send(
        self, chat: ChatState, method: str, bot_id: int, kind: str, params: Params, **fields: Any
    ) -> JSON:
        """Rate-limit, store, log and announce one bot message; returns its Message JSON."""
        state = self.state
        markup = validate_reply_markup(params.get_json("reply_markup"))
        replied = self.replied_message(chat, params)
        if replied is not None:
            fields["extra"] = {**fields.get("extra", {}), "reply_to_message": replied}
        now = time.monotonic()
        error = state.faults.take_send_slot(chat.id, now)
        if error is not None:
            count_rate_limited(state, params)
            raise error
        stored = StoredMessage(
            message_id=chat.new_message_id(),
            chat_id=chat.id,
            date=int(time.time()),
            sender=state.bot_json(bot_id),
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
        state.stats.sends_ok += 1
        state.stats.per_chat_sends[chat.id] = state.stats.per_chat_sends.get(chat.id, 0) + 1
        state.sent_messages.append(SentRecord(chat.id, method, stored.message_id, now, stored.text))
        snapshot = stored.snapshot()
        chat.events.append(snapshot)
        chat.touch()
        return snapshot.raw

    def replied_message(self, chat: ChatState, params: Params) -> JSON | None:
        """The message a send replies to (``reply_parameters`` or the older ``reply_to_message_id``)."""
        reply = params.get_json("reply_parameters")
        if not isinstance(reply, dict):
            reply = {
                "message_id": params.get_int("reply_to_message_id"),
                "allow_sending_without_reply": params.get_bool("allow_sending_without_reply"),
            }
        if reply.get("message_id") is None:
            return None
        if reply.get("chat_id") not in (None, chat.id, str(chat.id)):
            raise bad_request("replies to messages of other chats are not supported by the emulator")
        try:
            message_id = int(reply["message_id"])
        except (TypeError, ValueError):
            raise bad_request("invalid reply_parameters specified") from None
        stored = chat.messages.get(message_id)
        if stored is not None and not stored.deleted:
            replied = stored.to_json()
        elif message_id in chat.user_messages:
            replied = dict(chat.user_messages[message_id])
        elif reply.get("allow_sending_without_reply"):
            return None
        else:
            raise bad_request("message to be replied not found")
        replied.pop("reply_to_message", None)
        return replied

    async def send_message(self, params: Params, bot_id: int) -> JSON:
        chat = self.writable_chat(params)
        fields = self.text_of(params, "text", MAX_TEXT, required=True)
        return self.commit_send(chat, "sendMessage", bot_id, "text", params, **fields)

    def _media_sender(self, kind: str) -> Handler:
        method = _method_name(kind)

        async def send(params: Params, bot_id: int) -> JSON:
            chat = self.writable_chat(params)
            fields = self.text_of(params, "caption", MAX_CAPTION, required=False)
            stored_file = file_from_request(self.state, params, kind)
            return self.commit_send(
                chat, method, bot_id, kind, params,
                media=media_json(stored_file, kind, params), file=stored_file, **fields,
            )  # fmt: skip

        return send

    async def send_contact(self, params: Params, bot_id: int) -> JSON:
        chat = self.writable_chat(params)
        phone = params.get_str("phone_number")
        first_name = params.get_str("first_name")
        if not phone or not first_name:
            raise bad_request("phone number or first name is empty")
        contact = {"phone_number": phone, "first_name": first_name}
        return self.commit_send(chat, "sendContact", bot_id, "contact", params, media=contact)

    async def send_location(self, params: Params, bot_id: int) -> JSON:
        chat = self.writable_chat(params)
        location = {"latitude": params.get_float("latitude"), "longitude": params.get_float("longitude")}
        return self.commit_send(chat, "sendLocation", bot_id, "location", params, media=location)

    def _source_message(self, params: Params) -> tuple[JSON, StoredMessage | None]:
        source_chat = self.chat_for(params, "from_chat_id")
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
                    "media": media, "file": self.state.files.get(file_id) if file_id else None,
                }  # fmt: skip
        text = source.get("text", "")
        return "text", {"raw_text": text, "text": text, "entities": source.get("entities")}

    async def copy_message(self, params: Params, bot_id: int) -> JSON:
        chat = self.writable_chat(params)
        source, stored = self._source_message(params)
        kind, fields = self._copy_fields(source, stored)
        if params.has("caption") and kind != "text":
            fields.update(self.text_of(params, "caption", MAX_CAPTION, required=False))
        message = self.commit_send(chat, "copyMessage", bot_id, kind, params, **fields)
        return {"message_id": message["message_id"]}

    async def forward_message(self, params: Params, bot_id: int) -> JSON:
        chat = self.writable_chat(params)
        source, stored = self._source_message(params)
        kind, fields = self._copy_fields(source, stored)
        origin_user = source.get("from") or self.state.bot_json(bot_id)
        fields["extra"] = {
            "forward_origin": {"type": "user", "sender_user": origin_user, "date": source.get("date", 0)}
        }
        params.data.pop("reply_markup", None)
        return self.commit_send(chat, "forwardMessage", bot_id, kind, params, **fields)

    # ----------------------------------------------------------------- editing and deleting
    def commit_edit(self, stored: StoredMessage, **changes: Any) -> JSON:
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
        chat = self.state.chats[stored.chat_id]
        snapshot = stored.snapshot()
        chat.events.append(snapshot)
        chat.touch()
        return snapshot.raw

    async def edit_message_text(self, params: Params, bot_id: int) -> JSON:
        stored = self.bot_message(params)
        if stored.kind != "text":
            raise bad_request("there is no text in the message to edit")
        fields = self.text_of(params, "text", MAX_TEXT, required=True)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(stored, reply_markup=markup, **fields)

    async def edit_message_caption(self, params: Params, bot_id: int) -> JSON:
        stored = self.bot_message(params)
        if stored.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        fields = self.text_of(params, "caption", MAX_CAPTION, required=False)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(stored, reply_markup=markup, **fields)

    async def edit_message_reply_markup(self, params: Params, bot_id: int) -> JSON:
        stored = self.bot_message(params)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(stored, reply_markup=markup)

    async def edit_message_media(self, params: Params, bot_id: int) -> JSON:
        stored = self.bot_message(params)
        media = params.get_json("media")
        if not isinstance(media, dict) or media.get("type") not in MEDIA_KINDS:
            raise bad_request("can't parse InputMedia JSON object")
        if stored.kind not in MEDIA_KINDS:
            raise bad_request("there is no media in the message to edit")
        kind = str(media["type"])
        inner = Params({kind: media.get("media"), **media}, params.files)
        stored_file = file_from_request(self.state, inner, kind)
        fields = self.text_of(inner, "caption", MAX_CAPTION, required=False)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(
            stored, kind=kind, file=stored_file, media=media_json(stored_file, kind, inner),
            reply_markup=markup, **fields,
        )  # fmt: skip

    @staticmethod
    def _delete_one(chat: ChatState, message_id: int) -> bool:
        stored = chat.messages.get(message_id)
        if stored is not None and not stored.deleted:
            stored.deleted = True
            chat.touch()
            return True
        return chat.user_messages.pop(message_id, None) is not None

    async def delete_message(self, params: Params, bot_id: int) -> bool:
        chat = self.chat_for(params)
        message_id = params.get_int("message_id")
        if message_id is None or not self._delete_one(chat, message_id):
            raise bad_request("message to delete not found")
        return True

    async def delete_messages(self, params: Params, bot_id: int) -> bool:
        chat = self.chat_for(params)
        ids = params.get_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            self._delete_one(chat, int(message_id))
        return True

    # ----------------------------------------------------------------- callbacks, files, chat actions
    async def answer_callback_query(self, params: Params, bot_id: int) -> bool:
        query_id = params.get_str("callback_query_id") or ""
        pending = self.state.callbacks.pop(query_id, None)
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
        self.state.callback_answers.append(answer)
        chat = self.state.chats.get(pending.chat_id)
        if chat is not None:
            chat.answers.append(answer)
            chat.touch()
        return True

    async def send_chat_action(self, params: Params, bot_id: int) -> bool:
        chat = self.writable_chat(params)
        action = params.get_str("action") or ""
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.state.chat_actions.append(ChatAction(chat.id, action, time.monotonic()))
        return True


def _method_name(kind: str) -> str:
    return "send" + "".join(part.capitalize() for part in kind.split("_"))
