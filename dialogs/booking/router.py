"""The buttons of the booking's outbox messages: the answer to a reminder, attendance, feedback.

The outbox rows (``dialogs/booking/service.py``) carry these callbacks:

- ``bkr:<booking>:yes|no``       the participant answers a reminder ("I am coming" / "I cannot come");
- ``bka:<booking>:yes|no``       a company member: the participant came, or did not;
- ``bkf:<booking>:good|ok|bad``  the participant: how was the day (then: an internship there?);
- ``bki:<booking>:yes|no``       the participant would like an internship there;
- ``bkc:<booking>:yes|no``       the company would offer one.

No role filter: who may press is decided per booking, on the server (``dialogs/booking/aftercare.py``): its
own participant, or a member of its company. Anyone else, whatever the button, gets "not available".
Participants are answered in their language; company staff in theirs, German unless they chose one (as the
outbox speaks to them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.booking import aftercare
from dialogs.booking.aftercare import Answer, Result
from dialogs.booking.flow import open_my_appointments, open_offers
from dialogs.booking.service import NO, NOT_COMING, YES, Policy
from dialogs.feature import AppSettings, Navigator
from dialogs.filters import HasRole
from dialogs.text import N_, format_day, format_when
from dialogs.widgets import STALE, tr
from storage.booking import BookingStatus
from storage.models import Person, Role
from storage.types import utcnow

router = Router(name="booking")

NOT_FOR_YOU = N_("🚫 This is not available for you.")  # same msgid as bot/navigation
SAVED = N_("✅ Saved.")
COMING_NOTED = N_("👍 Thank you! We have noted that you are coming.")
CANCELLED_BY_REPLY = N_("✅ Your hospitation at {company} on {day} is cancelled. Thank you for letting us know.")
TOO_LATE_TO_CANCEL = N_(
    "It is too late to cancel in the bot now. We have told the coordinators that you cannot come, "
    "and they will let {company} know."
)
RECORDED_CAME = N_("✅ Saved: {name} came to the hospitation on {when}.")
RECORDED_NO_SHOW = N_("Saved: {name} did not come to the hospitation on {when}.")
ALREADY_CAME = N_("Already recorded: {name} came.")
ALREADY_NO_SHOW = N_("Already recorded: {name} did not come.")
ASK_PARTICIPANT_INTERNSHIP = N_("Thank you! Would you like to do an internship at {company}?")
WANTS_INTERNSHIP = N_("👍 Thank you! If {company} would also like it, a coordinator will get in touch with you.")
OFFERS_INTERNSHIP = N_("✅ Thank you! If {name} would also like it, a coordinator will get in touch with you.")
THANKS = N_("Thank you for your answer.")


class ReminderCB(CallbackData, prefix="bkr"):
    booking: int
    answer: str  # yes | no


class AttendanceCB(CallbackData, prefix="bka"):
    booking: int
    answer: str  # yes | no


class RatingCB(CallbackData, prefix="bkf"):
    booking: int
    rating: str  # good | ok | bad


class WishCB(CallbackData, prefix="bki"):
    booking: int
    answer: str  # yes | no


class OfferCB(CallbackData, prefix="bkc"):
    booking: int
    answer: str  # yes | no


YES_NO = {"yes": True, "no": False}


def policy_of(settings: AppSettings) -> Policy:
    return Policy(cutoff=timedelta(hours=settings.booking_cutoff_hours), timezone=settings.timezone)


@contextmanager
def staff_language(person: Person, i18n: I18n) -> Iterator[str]:
    """Company staff read the bot in the language they chose, else the programme's (German), as in the outbox."""
    locale = person.language if person.language in i18n.available_locales else i18n.default_locale
    with i18n.use_locale(locale):
        yield locale


async def _refuse(query: CallbackQuery, answer: Answer) -> bool:
    """Answer a press that may change nothing; True if it was one."""
    if answer.result is Result.NOT_YOURS:
        await query.answer(_(NOT_FOR_YOU), show_alert=True)
    elif answer.result is Result.GONE or answer.view is None:
        await query.answer(_(STALE), show_alert=True)
    else:
        return False
    return True


