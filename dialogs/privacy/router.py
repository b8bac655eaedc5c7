"""/privacy, /mydata and /delete: see, change, export and erase, for every role."""

from __future__ import annotations

import json
from contextlib import suppress

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.check.service import in_progress, latest_completed
from dialogs.feature import AppSettings
from dialogs.languages import BY_CODE
from dialogs.onboarding.service import GERMAN_LABELS, REGION_LABELS, get_profile
from dialogs.privacy.service import (
    NOTICE,
    PRIVACY_VERSION,
    PURPOSE_LABELS,
    ErasureReason,
    Purpose,
    current_consents,
    erase_person,
    export_person,
    record_consent,
)
from dialogs.text import N_, format_day, format_when, isolate
from dialogs.widgets import tr
from storage.models import GermanLevel, Person, Region

router = Router(name="privacy")


class PrivacyCB(CallbackData, prefix="priv"):
    action: str  # toggle | notice | delete | confirm_delete | keep
    purpose: str = ""


def _mark(value: bool | None) -> str:
    return "✅" if value else "❌"


async def privacy_view(session: AsyncSession, person: Person) -> tuple[str, InlineKeyboardMarkup]:
    assert person.id is not None
    consents = await current_consents(session, person.id)
    lines = [_("🔒 Your privacy choices"), ""]
    for purpose, label in PURPOSE_LABELS.items():
        lines.append(f"{_mark(consents.get(purpose))} {_(label)}")
    lines += ["", _("Press a button to change a choice.")]
    builder = InlineKeyboardBuilder()
    if consents.get(Purpose.STORE):
        for purpose in (Purpose.SHARE, Purpose.CONTACT):
            on = bool(consents.get(purpose))
            text = _("Turn off: {choice}") if on else _("Turn on: {choice}")
            builder.button(text=text.format(choice=_(PURPOSE_LABELS[purpose])),
                           callback_data=PrivacyCB(action="toggle", purpose=purpose.value))
    else:
        lines = [_("🔒 You have not agreed to store your answers, so we keep only your language. "
                   "Send /start to register.")]
    builder.button(text=_("📄 Read the privacy notice"), callback_data=PrivacyCB(action="notice"))
    builder.button(text=_("🗑️ Delete all my data"), callback_data=PrivacyCB(action="delete"))
    builder.adjust(1)
    return "\n".join(lines), builder.as_markup()


@router.message(Command("privacy"))
async def cmd_privacy(message: Message, person: Person, session: AsyncSession) -> None:
    await show_privacy(message, person, session)


@router.callback_query(PrivacyCB.filter(F.action == "toggle"))
async def toggle(query: CallbackQuery, callback_data: PrivacyCB, person: Person, session: AsyncSession) -> None:
    """Flip one optional consent; the storage consent itself is withdrawn only by erasing (see /delete)."""
    assert person.id is not None
    consents = await current_consents(session, person.id)
    if callback_data.purpose not in (Purpose.SHARE.value, Purpose.CONTACT.value) or not consents.get(Purpose.STORE):
        await query.answer(_("This button is no longer valid. Please use the newest message."), show_alert=True)
        return
    purpose = Purpose(callback_data.purpose)
    await record_consent(session, person, purpose, not consents.get(purpose))
    await query.answer(_("✅ Saved."))
    if isinstance(query.message, Message):
        text, markup = await privacy_view(session, person)
        with suppress(TelegramBadRequest):
            await query.message.edit_text(text, reply_markup=markup)


@router.callback_query(PrivacyCB.filter(F.action == "notice"))
async def notice(query: CallbackQuery, settings: AppSettings) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(tr(NOTICE, version=PRIVACY_VERSION, months=settings.retention_months))


def _delete_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🗑️ Yes, delete everything"), callback_data=PrivacyCB(action="confirm_delete"))
    builder.button(text=_("↩️ No, keep my data"), callback_data=PrivacyCB(action="keep"))
    builder.adjust(1)
    return builder.as_markup()


