"""Keyboards shared by several routers."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import LanguageCB
from dialogs.languages import LANGUAGES


def language_keyboard(current: str | None = None) -> InlineKeyboardMarkup:
    """All twelve languages by their own names, two a row; the current one is ticked."""
    builder = InlineKeyboardBuilder()
    for lang in LANGUAGES:
        mark = "✅ " if lang.code == current else ""
        builder.button(text=f"{mark}{lang.native_name}", callback_data=LanguageCB(code=lang.code))
    builder.adjust(2)
    return builder.as_markup()