async def _replace(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Put the answer where the question was; a question no longer in the chat gets a new message."""
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):  # a double tap: the message already says so
            await query.message.edit_text(text, reply_markup=markup)
        return
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text, reply_markup=markup)


async def _set_buttons(query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=markup)


async def _say(query: CallbackQuery, text: str) -> None:
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text)


def _yes_no(prefix: str, booking_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_(YES), callback_data=f"{prefix}:{booking_id}:yes"),
        InlineKeyboardButton(text=_(NO), callback_data=f"{prefix}:{booking_id}:no"),
    ]])


# ------------------------------------------------------------------------------------ the participant


@router.callback_query(ReminderCB.filter())
async def reminder_answer(
    query: CallbackQuery, callback_data: ReminderCB, person: Person, session: AsyncSession, settings: AppSettings,
    i18n: I18n,
) -> None:
    if callback_data.answer not in YES_NO:
        await query.answer(_(STALE), show_alert=True)
        return
    coming = YES_NO[callback_data.answer]
    answer = await aftercare.answer_reminder(session, person, callback_data.booking, coming, now=utcnow(),
                                             policy=policy_of(settings))
    if await _refuse(query, answer):
        return
    assert answer.view is not None
    if answer.result is Result.UNCHANGED:
        await query.answer(_(SAVED))
        return
    await query.answer()
    company = answer.view.company.name
    if answer.result is Result.SAVED:
        # Still possible afterwards: saying that they cannot come after all.
        await _set_buttons(query, InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=_(NOT_COMING), callback_data=ReminderCB(booking=callback_data.booking, answer="no").pack())]]))
        await _say(query, _(COMING_NOTED))
        return
    await _set_buttons(query, None)
    if answer.result is Result.CANCELLED:
        day = format_day(answer.view.slot.starts_at, i18n.current_locale, settings.timezone)
        await _say(query, tr(CANCELLED_BY_REPLY, company=company, day=day))
    else:
        await _say(query, tr(TOO_LATE_TO_CANCEL, company=company))


@router.callback_query(RatingCB.filter())
async def rating(
    query: CallbackQuery, callback_data: RatingCB, person: Person, session: AsyncSession,
) -> None:
    answer = await aftercare.rate(session, person, callback_data.booking, callback_data.rating, now=utcnow())
    if await _refuse(query, answer):
        return
    assert answer.view is not None
    await query.answer()
    await _replace(query, tr(ASK_PARTICIPANT_INTERNSHIP, company=answer.view.company.name),
                   _yes_no("bki", callback_data.booking))


@router.callback_query(WishCB.filter())
async def internship_wish(
    query: CallbackQuery, callback_data: WishCB, person: Person, session: AsyncSession, settings: AppSettings,
) -> None:
    if callback_data.answer not in YES_NO:
        await query.answer(_(STALE), show_alert=True)
        return
    wants = YES_NO[callback_data.answer]
    answer = await aftercare.participant_internship(session, person, callback_data.booking, wants, now=utcnow(),
                                                    policy=policy_of(settings))
    if await _refuse(query, answer):
        return
    assert answer.view is not None
    await query.answer(_(SAVED) if answer.result is Result.UNCHANGED else None)
    await _replace(query, tr(WANTS_INTERNSHIP, company=answer.view.company.name) if wants else _(THANKS))


# --------------------------------------------------------------------------------------- company staff


@router.callback_query(AttendanceCB.filter())
async def attendance(
    query: CallbackQuery, callback_data: AttendanceCB, person: Person, session: AsyncSession, settings: AppSettings,
    i18n: I18n,
) -> None:
    with staff_language(person, i18n) as locale:
        if callback_data.answer not in YES_NO:
            await query.answer(_(STALE), show_alert=True)
            return
        came = YES_NO[callback_data.answer]
        answer = await aftercare.record_attendance(session, person, callback_data.booking, came, now=utcnow(),
                                                   policy=policy_of(settings))
        if await _refuse(query, answer):
            return
        assert answer.view is not None
        if answer.result is Result.ALREADY:
            already = ALREADY_CAME if answer.view.booking.status == BookingStatus.ATTENDED.value else ALREADY_NO_SHOW
            await query.answer(tr(already, name=answer.name), show_alert=True)
            await _set_buttons(query, None)
            return
        await query.answer()
        when = format_when(answer.view.slot.starts_at, locale, settings.timezone, fmt="short")
        await _replace(query, tr(RECORDED_CAME if came else RECORDED_NO_SHOW, name=answer.name, when=when))


@router.callback_query(OfferCB.filter())
async def internship_offer(
    query: CallbackQuery, callback_data: OfferCB, person: Person, session: AsyncSession, settings: AppSettings,
    i18n: I18n,
) -> None:
    with staff_language(person, i18n):
        if callback_data.answer not in YES_NO:
            await query.answer(_(STALE), show_alert=True)
            return
        offers = YES_NO[callback_data.answer]
        answer = await aftercare.company_internship(session, person, callback_data.booking, offers, now=utcnow(),
                                                    policy=policy_of(settings))
        if await _refuse(query, answer):
            return
        await query.answer(_(SAVED) if answer.result is Result.UNCHANGED else None)
        await _replace(query, tr(OFFERS_INTERNSHIP, name=answer.name) if offers else _(THANKS))


commands = Router(name="booking_commands")
commands.message.filter(HasRole(Role.PARTICIPANT))


@commands.message(Command("offers"))
async def cmd_offers(
    message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager, navigator: Navigator
) -> None:
    await open_offers(message, person, session, dialog_manager, navigator)


@commands.message(Command("appointments"))
async def cmd_appointments(
    message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager
) -> None:
    await open_my_appointments(message, person, session, dialog_manager)
