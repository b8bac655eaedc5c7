"""/start and /language: pick the interface language by its own name, store it, continue in it."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import LanguageCB
from bot.keyboards import language_keyboard
from bot.menus import continue_person
from dialogs.languages import BY_CODE
from dialogs.people import set_language
from dialogs.text import isolate
from storage.models import Person

router = Router(name="start")


@router.message(CommandStart())
async def start(message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager) -> None:
    """New people choose a language; everyone else continues where they left off."""
    await continue_person(message, person, session, dialog_manager)


@router.message(Command("language"))
async def ask_language(message: Message, person: Person) -> None:
    """Show the language picker; the prompt is in the current language, the buttons in their own scripts."""
    await message.answer(_("🌐 Please choose your language."), reply_markup=language_keyboard(person.language))


@router.callback_query(LanguageCB.filter())
async def choose_language(
    query: CallbackQuery,
    callback_data: LanguageCB,
    person: Person,
    session: AsyncSession,
    i18n: I18n,
    dialog_manager: DialogManager,
) -> None:
    """Store the chosen language, confirm in it and continue; a forged or outdated code changes nothing."""
    language = BY_CODE.get(callback_data.code)
    if language is None or callback_data.code not in i18n.available_locales:
        await query.answer(_("This button is no longer valid. Please use the newest message."), show_alert=True)
        return
    await set_language(session, person, language.code)
    i18n.ctx_locale.set(language.code)  # the rest of this update speaks the new language
    await query.answer()
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):  # an old picker may no longer be editable
            await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(_("✅ Language: {language}").format(language=isolate(language.native_name)))
        await continue_person(query.message, person, session, dialog_manager)
