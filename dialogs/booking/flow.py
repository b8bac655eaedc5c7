"""The participant's side of hospitation booking: offers that fit, an offer's details, a calendar of free days,
the times of a day, the confirmation, and "my appointments" with cancel and change.

Windows (``BookingSG``): offers → offer → calendar → times → confirm → booked; mine → appointment → cancel,
and appointment → calendar (change the day: the same offer's calendar, then ``reschedule``).

What is shown comes from the database at every render (getters only read); dialog state only remembers what
is being looked at (an offer id, a day, a slot id, the booking being changed). Every window is a
``dialogs.widgets.Screen``, so a double tap or a button of an older message never acts on something not on
screen; handlers then ask the service again (a slot may have filled up in between), and a booking or slot
that no longer exists gets "This button is no longer valid".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiogram.enums import ContentType
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import Dialog, DialogManager, ShowMode, StartMode
from aiogram_dialog.api.entities import MediaAttachment, MediaId
from aiogram_dialog.widgets.kbd import Button, Column, Row, Select, SwitchTo, Url
from aiogram_dialog.widgets.media import DynamicMedia
from aiogram_dialog.widgets.text import Format
from babel.dates import format_date, format_time
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.booking.ics import event_file
from dialogs.booking.matching import Reason
from dialogs.booking.service import (
    BookingView,
    OfferView,
    Outcome,
    Policy,
    book,
    booking_view,
    cancel,
    free_days,
    free_slots,
    get_offer,
    map_link,
    offers_for,
    request_call,
    reschedule,
    upcoming,
)
from dialogs.calendar import LocalCalendar
from dialogs.check.content import CheckContent, load_content
from dialogs.check.scoring import Profile
from dialogs.check.service import latest_completed, reason_lines, stored_profile
from dialogs.feature import Navigator, navigator_of
from dialogs.languages import BY_CODE
from dialogs.text import N_, format_day, isolate, strip_isolates
from dialogs.widgets import STALE, Screen, T, tr
from storage.booking import HospitationSlot
from storage.companies import Company, HospitationOffer
from storage.models import Person
from storage.types import utcnow

__all__ = ["BookingSG", "dialog", "open_my_appointments", "open_offers"]


class BookingSG(StatesGroup):
    offers = State()
    offer = State()
    calendar = State()
    times = State()
    confirm = State()
    booked = State()
    mine = State()
    appointment = State()
    cancel = State()


PAGE = 3  # offers per message: a few good ones, then "more"
CAPTION_MAX = 1024  # Telegram's limit for a photo's text: a longer text goes without the photo

# dialog_data keys
OFFSET = "offset"  # first offer shown
OFFER = "offer"  # the offer looked at / being booked
DAY = "day"  # ISO date picked in the calendar
SLOT = "slot"  # slot picked among the day's times
MOVING = "moving"  # the booking whose day is being changed (None: a new booking)
BOOKING = "booking"  # the booking looked at in "my appointments"
BOOKED = "booked"  # the booking just made (or moved to)
NOTICE = "notice"  # (msgid, values): what happened, at the top of the next window

# --- texts ---------------------------------------------------------------------------------------------

BACK = N_("⬅️ Back")
MENU = N_("🏠 Menu")
CHECK = N_("🧭 Competence check")
NOT_FOR_YOU = N_("🚫 This is not available for you.")
SEE_OFFERS = N_("🏭 Offers for me")
MY_APPOINTMENTS = N_("📅 My appointments")

FIRST_THE_CHECK = N_("🧭 First, please do the competence check. Then we can show you offers that fit you.")
OFFERS_HEAD = N_("🏭 Offers that fit you:")
OFFERS_PAGE = N_("🏭 Offers that fit you ({first}–{last} of {total}):")
OFFERS_HINT = N_("Press an offer to see the details and book a day.")
NO_OFFER = N_("We did not find an offer that fits you yet.")
NO_FIELD = N_("We did not find a clear field for you yet.")
TEAM_WILL_CALL = N_("Our team will look at your result and call you.")
ASK_CALL = N_("📞 Ask for a call")
CALL_ASKED = N_("✅ Thank you. We told our team. They will contact you soon.")
MORE = N_("➡️ More offers")

FIELD_SCORE = N_("Your result in this field: {score} of 100")
REASONS: dict[str, str] = {
    "region": N_("📍 Near you: in your region"),
    "shifts": N_("⚠️ This work has early, late or night shifts. You said that is hard for you."),
    "heavy": N_("⚠️ This work is physically heavy. You said that is hard for you."),
}
BY_BUS_MINUTES = N_("🚌 You can get there by bus: about {minutes} minutes")
REACHABLE: dict[str, str] = {
    "public": N_("🚌 You can get there by bus or train."),
    "bicycle": N_("🚲 You can get there by bicycle."),
    "car": N_("🚗 You can get there by car."),
    "none": N_("🚶 You can get there on foot."),
}
WAY_EMOJI = {"public": "🚌", "bicycle": "🚲", "car": "🚗", "none": "🚶"}
UNREACHABLE = N_("⚠️ It may be hard for you to get there. Ways there: {ways}")
STAFF_SPEAK = N_("🗣️ Staff speak {languages}")
LICENCE = N_("⚠️ You need this for the work: {licences}")
LICENCE_QUESTION = "work.licence"

OFFER_GONE = N_("This offer is no longer available.")
ADDRESS = N_("📍 Address: {address}")
MEETING_POINT = N_("🚪 Meeting point: {place}")
CONTACT = N_("👤 Ask for: {name}")
BRING = N_("🎒 Please bring: {things}")
CLOTHING = N_("🦺 Clothes and shoes: {clothing}")
DURATION = N_("⏱️ Duration: about {hours} hours")
BOOK_A_DAY = N_("📅 Book a day")
MAP = N_("🗺️ Map")

CHOOSE_DAY = N_("📅 Choose a day. Days with ✅ have free places.")
NO_FREE_DAYS = N_("There are no free days at the moment. Please look again in a few days.")
DAY_NOT_FREE = N_("No free places on this day. Please choose a day with ✅.")
CHOOSE_TIME = N_("🕘 Choose a time on {day}:")
CHECK_BOOKING = N_("Please check your hospitation:")
BOOK_QUESTION = N_("Book this day?")
CHANGE_QUESTION = N_("Change your appointment to this day?")
BOOK = N_("✅ Book this day")
CHANGE_TO = N_("✅ Change to this day")

BOOKED_TEXT = N_("✅ Booked! See you there.")
CHANGED_TEXT = N_("✅ Your day is changed.")
REMINDERS = N_("⏰ We will remind you the day before and two hours before.")
ICS_CAPTION = N_("📎 Add this day to your calendar.")
ICS_SUMMARY = N_("Hospitation at {company}")
FULL = N_("⛔ This time is full now. Please choose another one.")
CLOSED = N_("⛔ This time can no longer be booked. Please choose another day.")
OVERLAP = N_("⚠️ You already have an appointment at that time.")
ALREADY = N_("ℹ️ You have already booked this.")
TOO_LATE_TO_CHANGE = N_("⚠️ It is too late to change this day here. Please call the company if you cannot come.")

NO_APPOINTMENTS = N_("📅 You have no booked days yet.")
APPOINTMENTS_HEAD = N_("📅 Your booked days:")
APPOINTMENTS_HINT = N_("Press a day to change or cancel it.")
CANCEL_DAY = N_("❌ Cancel this day")
CHANGE_DAY = N_("📅 Change the day")
CANCEL_QUESTION = N_("❓ Do you really want to cancel this day?")
YES_CANCEL = N_("✅ Yes, cancel")
NO = N_("❌ No")
CANCELLED = N_("✅ Cancelled. We told the company.")
TOO_LATE_TO_CANCEL = N_(
    "It is too late to cancel here. We told the team; please call the company if you can."
)


# --- shared helpers ------------------------------------------------------------------------------------


def _deps(manager: DialogManager) -> tuple[AsyncSession, Person]:
    data = manager.middleware_data
    return data["session"], data["person"]


def _policy(manager: DialogManager) -> Policy:
    settings = manager.middleware_data["settings"]
    return Policy(cutoff=timedelta(hours=settings.booking_cutoff_hours), timezone=settings.timezone)


def _locale(manager: DialogManager) -> str:
    return str(manager.middleware_data.get("locale") or "de")


def _content(manager: DialogManager) -> CheckContent:
    content: CheckContent | None = manager.middleware_data.get("check_content")
    return content or load_content()


def _time(moment: datetime, locale: str, tz: str) -> str:
    return format_time(moment, "short", tzinfo=ZoneInfo(tz), locale=locale)


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def _notice(manager: DialogManager) -> str:
    """What the last action did, as a sentence, for the top of the window that follows it."""
    notice = manager.dialog_data.get(NOTICE)
    if not notice:
        return ""
    msgid, values = notice
    return tr(msgid, **values)


def _go_values(manager: DialogManager, notice: str | None, values: dict[str, Any]) -> None:
    manager.dialog_data[NOTICE] = (notice, values) if notice else None


async def _go(manager: DialogManager, state: State, notice: str | None = None, **values: Any) -> None:
    _go_values(manager, notice, values)
    await manager.switch_to(state)


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p is not None)


def _where(offer: HospitationOffer) -> str:
    return offer.address or offer.town


def _languages(codes: Any) -> str:
    return ", ".join(BY_CODE[c].native_name for c in codes if c in BY_CODE)


# --- what a person reads about an offer ----------------------------------------------------------------


def reason_sentences(
    reasons: tuple[Reason, ...], profile: Profile, field: str, content: CheckContent
) -> list[str]:
    """The fit's reasons in plain words: first what the person has done in the field, then what helps, then
    honest warnings."""
    lines: list[str] = []
    for reason in reasons:
        values = reason.values
        if reason.kind == "field":
            if profile.reasons_for(field):
                lines.append("✅ " + reason_lines(profile, field, content, _)[0])
            else:
                lines.append("✅ " + tr(FIELD_SCORE, score=reason.points))
        elif reason.kind in REASONS:
            lines.append(_(REASONS[reason.kind]))
        elif reason.kind == "reachable":
            minutes = values.get("minutes")
            if values.get("transport") == "public" and minutes is not None:
                lines.append(tr(BY_BUS_MINUTES, minutes=minutes))
            elif (msgid := REACHABLE.get(str(values.get("transport")))) is not None:
                lines.append(_(msgid))
        elif reason.kind == "unreachable":
            ways = " ".join(WAY_EMOJI.get(str(w), "") for w in cast(tuple[str, ...], values.get("ways", ())))
            lines.append(tr(UNREACHABLE, ways=ways.strip() or "—"))
        elif reason.kind == "language":
            lines.append(tr(STAFF_SPEAK, languages=_languages(values.get("languages", ()))))
        elif reason.kind == "licence":
            question = content.question(LICENCE_QUESTION)
            names = []
            for code in cast(tuple[str, ...], values.get("licences", ())):
                option = question.option(code) if question is not None else None
                names.append(_(option.text) if option is not None else code)
            lines.append(tr(LICENCE, licences=", ".join(names)))
    return lines


def _offer_block(number: int, view: OfferView, profile: Profile, content: CheckContent) -> str:
    fs = profile.field_score(view.offer.field)
    emoji = f"{fs.emoji} " if fs is not None and fs.emoji else ""
    head = f"{number}. {emoji}{isolate(view.offer.title)}"
    where = f"🏭 {isolate(view.company.name)} · {isolate(view.offer.town)}"
    return _lines(head, where, *reason_sentences(view.fit.reasons, profile, view.offer.field, content))


def _details(offer: HospitationOffer, company: Company) -> list[str]:
    """Everything a person needs to show up, in the order they need it."""
    lines = [f"🏭 {isolate(company.name)} · {isolate(offer.town)}"]
    if offer.address:
        lines += [tr(ADDRESS, address=offer.address), f"🗺️ {map_link(offer.address)}"]
    if offer.meeting_point:
        lines.append(tr(MEETING_POINT, place=offer.meeting_point))
    if offer.contact_name:
        lines.append(tr(CONTACT, name=offer.contact_name))
    if offer.what_to_bring:
        lines.append(tr(BRING, things=offer.what_to_bring))
    if offer.clothing:
        lines.append(tr(CLOTHING, clothing=offer.clothing))
    if company.languages:
        lines.append(tr(STAFF_SPEAK, languages=_languages(company.languages)))
    if offer.duration_hours:
        hours = f"{offer.duration_hours:g}"
        lines.append(tr(DURATION, hours=hours))
    return lines


def _when_lines(slot: HospitationSlot, offer: HospitationOffer, locale: str, tz: str) -> list[str]:
    day = format_day(slot.starts_at, locale, tz)
    start, end = _time(slot.starts_at, locale, tz), _time(slot.ends_at, locale, tz)
    return [f"📅 {isolate(day)}", f"🕘 {isolate(start)} – {isolate(end)}", f"🔧 {isolate(offer.title)}"]


def _photo(offer: HospitationOffer, content: CheckContent) -> MediaAttachment | None:
    """The workplace photo: a file beside the check's media, or a Telegram file id; None if neither."""
    if not offer.photo:
        return None
    try:
        path = content.media_path(offer.photo)
    except ValueError:
        path = None
    if path is not None and path.is_file():
        return MediaAttachment(ContentType.PHOTO, path=path)
    if "/" not in offer.photo and "." not in offer.photo:  # Telegram file ids have neither
        return MediaAttachment(ContentType.PHOTO, file_id=MediaId(offer.photo))
    return None


