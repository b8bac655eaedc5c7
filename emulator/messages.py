"""Messages in chats: send (text, media, contact, location), copy, forward, edit, delete; files and getFile;
answers to callback queries; chat actions."""

from __future__ import annotations

import time
from typing import Any

from emulator.models import (
    JSON,
    ApiError,
    CallbackAnswer,
    ChatAction,
    SentRecord,
    StoredFile,
    bad_request,
    markup_kind,
    same_json,
    utf16_len,
    validate_reply_markup,
    visible_text,
)
from emulator.state import ChatState, EmulatorState, StoredMessage
from emulator.transport import MAX_UPLOAD, Handler, Params, Upload, count_rate_limited

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)  # fmt: skip
MEDIA_KINDS = ("document", "photo", "audio", "voice", "video", "animation", "sticker", "video_note")
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
            "getFile": self.get_file,
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
    def text_of(params: Params, name: str, limit: int, required: bool) -> tuple[str, str, str | None]:
        raw = params.get_str(name) or ""
        parse_mode = params.get_str("parse_mode") or None
        text = visible_text(raw, parse_mode) if raw else ""
        if required and not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > limit:
            raise bad_request("message is too long" if name == "text" else "message caption is too long")
        return raw, text, parse_mode

    def commit_send(
        self, chat: ChatState, method: str, bot_id: int, kind: str, params: Params, **fields: Any
    ) -> JSON:
        """Rate-limit, store, log and announce one bot message; returns its Message JSON."""
        state = self.state
        markup = validate_reply_markup(params.get_json("reply_markup"))
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

    async def send_message(self, params: Params, bot_id: int) -> JSON:
        chat = self.writable_chat(params)
        raw, text, parse_mode = self.text_of(params, "text", MAX_TEXT, required=True)
        entities = params.get_json("entities")
        return self.commit_send(
            chat, "sendMessage", bot_id, "text", params,
            raw_text=raw, text=text, parse_mode=parse_mode, entities=entities,
        )  # fmt: skip

    def _media_sender(self, kind: str) -> Handler:
        method = _method_name(kind)

        async def send(params: Params, bot_id: int) -> JSON:
            chat = self.writable_chat(params)
            raw, text, parse_mode = self.text_of(params, "caption", MAX_CAPTION, required=False)
            stored_file = self.file_from_request(params, kind)
            return self.commit_send(
                chat, method, bot_id, kind, params,
                raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("caption_entities"),
                media=media_json(stored_file, kind, params), file=stored_file,
            )  # fmt: skip

        return send

    def file_from_request(self, params: Params, kind: str) -> StoredFile:
        source = params.file(kind)
        if source is None:
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(source, Upload):
            if not source.data:
                raise bad_request("file must be non-empty")
            if len(source.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            return self.state.store_file(source.data, kind, source.filename, source.content_type)
        known = self.state.files.get(source)
        if known is not None:
            return known
        if source.startswith(("http://", "https://")):
            name = source.rstrip("/").rsplit("/", 1)[-1] or None
            return self.state.store_file(b"", kind, name)
        raise bad_request("wrong file identifier/HTTP URL specified")

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
            raw, text, parse_mode = self.text_of(params, "caption", MAX_CAPTION, required=False)
            fields.update(
                raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("caption_entities")
            )
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
        raw, text, parse_mode = self.text_of(params, "text", MAX_TEXT, required=True)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(
            stored, raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("entities"),
            reply_markup=markup,
        )  # fmt: skip

    async def edit_message_caption(self, params: Params, bot_id: int) -> JSON:
        stored = self.bot_message(params)
        if stored.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        raw, text, parse_mode = self.text_of(params, "caption", MAX_CAPTION, required=False)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(
            stored, raw_text=raw, text=text, parse_mode=parse_mode, entities=params.get_json("caption_entities"),
            reply_markup=markup,
        )  # fmt: skip

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
        stored_file = self.file_from_request(inner, kind)
        raw, text, parse_mode = self.text_of(inner, "caption", MAX_CAPTION, required=False)
        markup = validate_reply_markup(params.get_json("reply_markup"), inline_only=True)
        return self.commit_edit(
            stored, kind=kind, file=stored_file, media=media_json(stored_file, kind, inner),
            raw_text=raw, text=text, parse_mode=parse_mode, entities=media.get("caption_entities"),
            reply_markup=markup,
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

    async def get_file(self, params: Params, bot_id: int) -> JSON:
        stored = self.state.files.get(params.get_str("file_id") or "")
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

    async def send_chat_action(self, params: Params, bot_id: int) -> bool:
        chat = self.writable_chat(params)
        action = params.get_str("action") or ""
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.state.chat_actions.append(ChatAction(chat.id, action, time.monotonic()))
        return True


def _method_name(kind: str) -> str:
    return "send" + "".join(part.capitalize() for part in kind.split("_"))


def media_json(stored: StoredFile, kind: str, params: Params) -> Any:
    """The Message field of a media kind (PhotoSize list, Document, Voice, ...) for a stored file."""
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
