"""aiogram-dialog pieces shared by every feature: texts that speak gettext, and windows whose buttons answer
only what they were shown for."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from aiogram.types import CallbackQuery, InlineKeyboardButton
from aiogram.utils.i18n import gettext
from aiogram_dialog import ShowMode, Window
from aiogram_dialog.api.entities import MarkupVariant
from aiogram_dialog.api.protocols import DialogManager, DialogProtocol
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.text import Text

from dialogs.text import N_, isolate

#: The answer to a press on a button that no longer shows what is current (same msgid as bot/navigation).
STALE = N_("This button is no longer valid. Please use the newest message.")


class _Fill(dict[str, Any]):
    """Placeholder values looked up lazily: isolated by default, as they are when named ``raw``."""

    def __init__(self, data: Mapping[str, Any], raw: tuple[str, ...]) -> None:
        super().__init__()
        self.data = data
        self.raw = raw

    def __missing__(self, key: str) -> Any:
        value = self.data[key]
        return value if key in self.raw else isolate(value)


class T(Text):
    """A message id, translated at render time and filled from the getter's data.

    Placeholders get values wrapped in isolation marks (``dialogs.text.isolate``) so that a Latin name or
    a number cannot scramble an Arabic sentence; names listed in ``raw`` are inserted as they are, for
    values that are themselves translated sentences.
    """

    def __init__(self, msgid: str, *, raw: tuple[str, ...] = (), when: WhenCondition = None) -> None:
        super().__init__(when=when)
        self.msgid = msgid
        self.raw = raw

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        text = gettext(self.msgid)
        return text.format_map(_Fill(data, self.raw)) if "{" in text else text


def tr(msgid: str, **values: object) -> str:
    """Translate and fill a message id in handler code, isolating every value."""
    text = gettext(msgid)
    return text.format(**{k: isolate(v) for k, v in values.items()}) if values else text


# --- windows whose buttons name what they showed ----------------------------------------------------------

#: Telegram's limit for a button's callback data, in bytes.
CALLBACK_DATA_MAX = 64
#: Between the stamp and the widget's own data; aiogram-dialog puts the same byte between the intent id and
#: the rest, so a button reads ``<intent id>\x1d<stamp>\x1d<widget id>[:<item id>]``.
STAMP_SEP = "\x1d"
STAMP_LEN = 6  # base64 of 4 bytes of BLAKE2b: a 1 in 4 billion chance that two renders look alike
_RENDERED = "_rendered"  # dialog_data: what the newest render of this dialog showed


def stamp_of(state: str, shown: str) -> str:
    """A short, stable name for "window ``state`` showing ``shown``", fit for callback data."""
    digest = hashlib.blake2b(f"{state}|{shown}".encode(), digest_size=4).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def rendered(manager: DialogManager) -> str | None:
    """What the window on screen declared it shows (its ``shows`` value) at its newest render; None if the
    window on screen was not drawn by a :class:`Screen`.

    A press that reaches a handler was made on that render (:meth:`Screen.process_callback` refuses the
    others), so a handler compares this with what its own data says is current: when the database has
    moved on in between (another update), the press is refused as well instead of answering the wrong thing.
    """
    record = manager.dialog_data.get(_RENDERED)
    if not isinstance(record, dict) or record.get("state") != manager.current_context().state.state:
        return None
    shown = record.get("shows")
    return shown if isinstance(shown, str) else None


class Screen(Window):
    """A window whose every button carries a stamp of what the window showed when it was drawn.

    ``shows`` names what a render shows, from the getter's data (in the check: the run and the question);
    without it the window's state alone is the name. At every render the stamp goes into each button's
    callback data and the render is remembered in ``dialog_data``. A press whose stamp is not the newest
    render's (a double tap that arrives after the first tap moved the window on, a button of an older
    message, a button drawn before a "Back") gets "This button is no longer valid" and changes nothing:
    no handler runs, and the window is not redrawn. So a press never answers a question the person has
    not seen, in any window built with this class; every window of a feature's dialogs must be one
    (tests/test_double_tap.py checks the registry).
    """

    def __init__(self, *widgets: Any, state: Any, shows: Callable[[dict[str, Any]], object] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*widgets, state=state, **kwargs)
        self.shows = shows

    def _shown(self, data: dict[str, Any]) -> str:
        return "" if self.shows is None else str(self.shows(data))

    async def render_kbd(self, data: dict[str, Any], manager: DialogManager) -> MarkupVariant:
        shown = self._shown(data)
        stamp = stamp_of(self.state.state or "", shown)
        manager.dialog_data[_RENDERED] = {"state": self.state.state, "shows": shown, "stamp": stamp}
        keyboard = await self.keyboard.render_keyboard(data, manager)
        intent_id = manager.current_context().id
        for row in keyboard:
            for button in row:
                if isinstance(button, InlineKeyboardButton) and button.callback_data is not None:
                    button.callback_data = f"{stamp}{STAMP_SEP}{button.callback_data}"
                    size = len(f"{intent_id}{STAMP_SEP}{button.callback_data}".encode())
                    if size > CALLBACK_DATA_MAX:  # Telegram would refuse the whole message
                        raise ValueError(f"callback data of {button.callback_data!r} in {self.state.state} is "
                                         f"{size} bytes, more than Telegram's {CALLBACK_DATA_MAX}")
        return await self.markup_factory.render_markup(data, manager, keyboard)

    async def process_callback(self, callback: CallbackQuery, dialog: DialogProtocol, manager: DialogManager) -> bool:
        stamp, sep, widget_data = (callback.data or "").partition(STAMP_SEP)
        record = manager.dialog_data.get(_RENDERED)
        newest = record.get("stamp") if isinstance(record, dict) and record.get("state") == self.state.state else None
        if not sep and record is None:
            # Drawn before windows had stamps (a dialog kept in Redis across the update): as before.
            return await super().process_callback(callback, dialog, manager)
        if not sep or stamp != newest:
            await callback.answer(gettext(STALE))
            if newest is not None:
                # The newest render is on screen; drawing it again could only show an older state
                # (the first tap's transaction may not be committed yet).
                manager.show_mode = ShowMode.NO_UPDATE
            return True
        return await super().process_callback(callback.model_copy(update={"data": widget_data}), dialog, manager)