DELETE_QUESTION = N_(
    "🗑️ Do you really want to delete all your data?\n\n"
    "We will delete your name, your answers, your phone number and your choices. This cannot be undone."
)


@router.message(Command("delete"))
async def cmd_delete(message: Message) -> None:
    await message.answer(_(DELETE_QUESTION), reply_markup=_delete_keyboard())


@router.callback_query(PrivacyCB.filter(F.action == "delete"))
async def ask_delete(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_(DELETE_QUESTION), reply_markup=_delete_keyboard())


@router.callback_query(PrivacyCB.filter(F.action == "confirm_delete"))
async def confirm_delete(
    query: CallbackQuery, person: Person, session: AsyncSession, dialog_manager: DialogManager
) -> None:
    """Erase; a double tap finds nothing left to erase and gets the same answer."""
    await dialog_manager.reset_stack()
    await erase_person(session, person, ErasureReason.REQUEST)
    await query.answer()
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):  # a double tap: the message already says so
            await query.message.edit_text(
                _("✅ Done. We have deleted all your data.\n\nIf you want to start again, send /start.")
            )


@router.callback_query(PrivacyCB.filter(F.action == "keep"))
async def keep(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_text(_("👍 Nothing was deleted."))


def _region(value: str | None) -> str:
    return _(REGION_LABELS[Region(value)]) if value and value in Region.__members__.values() else "—"


def _level(value: str | None) -> str:
    return _(GERMAN_LABELS[GermanLevel(value)]) if value and value in GermanLevel.__members__.values() else "—"


#: One line about the check in the summary of /mydata; its answers and scores are in the file.
CHECK_FINISHED = N_("🧭 Competence check: finished on {date}")
CHECK_STARTED = N_("🧭 Competence check: started on {date}, not finished")
FILE_HAS_ALL = N_("📎 The file below has all of it in detail, for your records.")


def _language(code: str | None) -> str:
    return BY_CODE[code].native_name if code in BY_CODE else "—"


async def send_my_data(message: Message, person: Person, session: AsyncSession, settings: AppSettings) -> None:
    """Everything stored: a short summary to read, in the person's language, and a JSON file to keep
    with every row about them (``export_person``)."""
    data = await export_person(session, person)
    profile = await get_profile(session, person)
    locale = person.language or settings.default_language
    assert person.id is not None
    consents = await current_consents(session, person.id)
    lines = [
        _("📄 Your data"),
        "",
        _("Name: {value}").format(value=isolate(person.first_name or "—")),
        _("Language: {value}").format(value=isolate(_language(person.language))),
        _("Region: {value}").format(value=_region(profile.region if profile else None)),
        _("German: {value}").format(value=_level(profile.german_level if profile else None)),
        _("Phone: {value}").format(value=isolate((profile.phone if profile else None) or "—")),
    ]
    if profile and profile.registered_at:
        when = format_when(profile.registered_at, locale, settings.timezone)
        lines.append(_("Registered: {value}").format(value=isolate(when)))
    finished = await latest_completed(session, person.id)
    if finished is not None and finished.completed_at is not None:
        day = format_day(finished.completed_at, locale, settings.timezone)
        lines.append(tr(CHECK_FINISHED, date=day))
    elif (started := await in_progress(session, person.id)) is not None and started.answers:
        lines.append(tr(CHECK_STARTED, date=format_day(started.started_at, locale, settings.timezone)))
    lines += ["", _("Your choices:")]
    lines += [f"{_mark(consents.get(p))} {_(label)}" for p, label in PURPOSE_LABELS.items()]
    lines += ["", _(FILE_HAS_ALL)]
    await message.answer("\n".join(lines))
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await message.answer_document(BufferedInputFile(payload, filename="pro-connect-my-data.json"))


@router.message(Command("mydata"))
async def cmd_mydata(message: Message, person: Person, session: AsyncSession, settings: AppSettings) -> None:
    await send_my_data(message, person, session, settings)


async def show_privacy(message: Message, person: Person, session: AsyncSession) -> None:
    text, markup = await privacy_view(session, person)
    await message.answer(text, reply_markup=markup)
