"""The command menu Telegram shows beside the text field, in each language."""

from __future__ import annotations

from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from dialogs.text import N_

COMMANDS = (
    ("start", N_("Start")),
    ("menu", N_("Menu")),
    ("check", N_("Competence check")),
    ("language", N_("Change language")),
    ("privacy", N_("Privacy choices")),
    ("mydata", N_("My data")),
    ("delete", N_("Delete my data")),
    ("cancel", N_("Stop the current step")),
    ("help", N_("Help")),
)


def commands_for(i18n: I18n, locale: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=i18n.gettext(text, locale=locale)) for name, text in COMMANDS]
