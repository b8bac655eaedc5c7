"""Callback data: ids only, never authority. Every handler re-checks what the button claims."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class LanguageCB(CallbackData, prefix="lang"):
    code: str
