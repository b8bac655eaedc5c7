"""Errors that a person can cause by tapping old buttons: answer in their language and carry on."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram_dialog import BgManagerFactory, ShowMode, StartMode
from aiogram_dialog.api.exceptions import OutdatedIntent, UnknownIntent, UnknownState
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.flows.onboarding import STATE_FOR_STEP
from bot.menus import menu_keyboard, menu_text
from bot.states import CheckSG
from dialogs.check.service import in_progress
from dialogs.languages import match_language
from dialogs.onboarding import Step, next_step
from dialogs.people import get_person

log = logging.getLogger(__name__)
router = Router(name="errors")


@router.errors(ExceptionTypeFilter(UnknownIntent, OutdatedIntent, UnknownState))
async def stale_dialog(
    event: ErrorEvent,
    bot: Bot,
    i18n: I18n,
    sessionmaker: async_sessionmaker[AsyncSession],
    dialog_bg_factory: BgManagerFactory,
    **_: Any,
) -> None:
    """A button of a dialog that no longer exists (a restart, /cancel, a newer window): resume from the database."""
    query = event.update.callback_query
    if query is None or query.message is None:
        log.warning("dialog error outside a button press: %s", type(event.exception).__name__)
        return
    async with sessionmaker() as session:
        person = await get_person(session, query.from_user.id)
        locale = (person.language if person else None) or match_language(query.from_user.language_code)
        with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
            await query.answer(i18n.gettext("This button is no longer valid. Please use the newest message."))
            if person is None:
                return
            step = await next_step(session, person)
            chat_id = query.message.chat.id
            if step is Step.DONE and person.id is not None and await in_progress(session, person.id) is not None:
                # A check under way: back to its next question, derived from the stored answers.
                manager = dialog_bg_factory.bg(bot, query.from_user.id, chat_id)
                await manager.start(CheckSG.question, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)
            elif step is Step.DONE:
                await bot.send_message(chat_id, menu_text(person), reply_markup=menu_keyboard(person))
            elif step in STATE_FOR_STEP:
                manager = dialog_bg_factory.bg(bot, query.from_user.id, chat_id)
                await manager.start(STATE_FOR_STEP[step], mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)
