"""The command menu Telegram shows beside the text field, in each language."""

from __future__ import annotations

from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from dialogs.text import N_

COMMANDS = (
    ("start", N_("Start")),
    ("language", N_("Change language")),
)


def commands_for(i18n: I18n, locale: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=i18n.gettext(text, locale=locale)) for name, text in COMMANDS]
