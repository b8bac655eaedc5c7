"""Participants only: open the competence check from the menu or with /check."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.flows.check import start_check
from bot.menus import MenuCB, continue_person
from dialogs.onboarding import Step, next_step
from storage.models import Person, Role

router = Router(name="check")
router.message.filter(HasRole(Role.PARTICIPANT))
router.callback_query.filter(HasRole(Role.PARTICIPANT))


async def _open(message: Message, person: Person, session: AsyncSession, manager: DialogManager) -> None:
    """The check where the person left it; registration first if it is not finished."""
    if await next_step(session, person) is not Step.DONE:
        await message.answer(_("📝 First, please finish your registration. It takes only a few steps."))
        await continue_person(message, person, session, manager)
        return
    await start_check(manager, session, person)


@router.message(Command("check"))
async def cmd_check(message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager) -> None:
    await _open(message, person, session, dialog_manager)


@router.callback_query(MenuCB.filter(F.action == "check"))
async def menu_check(
    query: CallbackQuery, person: Person, session: AsyncSession, dialog_manager: DialogManager
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await _open(query.message, person, session, dialog_manager)
