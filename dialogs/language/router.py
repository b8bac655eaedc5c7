"""/language and the language picker: choose the interface language by its own name, continue in it."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.feature import Navigator
from dialogs.languages import BY_CODE, LANGUAGES
from dialogs.people import set_language
from dialogs.text import N_, isolate
from storage.models import Person

router = Router(name="language")

CHOOSE = N_("🌐 Please choose your language.")


class LanguageCB(CallbackData, prefix="lang"):
    code: str


def language_keyboard(current: str | None = None) -> InlineKeyboardMarkup:
    """All twelve languages by their own names, two a row; the current one is ticked."""
    builder = InlineKeyboardBuilder()
    for lang in LANGUAGES:
        mark = "✅ " if lang.code == current else ""
        builder.button(text=f"{mark}{lang.native_name}", callback_data=LanguageCB(code=lang.code))
    builder.adjust(2)
    return builder.as_markup()


async def ask_language(message: Message, person: Person) -> None:
    """The picker; the prompt is in the current language, the buttons in their own scripts."""
    await message.answer(_(CHOOSE), reply_markup=language_keyboard(person.language))


@router.message(Command("language"))
async def cmd_language(message: Message, person: Person) -> None:
    await ask_language(message, person)


@router.callback_query(LanguageCB.filter())
async def choose_language(
    query: CallbackQuery,
    callback_data: LanguageCB,
    person: Person,
    session: AsyncSession,
    i18n: I18n,
    dialog_manager: DialogManager,
    navigator: Navigator,
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
        await navigator.continue_person(query.message, person, session, dialog_manager)
