"""Data records of the emulator and the small pieces of Bot API semantics they need.

Nothing here talks HTTP; formatted text is read in :mod:`emulator.formatting`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


class EmulatorTimeout(TimeoutError):
    """A scripted user waited for something the bot did not do in time."""


class ButtonNotFound(LookupError):
    """``ScriptedUser.press`` found no button with that text."""


@dataclass
class StoredFile:
    """A file the emulator knows: uploaded by the bot or sent by a scripted user."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    kind: str
    file_path: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class SentRecord:
    """One successful ``send*``/``copyMessage``/``forwardMessage`` call (``emu.sent_messages``)."""

    chat_id: int
    method: str
    message_id: int
    time: float  # time.monotonic() when the emulator accepted it
    text: str = ""


@dataclass
class CallbackAnswer:
    """One ``answerCallbackQuery`` call (``emu.callback_answers``)."""

    callback_query_id: str
    user_id: int
    text: str
    show_alert: bool
    url: str | None
    time: float
    data: str | None = None


@dataclass
class ChatAction:
    chat_id: int
    action: str
    time: float


@dataclass(frozen=True)
class BotMessage:
    """A snapshot of one bot message as the user sees it (text without markup tags)."""

    message_id: int
    chat_id: int
    text: str
    buttons: list[list[str]]
    button_data: list[list[str | None]]
    kind: str
    document_bytes: bytes | None = None
    file_name: str | None = None
    file_id: str | None = None
    edited: bool = False
    deleted: bool = False
    keyboard: str | None = None  # "inline" | "reply" | "remove" | "force_reply" | None
    raw_text: str = ""
    parse_mode: str | None = None
    date: int = 0
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @property
    def flat_buttons(self) -> list[str]:
        return [text for row in self.buttons for text in row]

    def has_button(self, text: str) -> bool:
        return any(b == text or b.strip() == text.strip() for b in self.flat_buttons)

    def data_for(self, text: str) -> str | None:
        """The callback_data of the inline button labelled ``text`` (None if absent)."""
        for row_t, row_d in zip(self.buttons, self.button_data, strict=True):
            for b, d in zip(row_t, row_d, strict=True):
                if b == text or b.strip() == text.strip():
                    return d
        return None


# --------------------------------------------------------------------------- keyboards

_INLINE_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
)  # fmt: skip


def validate_reply_markup(markup: Any, inline_only: bool = False) -> JSON | None:
    """Check a decoded reply_markup the way Telegram does; returns it normalised (or None)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        count = 0
        for row in rows:
            for button in row:
                count += 1
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request("can't parse inline keyboard button: Text must be a String")
                if not any(key in button for key in _INLINE_ACTIONS):
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
                        raise bad_request("BUTTON_URL_INVALID")
        if count > 100:
            raise bad_request("reply markup is too long")
        return {"inline_keyboard": rows}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse reply keyboard markup JSON object")
        norm_rows: list[list[JSON]] = []
        for row in rows:
            norm_row: list[JSON] = []
            for button in row:
                b = {"text": button} if isinstance(button, str) else button
                if not isinstance(b, dict) or not isinstance(b.get("text"), str) or not b["text"]:
                    raise bad_request("can't parse keyboard button: Text must be a String")
                norm_row.append(b)
            norm_rows.append(norm_row)
        return {**markup, "keyboard": norm_rows}
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def markup_kind(markup: JSON | None) -> str | None:
    if not markup:
        return None
    if "inline_keyboard" in markup:
        return "inline"
    if "keyboard" in markup:
        return "reply"
    if markup.get("remove_keyboard"):
        return "remove"
    if markup.get("force_reply"):
        return "force_reply"
    return None


def markup_buttons(markup: JSON | None) -> tuple[list[list[str]], list[list[str | None]]]:
    kind = markup_kind(markup)
    if markup is None or kind not in ("inline", "reply"):
        return [], []
    rows = markup["inline_keyboard"] if kind == "inline" else markup["keyboard"]
    texts = [[str(b["text"]) for b in row] for row in rows]
    data = [[b.get("callback_data") if kind == "inline" else None for b in row] for row in rows]
    return texts, data


def same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def escape(text: str) -> str:
    return html.escape(text, quote=False)
