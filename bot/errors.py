"""The catch-all for what no handler expected: the person gets an answer, the log gets one clean entry.

Included after the stale-dialog recovery (``bot/navigation.py``). The log entry names the update, where in
our code it failed and the exception's type, then the traceback's frames (file, line, code), never the
exception's message, which may hold a person's text or SQL parameters. A database that does not answer is
an outage, not a bug: ``DatabaseHealth`` logs its start and its end, once each.
"""

from __future__ import annotations

import logging
import socket
import traceback
from contextlib import suppress
from pathlib import Path
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, User
from aiogram.utils.i18n import I18n
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.guards import DatabaseHealth, is_group
from dialogs.languages import match_language
from dialogs.text import N_

log = logging.getLogger(__name__)

TECHNICAL_PROBLEM = N_("⚠️ We have a technical problem. Please try again in a few minutes.")
SORRY = N_("😔 Sorry, something went wrong. Please try again, or send /start.")

_OURS = tuple(str(Path(__file__).resolve().parent.parent / name) for name in ("bot", "dialogs", "storage"))


# PostgreSQL error classes that mean "cannot talk to the database now": connection exceptions (08),
# operator intervention (57P: shutdown, cannot connect now), not accepting connections (55000),
# too many connections (53300).
_OUTAGE_SQLSTATES = ("08", "57P", "55000", "53300")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or current in seen:
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return seen


def is_database_outage(exc: BaseException) -> bool:
    """The database cannot be reached (refused, dropped, shut down, pool exhausted), as opposed to a bug."""
    chain = _chain(exc)
    if any(isinstance(error, TelegramAPIError) for error in chain):
        return False  # Telegram timed out or was refused: not the database
    for error in chain:
        if isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, (ConnectionError, socket.gaierror, TimeoutError)):  # from the driver's connect()
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATES):
            return True
    return False


def where(exc: BaseException) -> str:
    """The innermost frame of our own code: ``dialogs/check/flow.py:312 on_free_text``."""
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if f.filename.startswith(_OURS)]
    root = Path(__file__).resolve().parent.parent
    ours = (
        f"{Path(frames[-1].filename).resolve().relative_to(root)}:{frames[-1].lineno} {frames[-1].name}"
        if frames else "outside our code"
    )
    if every and (not frames or every[-1] is not frames[-1]):  # raised inside a library: say where, too
        inner = every[-1]
        return f"{ours} (raised in {Path(inner.filename).name}:{inner.lineno} {inner.name})"
    return ours


def frames_only(exc: BaseException) -> str:
    """The traceback without any exception message: where, not what (values may be personal)."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()


def build_router(health: DatabaseHealth) -> Router:
    router = Router(name="errors")

    @router.errors()
    async def any_error(event: ErrorEvent, i18n: I18n, **data: Any) -> None:
        exc = event.exception
        update = event.update
        outage = is_database_outage(exc)
        if outage:
            health.failed(exc)
        else:
            log.error(
                "update %s failed in %s: %s\n%s", update.update_id, where(exc), type(exc).__name__, frames_only(exc)
            )
        # The locale the update was served in; the person object is not read (rolled back with the error).
        user: User | None = data.get("event_from_user")
        locale = data.get("locale") or match_language(user.language_code if user else None)
        locale = locale if locale in i18n.available_locales else i18n.default_locale
        text = i18n.gettext(TECHNICAL_PROBLEM if outage else SORRY, locale=locale)
        with suppress(TelegramAPIError):  # Telegram may be the problem; the log already has the error
            if update.callback_query is not None:
                await update.callback_query.answer(text, show_alert=True)
            elif update.message is not None and not is_group(update.message.chat):
                await update.message.answer(text)

    return router
