"""Last in line: whatever no feature took gets a clear answer in the person's language."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.menus import MenuCB

router = Router(name="fallback")


@router.callback_query(MenuCB.filter())
async def not_for_you(query: CallbackQuery) -> None:
    """A menu entry of a role the person does not have (an old menu, or a forged button)."""
    await query.answer(_("🚫 This is not available for you."), show_alert=True)


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    """A button of an old message, of a finished flow, or a forged one: say so, change nothing."""
    await query.answer(_("This button is no longer valid. Please use the newest message."), show_alert=True)


@router.message()
async def not_understood(message: Message) -> None:
    """Text, photos, stickers, voice: nothing is lost, and the person learns what to do next."""
    await message.answer(_("🤔 I did not understand that. Please use the buttons, or send /start."))
