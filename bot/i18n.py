"""Gettext wiring: compile the catalogs, resolve each update's language from the stored person."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from dialogs.languages import CODES, match_language
from storage.models import Person

log = logging.getLogger(__name__)
DOMAIN = "messages"


def compile_catalogs(locales_dir: Path) -> int:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older; return how many were built.

    Compiled catalogs are build products, never in git: the bot builds them at start, the Docker image
    at build time.
    """
    built = 0
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")  # one per process: several may start at once
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        tmp.replace(mo_path)  # atomic, so a second process starting at once never reads half a file
        built += 1
    return built


def create_i18n(locales_dir: Path, default_language: str) -> I18n:
    compile_catalogs(locales_dir)
    i18n = I18n(path=locales_dir, default_locale=default_language, domain=DOMAIN)
    missing = sorted(set(CODES) - set(i18n.available_locales))
    if missing:
        log.warning("no compiled catalog for %s; those users see %s", ", ".join(missing), default_language)
    return i18n


class PersonLocaleMiddleware(I18nMiddleware):
    """The stored language of the person; before they chose one, their Telegram app's language if we have it."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        data["locale"] = locale = self._resolve(data)  # kept for the error handler: the person may be gone then
        return locale

    def _resolve(self, data: dict[str, Any]) -> str:
        person: Person | None = data.get("person")
        if person is not None and person.language in self.i18n.available_locales:
            return person.language
        user: User | None = data.get("event_from_user")
        guess = match_language(user.language_code if user else None)
        if guess and guess in self.i18n.available_locales:
            return guess
        return self.i18n.default_locale
