"""/companies: the offers dialog for coordinators and company staff; anyone else is told it is not for them."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.offers.flow import NOT_FOR_YOU, StaffOnly, open_offers_admin
from storage.models import Person

router = Router(name="offers")
router.message.filter(StaffOnly())
router.callback_query.filter(StaffOnly())

others_router = Router(name="offers_others")  # after ``router``: whoever it did not take


@router.message(Command("companies"))
async def cmd_companies(message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager) -> None:
    await open_offers_admin(message, person, session, dialog_manager)


@others_router.message(Command("companies"))
async def companies_not_for_you(message: Message) -> None:
    await message.answer(_(NOT_FOR_YOU))
