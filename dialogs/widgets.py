"""aiogram-dialog widgets that speak gettext, so every window is in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.utils.i18n import gettext
from aiogram_dialog.api.protocols import DialogManager
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.text import Text

from dialogs.text import isolate


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