# --- getters -------------------------------------------------------------------------------------------


async def _profile(session: AsyncSession, person: Person) -> Profile | None:
    assert person.id is not None
    run = await latest_completed(session, person.id)
    return stored_profile(run) if run is not None else None


async def get_offers(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    notice = _notice(dialog_manager)
    profile = await _profile(session, person)
    if profile is None:
        return {"text": "\n\n".join(p for p in (notice, _(FIRST_THE_CHECK)) if p), "offers": [],
                "no_check": True, "none": False, "more": False, "back": False, "shows": "no-check"}
    views = await offers_for(session, person, profile)
    if not views:
        why = NO_FIELD if not profile.top_fields else NO_OFFER
        text = "\n\n".join(p for p in (notice, _(why), _(TEAM_WILL_CALL)) if p)
        return {"text": text, "offers": [], "no_check": False, "none": True, "more": False, "back": False,
                "shows": "none"}
    offset = int(dialog_manager.dialog_data.get(OFFSET) or 0)
    if offset >= len(views):
        offset = 0
    shown = views[offset:offset + PAGE]
    content = _content(dialog_manager)
    head = (tr(OFFERS_PAGE, first=offset + 1, last=offset + len(shown), total=len(views)) if len(views) > PAGE
            else _(OFFERS_HEAD))
    blocks = [_offer_block(offset + i + 1, view, profile, content) for i, view in enumerate(shown)]
    text = "\n\n".join(p for p in (notice, head, *blocks, _(OFFERS_HINT)) if p)
    items = [(str(v.offer.id), f"{offset + i + 1}. {v.offer.title} · {v.company.name}") for i, v in enumerate(shown)]
    return {
        "text": text, "offers": items, "no_check": False, "none": False,
        "more": offset + PAGE < len(views), "back": offset > 0,
        "shows": f"{offset}:{','.join(i for i, _label in items)}",
    }


async def get_offer_details(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, _person = _deps(dialog_manager)
    offer_id = int(dialog_manager.dialog_data.get(OFFER) or 0)
    found = await get_offer(session, offer_id)
    if found is None:
        return {"text": _(OFFER_GONE), "photo": None, "map": None, "found": False, "shows": f"{offer_id}:gone"}
    offer, company = found
    text = _lines(f"🔧 {isolate(offer.title)}", *_details(offer, company))
    photo = _photo(offer, _content(dialog_manager))
    return {
        "text": text,
        "photo": photo if len(strip_isolates(text)) <= CAPTION_MAX else None,
        "map": map_link(offer.address) if offer.address else None,
        "found": True,
        "shows": str(offer_id),
    }


async def get_calendar(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, _person = _deps(dialog_manager)
    offer_id = int(dialog_manager.dialog_data.get(OFFER) or 0)
    found = await get_offer(session, offer_id)
    days = await free_days(session, offer_id, now=utcnow(), policy=_policy(dialog_manager)) if found else {}
    title = f"🔧 {isolate(found[0].title)} · {isolate(found[1].name)}" if found else _(OFFER_GONE)
    lead = _(CHOOSE_DAY) if days else _(NO_FREE_DAYS)
    return {
        "text": "\n\n".join(p for p in (_notice(dialog_manager), title, lead) if p),
        "free_days": {d.isoformat(): n for d, n in days.items()},
        "has_days": bool(days),
        "shows": f"{offer_id}:{dialog_manager.dialog_data.get(MOVING)}",
    }


async def get_times(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, _person = _deps(dialog_manager)
    policy, locale = _policy(dialog_manager), _locale(dialog_manager)
    offer_id = int(dialog_manager.dialog_data.get(OFFER) or 0)
    day = date.fromisoformat(dialog_manager.dialog_data[DAY])
    slots = await free_slots(session, offer_id, now=utcnow(), policy=policy, day=day)
    shown_day = format_day(datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(policy.timezone)),
                           locale, policy.timezone)
    items = [
        (str(s.id), f"🕘 {_time(s.starts_at, locale, policy.timezone)} – {_time(s.ends_at, locale, policy.timezone)}"
                    f" · 👥 {s.capacity - s.booked}")
        for s in slots
    ]
    lead = tr(CHOOSE_TIME, day=shown_day) if items else _(DAY_NOT_FREE)
    return {
        "text": "\n\n".join(p for p in (_notice(dialog_manager), lead) if p),
        "slots": items,
        "shows": f"{day.isoformat()}:{','.join(i for i, _label in items)}",
    }


async def get_confirm(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, _person = _deps(dialog_manager)
    policy, locale = _policy(dialog_manager), _locale(dialog_manager)
    slot_id = int(dialog_manager.dialog_data.get(SLOT) or 0)
    moving = dialog_manager.dialog_data.get(MOVING)
    slots = await free_slots(session, int(dialog_manager.dialog_data.get(OFFER) or 0), now=utcnow(), policy=policy)
    slot = next((s for s in slots if s.id == slot_id), None)
    found = await get_offer(session, slot.offer_id) if slot is not None else None
    if slot is None or found is None:
        return {"text": _(FULL), "ok": False, "new": False, "move": False, "shows": f"{slot_id}:{moving}:gone"}
    offer, company = found
    lines = [_(CHECK_BOOKING), "", *_when_lines(slot, offer, locale, policy.timezone), *_details(offer, company), "",
             _(CHANGE_QUESTION) if moving else _(BOOK_QUESTION)]
    return {"text": _lines(*lines), "ok": True, "new": not moving, "move": bool(moving),
            "shows": f"{slot_id}:{moving}"}


def _booking_text(view: BookingView, locale: str, tz: str) -> list[str]:
    return [*_when_lines(view.slot, view.offer, locale, tz), *_details(view.offer, view.company)]


async def get_booked(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    policy, locale = _policy(dialog_manager), _locale(dialog_manager)
    booking_id = int(dialog_manager.dialog_data.get(BOOKED) or 0)
    view = await booking_view(session, booking_id)
    if view is None or view.booking.person_id != person.id:
        return {"text": _(STALE), "map": None, "shows": f"{booking_id}:gone"}
    head = _(CHANGED_TEXT) if dialog_manager.dialog_data.get(MOVING) else _(BOOKED_TEXT)
    lines = [head, "", *_booking_text(view, locale, policy.timezone), "", _(REMINDERS)]
    return {"text": _lines(*lines), "map": map_link(view.offer.address) if view.offer.address else None,
            "shows": str(booking_id)}


async def get_mine(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    policy, locale = _policy(dialog_manager), _locale(dialog_manager)
    views = await upcoming(session, person, now=utcnow())
    notice = _notice(dialog_manager)
    if not views:
        return {"text": "\n\n".join(p for p in (notice, _(NO_APPOINTMENTS)) if p), "bookings": [], "shows": ""}
    blocks = []
    items = []
    for number, view in enumerate(views, start=1):
        day = format_day(view.slot.starts_at, locale, policy.timezone)
        start = _time(view.slot.starts_at, locale, policy.timezone)
        end = _time(view.slot.ends_at, locale, policy.timezone)
        place = _where(view.offer)
        blocks.append(_lines(f"{number}. 📅 {isolate(day)} · {isolate(start)} – {isolate(end)}",
                             f"🏭 {isolate(view.company.name)}: {isolate(view.offer.title)}", f"📍 {isolate(place)}"))
        short = format_date(_local_day(view.slot.starts_at, policy.timezone), "medium", locale=locale)
        items.append((str(view.booking.id), f"{number}. 📅 {short} · {start} · {view.company.name}"))
    text = "\n\n".join(p for p in (notice, _(APPOINTMENTS_HEAD), *blocks, _(APPOINTMENTS_HINT)) if p)
    return {"text": text, "bookings": items, "shows": ",".join(i for i, _label in items)}


async def _own_booking(manager: DialogManager) -> BookingView | None:
    """The booking looked at, if it is still the person's and still booked (else an old button)."""
    session, person = _deps(manager)
    booking_id = int(manager.dialog_data.get(BOOKING) or 0)
    views = await upcoming(session, person, now=utcnow())
    return next((v for v in views if v.booking.id == booking_id), None)


async def get_appointment(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    policy, locale = _policy(dialog_manager), _locale(dialog_manager)
    view = await _own_booking(dialog_manager)
    if view is None:
        return {"text": _(STALE), "ok": False, "map": None, "shows": "gone"}
    lines = [*(p for p in (_notice(dialog_manager),) if p), *_booking_text(view, locale, policy.timezone)]
    return {"text": _lines(*lines), "ok": True,
            "map": map_link(view.offer.address) if view.offer.address else None, "shows": str(view.booking.id)}


async def get_cancel(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    policy, locale = _policy(dialog_manager), _locale(dialog_manager)
    view = await _own_booking(dialog_manager)
    if view is None:
        return {"text": _(STALE), "ok": False, "shows": "gone"}
    lines = [_(CANCEL_QUESTION), "", *_when_lines(view.slot, view.offer, locale, policy.timezone),
             f"🏭 {isolate(view.company.name)}"]
    return {"text": _lines(*lines), "ok": True, "shows": str(view.booking.id)}


# --- handlers ------------------------------------------------------------------------------------------


async def on_check(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    if isinstance(query.message, Message):
        await navigator_of(manager.middleware_data).open_entry("check", query.message, person, session, manager)


async def on_menu(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.done()
    if isinstance(query.message, Message):
        await navigator_of(manager.middleware_data).send_menu(query.message, manager.middleware_data["person"])


async def on_call(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    await request_call(session, person, now=utcnow(), policy=_policy(manager))
    _go_values(manager, CALL_ASKED, {})


async def on_more(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    manager.dialog_data[OFFSET] = int(manager.dialog_data.get(OFFSET) or 0) + PAGE
    _go_values(manager, None, {})


async def on_previous(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    manager.dialog_data[OFFSET] = max(0, int(manager.dialog_data.get(OFFSET) or 0) - PAGE)
    _go_values(manager, None, {})


async def _show_offer(manager: DialogManager) -> None:
    """The offer's details; a message with the workplace photo replaces the one on screen (a text message
    cannot be edited into a photo)."""
    session, _person = _deps(manager)
    found = await get_offer(session, int(manager.dialog_data.get(OFFER) or 0))
    if found is not None and found[0].photo:
        manager.show_mode = ShowMode.DELETE_AND_SEND
    await _go(manager, BookingSG.offer)


async def on_offer(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, _person = _deps(manager)
    if not item_id.isdigit() or await get_offer(session, int(item_id)) is None:
        await query.answer(_(STALE))
        return
    manager.dialog_data[OFFER] = int(item_id)
    manager.dialog_data[MOVING] = None
    await _show_offer(manager)


async def _open_calendar(manager: DialogManager, notice: str | None = None) -> None:
    """The calendar of the offer in ``dialog_data``, opened at the month of its first free day."""
    session, _person = _deps(manager)
    days = await free_days(session, int(manager.dialog_data.get(OFFER) or 0), now=utcnow(), policy=_policy(manager))
    await _go(manager, BookingSG.calendar, notice)
    calendar = manager.find("calendar")
    if days and calendar is not None:
        calendar.set_offset(min(days))


async def on_book_a_day(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await _open_calendar(manager)


async def on_day(event: Any, _widget: Any, manager: DialogManager, day: date) -> None:
    session, _person = _deps(manager)
    slots = await free_slots(session, int(manager.dialog_data.get(OFFER) or 0), now=utcnow(),
                             policy=_policy(manager), day=day)
    if not slots:
        if isinstance(event, CallbackQuery):
            await event.answer(_(DAY_NOT_FREE))
        manager.show_mode = ShowMode.NO_UPDATE
        return
    manager.dialog_data[DAY] = day.isoformat()
    await _go(manager, BookingSG.times)


async def on_time(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, _person = _deps(manager)
    day = date.fromisoformat(manager.dialog_data[DAY])
    slots = await free_slots(session, int(manager.dialog_data.get(OFFER) or 0), now=utcnow(),
                             policy=_policy(manager), day=day)
    if not any(str(s.id) == item_id for s in slots):
        await _go(manager, BookingSG.times, FULL)  # taken since the times were shown: the list again
        return
    manager.dialog_data[SLOT] = int(item_id)
    await _go(manager, BookingSG.confirm)


async def on_back_from_calendar(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    if manager.dialog_data.get(MOVING):
        await _go(manager, BookingSG.appointment)
    else:
        await _show_offer(manager)


async def _send_ics(query: CallbackQuery, manager: DialogManager, view: BookingView) -> None:
    """The booked day as a calendar file, in the person's language, below the confirmation."""
    policy = _policy(manager)
    description = "\n".join(strip_isolates(line) for line in _details(view.offer, view.company))
    data = event_file(
        uid=f"booking-{view.booking.id}@proconnect",
        starts_at=view.slot.starts_at, ends_at=view.slot.ends_at,
        summary=_(ICS_SUMMARY).format(company=view.company.name), now=utcnow(),
        location=", ".join(p for p in (view.offer.address, view.offer.meeting_point) if p) or view.offer.town,
        description=description, url=map_link(view.offer.address) if view.offer.address else None,
    )
    day = _local_day(view.slot.starts_at, policy.timezone).isoformat()
    bot = manager.middleware_data["bot"]
    await bot.send_document(query.from_user.id, BufferedInputFile(data, filename=f"hospitation-{day}.ics"),
                            caption=_(ICS_CAPTION))


async def on_confirm(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    policy = _policy(manager)
    slot_id = int(manager.dialog_data.get(SLOT) or 0)
    moving = manager.dialog_data.get(MOVING)
    now = utcnow()
    if moving:
        outcome, booking = await reschedule(session, person, int(moving), slot_id, now=now, policy=policy)
    else:
        outcome, booking = await book(session, person, slot_id, now=now, policy=policy)
    if outcome is Outcome.BOOKED and booking is not None:
        view = await booking_view(session, booking.id or 0)
        assert view is not None
        manager.dialog_data[BOOKED] = booking.id
        await _go(manager, BookingSG.booked)
        await _send_ics(query, manager, view)
    elif outcome is Outcome.FULL:
        await _go(manager, BookingSG.times, FULL)
    elif outcome is Outcome.CLOSED:
        await _open_calendar(manager, CLOSED)
    elif outcome is Outcome.OVERLAP:
        await _open_calendar(manager, OVERLAP)
    elif outcome is Outcome.ALREADY:
        await _go(manager, BookingSG.mine, ALREADY)
    elif outcome is Outcome.TOO_LATE:
        await _go(manager, BookingSG.mine, TOO_LATE_TO_CHANGE)
    else:  # GONE: the slot or the booking being moved no longer exists
        await query.answer(_(STALE))
        await _go(manager, BookingSG.mine if moving else BookingSG.offers)


async def on_my_appointments(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    manager.dialog_data[MOVING] = None
    await _go(manager, BookingSG.mine)


async def on_booking(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    manager.dialog_data[BOOKING] = int(item_id) if item_id.isdigit() else 0
    if await _own_booking(manager) is None:
        await query.answer(_(STALE))
        await _go(manager, BookingSG.mine)
        return
    await _go(manager, BookingSG.appointment)


async def on_change_day(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    view = await _own_booking(manager)
    if view is None:
        await query.answer(_(STALE))
        await _go(manager, BookingSG.mine)
        return
    manager.dialog_data[MOVING] = view.booking.id
    manager.dialog_data[OFFER] = view.offer.id
    await _open_calendar(manager)


async def on_cancel(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    view = await _own_booking(manager)
    if view is None or view.booking.id is None:
        await query.answer(_(STALE))
        await _go(manager, BookingSG.mine)
        return
    outcome = await cancel(session, person, view.booking.id, now=utcnow(), policy=_policy(manager))
    if outcome is Outcome.CANCELLED:
        await _go(manager, BookingSG.mine, CANCELLED)
    elif outcome is Outcome.TOO_LATE:
        await _go(manager, BookingSG.mine, TOO_LATE_TO_CANCEL)
    else:
        await query.answer(_(STALE))
        await _go(manager, BookingSG.mine)


async def on_to_offers(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    manager.dialog_data[OFFSET] = 0
    await _go(manager, BookingSG.offers)


def back_to(state: State) -> Callable[[CallbackQuery, Button, DialogManager], Any]:
    async def handler(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
        await _go(manager, state)

    return handler


# --- entry points --------------------------------------------------------------------------------------


async def open_offers(
    message: Message, person: Person, session: AsyncSession, manager: DialogManager, navigator: Navigator
) -> None:
    """The offers that fit the person's latest check (or the way to the check, when there is none)."""
    await manager.start(BookingSG.offers, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def open_my_appointments(message: Message, person: Person, session: AsyncSession, manager: DialogManager) -> None:
    await manager.start(BookingSG.mine, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


# --- windows -------------------------------------------------------------------------------------------


def _shows(data: dict[str, Any]) -> object:
    return data["shows"]


dialog = Dialog(
    Screen(
        Format("{text}"),
        Column(Select(Format("{item[1]}"), id="offer", item_id_getter=lambda item: item[0], items="offers",
                      on_click=on_offer)),
        Row(
            Button(T(BACK), id="previous", on_click=on_previous, when="back"),
            Button(T(MORE), id="more", on_click=on_more, when="more"),
        ),
        Button(T(CHECK), id="check", on_click=on_check, when="no_check"),
        Button(T(ASK_CALL), id="call", on_click=on_call, when="none"),
        Button(T(MENU), id="menu", on_click=on_menu),
        state=BookingSG.offers,
        getter=get_offers,
        shows=_shows,
    ),
    Screen(
        DynamicMedia("photo", when="photo"),
        Format("{text}"),
        Button(T(BOOK_A_DAY), id="book_a_day", on_click=on_book_a_day, when="found"),
        Url(T(MAP), Format("{map}"), id="map", when="map"),
        Button(T(BACK), id="offer_back", on_click=back_to(BookingSG.offers)),
        state=BookingSG.offer,
        getter=get_offer_details,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        LocalCalendar("calendar", on_day, marked="free_days", hint=DAY_NOT_FREE, when="has_days"),
        Button(T(BACK), id="calendar_back", on_click=on_back_from_calendar),
        state=BookingSG.calendar,
        getter=get_calendar,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        Column(Select(Format("{item[1]}"), id="slot", item_id_getter=lambda item: item[0], items="slots",
                      on_click=on_time)),
        Button(T(BACK), id="times_back", on_click=back_to(BookingSG.calendar)),
        state=BookingSG.times,
        getter=get_times,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        Button(T(BOOK), id="book", on_click=on_confirm, when="new"),
        Button(T(CHANGE_TO), id="change_to", on_click=on_confirm, when="move"),
        Button(T(BACK), id="confirm_back", on_click=back_to(BookingSG.times)),
        state=BookingSG.confirm,
        getter=get_confirm,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        Url(T(MAP), Format("{map}"), id="booked_map", when="map"),
        Button(T(MY_APPOINTMENTS), id="to_mine", on_click=on_my_appointments),
        Button(T(MENU), id="booked_menu", on_click=on_menu),
        state=BookingSG.booked,
        getter=get_booked,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        Column(Select(Format("{item[1]}"), id="booking", item_id_getter=lambda item: item[0], items="bookings",
                      on_click=on_booking)),
        Button(T(SEE_OFFERS), id="to_offers", on_click=on_to_offers),
        Button(T(MENU), id="mine_menu", on_click=on_menu),
        state=BookingSG.mine,
        getter=get_mine,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        Url(T(MAP), Format("{map}"), id="appointment_map", when="map"),
        Row(
            Button(T(CHANGE_DAY), id="change_day", on_click=on_change_day, when="ok"),
            SwitchTo(T(CANCEL_DAY), id="to_cancel", state=BookingSG.cancel, when="ok"),
        ),
        Button(T(BACK), id="appointment_back", on_click=back_to(BookingSG.mine)),
        state=BookingSG.appointment,
        getter=get_appointment,
        shows=_shows,
    ),
    Screen(
        Format("{text}"),
        Row(
            Button(T(YES_CANCEL), id="cancel_yes", on_click=on_cancel, when="ok"),
            Button(T(NO), id="cancel_no", on_click=back_to(BookingSG.appointment)),
        ),
        state=BookingSG.cancel,
        getter=get_cancel,
        shows=_shows,
    ),
)
