"""The coordinators' (and company staff's) dialog for hospitation offers and their days.

Company → its offers (with coming days and places taken) → one offer: add days, delete a day nobody
booked, deactivate. A new company (coordinators) and a new offer are asked step by step; a new day is a
calendar date, a start and an end time, the places, and how many more weeks it repeats.

Authority is decided by ``service.py`` on every handler and every getter, from the database: a button
carries ids (which company, offer or day was pressed), never the right to act on them. The dialog keeps
only ids it has already checked (``dialog_data``), and checks them again whenever it acts. The dialog's
router lets only coordinators and company staff in at all.

Every window is a ``dialogs.widgets.Screen``: a press on an older render of a window is refused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.enums import ContentType
from aiogram.filters import Filter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import ChatEvent, Dialog, DialogManager, ShowMode, StartMode
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Column, Group, Row, ScrollingGroup, Select, SwitchTo
from aiogram_dialog.widgets.kbd.calendar_kbd import ManagedCalendar
from aiogram_dialog.widgets.text import Format
from babel.dates import format_date, format_skeleton
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.calendar import LocalCalendar
from dialogs.check.content import load_content
from dialogs.errors import InvalidAnswer
from dialogs.feature import navigator_of
from dialogs.offers import service
from dialogs.offers.service import Deletion, NotAllowed, OfferDraft
from dialogs.onboarding.service import REGION_LABELS
from dialogs.text import N_, isolate
from dialogs.widgets import Screen, T, tr
from storage.booking import HospitationSlot
from storage.companies import Company, HospitationOffer
from storage.models import Person, Role
from storage.types import utcnow

__all__ = ["OffersSG", "StaffOnly", "dialog", "open_offers_admin"]


DAY_PROMPT = N_("📅 Which day? If it repeats every week: the first day.")


class OffersSG(StatesGroup):
    companies = State()
    company_name = State()
    company_town = State()
    company_region = State()
    company = State()
    title = State()
    field = State()
    address = State()
    meeting_point = State()
    contact_name = State()
    what_to_bring = State()
    clothing = State()
    ways = State()
    shifts = State()
    heavy = State()
    licences = State()
    duration = State()
    offer = State()
    deactivate = State()
    day = State()
    start = State()
    end = State()
    capacity = State()
    repeat = State()
    delete = State()


NOT_FOR_YOU = N_("🚫 This is not available for you.")
NOT_A_MEMBER = N_("🏭 You are not yet a member of a company here. Please ask the programme team to add you.")
BACK = N_("⬅️ Back")
SKIP = N_("⏭️ Skip")
DONE = N_("✔️ Done")
YES, NO = N_("✅ Yes"), N_("❌ No")
SAVED = N_("✅ Saved.")
HOURS = N_("{hours} h")
TRANSPORT_QUESTION, LICENCE_QUESTION = "work.transport", "work.licence"
START_TIMES = ("07:00", "08:00", "09:00", "10:00", "13:00", "14:00")
DAY_LENGTHS = (3, 4, 5, 6, 8)  # end-time buttons: this many hours after the start

# dialog_data keys: ids already checked against the person, and the answers collected so far
COMPANY, OFFER, DRAFT, NEW_COMPANY, PICKED, SLOT = "company", "offer", "draft", "new_company", "picked", "slot"

OFFER_STEPS = (
    OffersSG.title, OffersSG.field, OffersSG.address, OffersSG.meeting_point, OffersSG.contact_name,
    OffersSG.what_to_bring, OffersSG.clothing, OffersSG.ways, OffersSG.shifts, OffersSG.heavy, OffersSG.licences,
    OffersSG.duration,
)
SLOT_STEPS = (OffersSG.day, OffersSG.start, OffersSG.end, OffersSG.capacity, OffersSG.repeat)
COMPANY_STEPS = (OffersSG.company_name, OffersSG.company_town, OffersSG.company_region)


class StaffOnly(Filter):
    """Coordinators and company staff; anyone else's update passes this feature by."""

    async def __call__(self, event: TelegramObject, person: Person | None = None) -> bool:
        return person is not None and service.is_staff(person)


def _deps(manager: DialogManager) -> tuple[AsyncSession, Person]:
    return manager.middleware_data["session"], manager.middleware_data["person"]


def _timezone(manager: DialogManager) -> str:
    settings = manager.middleware_data.get("settings")
    return settings.timezone if settings is not None else "Europe/Berlin"


def _locale() -> str:
    return get_i18n().current_locale


def _fields() -> dict[str, str]:
    """The check's fields: id → "emoji name" in the reader's language."""
    return {f.id: f"{f.emoji} {_(f.name)}" for f in load_content().fields}


def _answers(question_id: str, ids: tuple[str, ...]) -> dict[str, str]:
    """The check's answers to one of its questions (the same words the participant chose from), by id."""
    question = load_content().question(question_id)
    options = {o.id: f"{o.emoji} {_(o.text)}" if o.emoji else _(o.text) for o in question.options} if question else {}
    return {key: options.get(key, key) for key in ids}


def way_labels() -> dict[str, str]:
    """How a site can be reached, as the check asks "How can you get to work?"."""
    return _answers(TRANSPORT_QUESTION, service.WAYS)


def licence_labels() -> dict[str, str]:
    return _answers(LICENCE_QUESTION, service.LICENCES)


async def _refuse(event: Any, manager: DialogManager, msgid: str = NOT_FOR_YOU) -> None:
    """A press or answer the person may not make: say so, change nothing, redraw nothing."""
    if isinstance(event, CallbackQuery):
        await event.answer(_(msgid), show_alert=True)
    elif isinstance(event, Message):
        await event.answer(_(msgid))
    manager.show_mode = ShowMode.NO_UPDATE


async def _invalid(event: Any, manager: DialogManager, error: InvalidAnswer) -> None:
    """An answer to give again: the reason, and the same step below it."""
    if isinstance(event, CallbackQuery):
        await event.answer(tr(error.msgid, **error.values), show_alert=True)
        manager.show_mode = ShowMode.NO_UPDATE
    elif isinstance(event, Message):
        await event.answer(tr(error.msgid, **error.values))
        manager.show_mode = ShowMode.SEND


def _next_in(steps: tuple[State, ...], manager: DialogManager) -> State | None:
    current = manager.current_context().state
    index = steps.index(current) if current in steps else -1
    return steps[index + 1] if index + 1 < len(steps) else None


def _previous_in(steps: tuple[State, ...], manager: DialogManager, first: State) -> State:
    current = manager.current_context().state
    index = steps.index(current) if current in steps else 0
    return steps[index - 1] if index > 0 else first


def _local(moment: datetime, manager: DialogManager) -> datetime:
    return moment.astimezone(ZoneInfo(_timezone(manager)))


def slot_line(slot: HospitationSlot, manager: DialogManager) -> str:
    """"Mo., 7. Dez. 08:00–12:00 · 1/3": the day in the reader's language, places taken of places."""
    start, end = _local(slot.starts_at, manager), _local(slot.ends_at, manager)
    day = format_skeleton("MMMEd", start, locale=_locale())
    return f"{day} {start:%H:%M}–{end:%H:%M} · {slot.booked}/{slot.capacity}"


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


# --- entry -------------------------------------------------------------------------------------------


async def open_offers_admin(message: Message, person: Person, session: AsyncSession, manager: DialogManager) -> None:
    """The company list; company staff who belong to no company yet are told whom to ask."""
    if not service.is_staff(person):
        await message.answer(_(NOT_FOR_YOU))
        return
    if not person.has_role(Role.COORDINATOR) and not await service.companies_for(session, person):
        await message.answer(_(NOT_A_MEMBER))
        return
    await manager.start(OffersSG.companies, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


# --- checked lookups -----------------------------------------------------------------------------------


async def _company(manager: DialogManager) -> Company | None:
    session, person = _deps(manager)
    company_id = _int(manager.dialog_data.get(COMPANY))
    return await service.get_company(session, person, company_id) if company_id is not None else None


async def _offer(manager: DialogManager) -> tuple[HospitationOffer, Company] | None:
    session, person = _deps(manager)
    offer_id = _int(manager.dialog_data.get(OFFER))
    return await service.get_offer(session, person, offer_id) if offer_id is not None else None


# --- getters (read only) -------------------------------------------------------------------------------


async def get_companies(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    companies = await service.companies_for(session, person)
    return {
        "companies": [(str(c.id), f"🏭 {_short(c.name)} · {_short(c.town, 20)}") for c in companies],
        "none": not companies,
        "coordinator": person.has_role(Role.COORDINATOR),
        "shows": ",".join(str(c.id) for c in companies),
    }


async def get_company(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    company = await _company(dialog_manager)
    if company is None or company.id is None:
        return {"allowed": False, "denied": True, "heading": "", "offers": [], "has_offers": False,
                "none": False, "shows": "-"}  # fmt: skip
    summaries = await service.offers_of(session, person, company.id, now=utcnow())
    offers = [
        (str(s.offer.id), f"{'' if s.offer.active else '⏸️ '}{_short(s.offer.title)} · 📅 {s.days} · 👥 {s.booked}")
        for s in summaries
    ]
    return {
        "allowed": True, "denied": False, "heading": f"🏭 {isolate(company.name)} · {isolate(company.town)}",
        "offers": offers, "has_offers": bool(offers), "none": not offers, "shows": company.id,
    }  # fmt: skip


async def get_fields(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"fields": list(_fields().items())}


async def get_regions(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"regions": [(region.value, _(label)) for region, label in REGION_LABELS.items()]}


def _ticks(manager: DialogManager, labels: dict[str, str]) -> list[tuple[str, str]]:
    picked = manager.dialog_data.get(PICKED) or []
    return [(key, f"{'☑️' if key in picked else '⬜'} {label}") for key, label in labels.items()]


async def get_ways(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"options": _ticks(dialog_manager, way_labels())}


async def get_licences(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"options": _ticks(dialog_manager, licence_labels())}


async def get_durations(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"hours": [(str(h), _(HOURS).format(hours=h)) for h in (3, 4, 5, 6, 8)]}  # digits need no isolation


def offer_lines(offer: HospitationOffer, company: Company) -> list[str]:
    """What the offer tells a person who comes, as the staff entered it (values isolated)."""
    field = _fields().get(offer.field, offer.field)
    lines = [f"{field} · {isolate(offer.title)}", f"🏭 {isolate(company.name)}"]
    for emoji, value in (("📍", offer.address), ("🚪", offer.meeting_point), ("👤", offer.contact_name),
                         ("🎒", offer.what_to_bring), ("🦺", offer.clothing)):  # fmt: skip
        if value:
            lines.append(f"{emoji} {isolate(value)}")
    if offer.reachable_by:
        ways = way_labels()
        lines.append(", ".join(ways.get(w, w) for w in offer.reachable_by))
    if offer.licences:
        licences = licence_labels()
        lines.append("🪪 " + ", ".join(licences.get(x, x) for x in offer.licences))
    if offer.duration_hours:
        lines.append("⏱️ " + tr(HOURS, hours=f"{offer.duration_hours:g}"))
    if offer.shifts:
        lines.append(_(N_("🕐 Early, late or night shifts")))
    if offer.heavy_work:
        lines.append(_(N_("🏋️ Physically heavy work")))
    return lines


async def get_offer(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    found = await _offer(dialog_manager)
    if found is None:
        return {"allowed": False, "denied": True, "text": "", "active": False, "has_slots": False, "shows": "-"}
    offer, company = found
    slots = await service.slots_of(session, person, offer.id or 0, now=utcnow())
    lines = offer_lines(offer, company)
    if not offer.active:
        lines += ["", _(N_("⏸️ This offer is deactivated: participants do not see it."))]
    lines.append("")
    if slots:
        lines.append(_(N_("📅 Coming days (places booked / places):")))
        lines += [slot_line(slot, dialog_manager) for slot in slots]
    else:
        lines.append(_(N_("📅 No days yet. Add the days on which people can come.")))
    return {
        "allowed": True, "denied": False, "text": "\n".join(lines), "active": offer.active,
        "has_slots": bool(slots), "title": offer.title, "shows": offer.id,
    }  # fmt: skip


async def get_slots(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person = _deps(dialog_manager)
    found = await _offer(dialog_manager)
    if found is None:
        return {"slots": [], "shows": "-"}
    slots = await service.slots_of(session, person, found[0].id or 0, now=utcnow())
    return {
        "slots": [(str(s.id), ("🔒 " if s.booked else "🗑️ ") + slot_line(s, dialog_manager)) for s in slots],
        "shows": ",".join(str(s.id) for s in slots),
    }


def _slot_draft(manager: DialogManager) -> dict[str, Any]:
    draft: dict[str, Any] = manager.dialog_data.setdefault(SLOT, {})
    return draft


async def get_start_times(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    day = _slot_draft(dialog_manager).get("day")
    heading = format_date(date.fromisoformat(day), "full", locale=_locale()) if day else ""
    return {"day": heading, "times": [(t, t) for t in START_TIMES]}


async def get_end_times(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    draft = _slot_draft(dialog_manager)
    start = service.parse_time(draft.get("start", "08:00"))
    base = datetime.combine(date.min, start)
    ends = [(base + timedelta(hours=h)).time() for h in DAY_LENGTHS]
    times = [f"{t:%H:%M}" for t in ends if t > start]
    return {"start": f"{start:%H:%M}", "times": [(t, t) for t in times]}


async def get_capacities(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"numbers": [(str(n), str(n)) for n in range(1, 6)]}


async def get_weeks(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"weeks": [(str(n), f"+{n}") for n in range(1, service.MAX_WEEKS + 1)]}


# --- handlers: companies -------------------------------------------------------------------------------


async def on_company(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, person = _deps(manager)
    company_id = _int(item_id)
    if company_id is None or await service.get_company(session, person, company_id) is None:
        await _refuse(query, manager)
        return
    manager.dialog_data[COMPANY] = company_id
    manager.dialog_data.pop(OFFER, None)
    await manager.switch_to(OffersSG.company)


async def on_new_company(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    _session, person = _deps(manager)
    if not person.has_role(Role.COORDINATOR):
        await _refuse(query, manager)
        return
    manager.dialog_data[NEW_COMPANY] = {}
    await manager.switch_to(OffersSG.company_name)


async def on_company_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    session, person = _deps(manager)
    if not person.has_role(Role.COORDINATOR):
        await _refuse(message, manager)
        return
    state = manager.current_context().state
    new: dict[str, str] = manager.dialog_data.setdefault(NEW_COMPANY, {})
    try:
        if state == OffersSG.company_name:
            name = service.clean_text(message.text, service.LIMITS["company"])
            assert name is not None
            if await service.name_taken(session, name):
                raise InvalidAnswer(service.NAME_TAKEN)
            new["name"] = name
            await manager.switch_to(OffersSG.company_town)
        else:
            town = service.clean_text(message.text, service.LIMITS["town"])
            assert town is not None
            new["town"] = town
            await manager.switch_to(OffersSG.company_region)
    except InvalidAnswer as error:
        await _invalid(message, manager, error)


async def on_region(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, person = _deps(manager)
    new = manager.dialog_data.get(NEW_COMPANY) or {}
    if "name" not in new or "town" not in new:
        await manager.switch_to(OffersSG.company_name)
        return
    try:
        company = await service.create_company(session, person, name=new["name"], town=new["town"], region=item_id)
    except NotAllowed:
        await _refuse(query, manager)
        return
    except InvalidAnswer as error:
        await _invalid(query, manager, error)
        await manager.switch_to(OffersSG.company_name)
        return
    except ValueError:  # a region no button offers
        await _refuse(query, manager)
        return
    await query.answer(_(SAVED))
    manager.dialog_data.pop(NEW_COMPANY, None)
    manager.dialog_data[COMPANY] = company.id
    await manager.switch_to(OffersSG.company)


async def on_company_back(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.switch_to(_previous_in(COMPANY_STEPS, manager, OffersSG.companies))


# --- handlers: a new offer -----------------------------------------------------------------------------


async def on_offer(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, person = _deps(manager)
    offer_id = _int(item_id)
    found = await service.get_offer(session, person, offer_id) if offer_id is not None else None
    if found is None:
        await _refuse(query, manager)
        return
    manager.dialog_data[OFFER] = offer_id
    manager.dialog_data[COMPANY] = found[1].id
    await manager.switch_to(OffersSG.offer)


async def on_new_offer(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    if await _company(manager) is None:
        await _refuse(query, manager)
        return
    manager.dialog_data[DRAFT] = {}
    manager.dialog_data.pop(PICKED, None)
    await manager.switch_to(OffersSG.title)


def _draft(manager: DialogManager) -> dict[str, Any]:
    draft: dict[str, Any] = manager.dialog_data.setdefault(DRAFT, {})
    return draft


async def _offer_step_done(event: CallbackQuery | Message, manager: DialogManager) -> None:
    """On to the next question, or, after the last one, save the offer and show it."""
    following = _next_in(OFFER_STEPS, manager)
    if following is not None:
        if following in (OffersSG.ways, OffersSG.licences):
            key = "reachable_by" if following == OffersSG.ways else "licences"
            manager.dialog_data[PICKED] = list(_draft(manager).get(key) or [])
        await manager.switch_to(following)
        return
    company = await _company(manager)
    if company is None or company.id is None:
        await _refuse(event, manager)
        return
    session, person = _deps(manager)
    data = _draft(manager)
    draft = OfferDraft(
        title=data.get("title") or "", field=data.get("field") or "", address=data.get("address") or "",
        meeting_point=data.get("meeting_point"), contact_name=data.get("contact_name"),
        what_to_bring=data.get("what_to_bring"), clothing=data.get("clothing"),
        reachable_by=tuple(data.get("reachable_by") or ()), shifts=bool(data.get("shifts")),
        heavy_work=bool(data.get("heavy_work")), licences=tuple(data.get("licences") or ()),
        duration_hours=data.get("duration_hours"),
    )
    try:
        offer = await service.create_offer(session, person, company.id, draft, fields=_fields())
    except NotAllowed:
        await _refuse(event, manager)
        return
    except (InvalidAnswer, ValueError):  # an answer lost or changed on the way: ask again from the top
        await manager.switch_to(OffersSG.title)
        return
    if isinstance(event, CallbackQuery):
        await event.answer(_(SAVED))
    else:
        await event.answer(_(SAVED))
        manager.show_mode = ShowMode.SEND
    manager.dialog_data.pop(DRAFT, None)
    manager.dialog_data.pop(PICKED, None)
    manager.dialog_data[OFFER] = offer.id
    await manager.switch_to(OffersSG.offer)


TEXT_STEPS: dict[State, tuple[str, bool]] = {  # state → (draft key, required)
    OffersSG.title: ("title", True),
    OffersSG.address: ("address", True),
    OffersSG.meeting_point: ("meeting_point", False),
    OffersSG.contact_name: ("contact_name", False),
    OffersSG.what_to_bring: ("what_to_bring", False),
    OffersSG.clothing: ("clothing", False),
}


async def on_offer_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    if await _company(manager) is None:
        await _refuse(message, manager)
        return
    state = manager.current_context().state
    if state == OffersSG.duration:
        try:
            _draft(manager)["duration_hours"] = service.parse_hours(message.text)
        except InvalidAnswer as error:
            await _invalid(message, manager, error)
            return
        await _offer_step_done(message, manager)
        return
    key, required = TEXT_STEPS[state]
    try:
        _draft(manager)[key] = service.clean_text(message.text, service.LIMITS[key], required=required)
    except InvalidAnswer as error:
        await _invalid(message, manager, error)
        return
    await _offer_step_done(message, manager)


async def on_offer_skip(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    state = manager.current_context().state
    if state in TEXT_STEPS:
        key, required = TEXT_STEPS[state]
        if required:
            await query.answer()
            return
        _draft(manager)[key] = None
    elif state == OffersSG.duration:
        _draft(manager)["duration_hours"] = None
    await _offer_step_done(query, manager)


async def on_field(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    if item_id not in _fields():
        await _refuse(query, manager)
        return
    _draft(manager)["field"] = item_id
    await _offer_step_done(query, manager)


async def on_tick(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    allowed = service.WAYS if manager.current_context().state == OffersSG.ways else service.LICENCES
    if item_id not in allowed:
        await _refuse(query, manager)
        return
    picked: list[str] = list(manager.dialog_data.get(PICKED) or [])
    manager.dialog_data[PICKED] = [p for p in picked if p != item_id] if item_id in picked else [*picked, item_id]


async def on_ticks_done(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    key = "reachable_by" if manager.current_context().state == OffersSG.ways else "licences"
    _draft(manager)[key] = list(manager.dialog_data.pop(PICKED, None) or [])
    await _offer_step_done(query, manager)


def _yes_no(value: bool) -> Any:
    async def handler(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
        key = "shifts" if manager.current_context().state == OffersSG.shifts else "heavy_work"
        _draft(manager)[key] = value
        await _offer_step_done(query, manager)

    return handler


async def on_duration(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    try:
        _draft(manager)["duration_hours"] = service.parse_hours(item_id)
    except InvalidAnswer as error:
        await _invalid(query, manager, error)
        return
    await _offer_step_done(query, manager)


async def on_offer_back(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    previous = _previous_in(OFFER_STEPS, manager, OffersSG.company)
    if previous in (OffersSG.ways, OffersSG.licences):
        key = "reachable_by" if previous == OffersSG.ways else "licences"
        manager.dialog_data[PICKED] = list(_draft(manager).get(key) or [])
    await manager.switch_to(previous)


# --- handlers: an offer and its days -------------------------------------------------------------------


async def on_deactivate(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    try:
        await service.deactivate_offer(session, person, _int(manager.dialog_data.get(OFFER)) or 0)
    except NotAllowed:
        await _refuse(query, manager)
        return
    await query.answer(_(N_("⏸️ Offer deactivated.")))
    await manager.switch_to(OffersSG.offer)


async def on_add_days(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    if await _offer(manager) is None:
        await _refuse(query, manager)
        return
    manager.dialog_data[SLOT] = {}
    await manager.switch_to(OffersSG.day)


async def on_day(query: ChatEvent, _widget: ManagedCalendar, manager: DialogManager, selected: date, /) -> None:
    if await _offer(manager) is None:
        await _refuse(query, manager)
        return
    if selected < datetime.now(ZoneInfo(_timezone(manager))).date():
        await _invalid(query, manager, InvalidAnswer(service.IN_THE_PAST))
        return
    _slot_draft(manager)["day"] = selected.isoformat()
    await manager.switch_to(OffersSG.start)


async def _set_time(event: CallbackQuery | Message, manager: DialogManager, text: str | None) -> None:
    draft = _slot_draft(manager)
    state = manager.current_context().state
    try:
        at = service.parse_time(text)
        if state == OffersSG.end and at <= service.parse_time(draft.get("start")):
            raise InvalidAnswer(service.END_BEFORE_START)
    except InvalidAnswer as error:
        await _invalid(event, manager, error)
        return
    draft["start" if state == OffersSG.start else "end"] = f"{at:%H:%M}"
    await manager.switch_to(OffersSG.end if state == OffersSG.start else OffersSG.capacity)


async def on_time(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    await _set_time(query, manager, item_id)


async def on_time_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await _set_time(message, manager, message.text)


async def _set_capacity(event: CallbackQuery | Message, manager: DialogManager, text: str | None) -> None:
    try:
        _slot_draft(manager)["capacity"] = service.parse_count(text, service.MAX_CAPACITY)
    except InvalidAnswer as error:
        await _invalid(event, manager, error)
        return
    await manager.switch_to(OffersSG.repeat)


async def on_capacity(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    await _set_capacity(query, manager, item_id)


async def on_capacity_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await _set_capacity(message, manager, message.text)


async def _add_days(query: CallbackQuery, manager: DialogManager, weeks: int) -> None:
    session, person = _deps(manager)
    draft = _slot_draft(manager)
    if not {"day", "start", "end", "capacity"} <= set(draft):
        await manager.switch_to(OffersSG.day)
        return
    try:
        added = await service.add_slots(
            session, person, _int(manager.dialog_data.get(OFFER)) or 0,
            day=date.fromisoformat(draft["day"]), start=service.parse_time(draft["start"]),
            end=service.parse_time(draft["end"]), capacity=int(draft["capacity"]), weeks=weeks, now=utcnow(),
            timezone=_timezone(manager),
        )
    except NotAllowed:
        await _refuse(query, manager)
        return
    except InvalidAnswer as error:
        await query.answer(tr(error.msgid, **error.values), show_alert=True)
        await manager.switch_to(OffersSG.day)
        return
    await query.answer(tr(N_("✅ Days added: {count}."), count=len(added)))
    manager.dialog_data.pop(SLOT, None)
    await manager.switch_to(OffersSG.offer)


async def on_weeks(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    weeks = _int(item_id)
    if weeks is None or not 0 <= weeks <= service.MAX_WEEKS:
        await _refuse(query, manager)
        return
    await _add_days(query, manager, weeks)


async def on_only_this_day(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await _add_days(query, manager, 0)


async def on_slot_back(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.switch_to(_previous_in(SLOT_STEPS, manager, OffersSG.offer))


async def on_delete_slot(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, person = _deps(manager)
    slot_id = _int(item_id)
    try:
        outcome, _offer_id = await service.delete_slot(session, person, slot_id or 0)
    except NotAllowed:
        await _refuse(query, manager)
        return
    if outcome is Deletion.BOOKED:
        await query.answer(
            _(N_("🔒 Someone has booked this day, so it cannot be deleted. Please talk to the programme team.")),
            show_alert=True,
        )
        return
    if outcome is Deletion.GONE:
        await query.answer(_(STALE), show_alert=True)
        return
    await query.answer(_(N_("🗑️ Day deleted.")))
    await manager.switch_to(OffersSG.offer)


# --- handlers: leaving, wrong input ---------------------------------------------------------------------


async def on_menu(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.done()
    if isinstance(query.message, Message):
        await navigator_of(manager.middleware_data).send_menu(query.message, manager.middleware_data["person"])


async def use_buttons(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await message.answer(_(USE_BUTTONS))
    manager.show_mode = ShowMode.SEND


async def type_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await message.answer(_(service.TYPE_TEXT))
    manager.show_mode = ShowMode.SEND


# --- windows -------------------------------------------------------------------------------------------

USE_BUTTONS = N_("👇 Please answer with the buttons.")
STALE = N_("This button is no longer valid. Please use the newest message.")
ANY_MESSAGE = MessageInput(use_buttons)
NOT_TEXT = MessageInput(type_text)


def _options(widget_id: str, items: str, on_click: Any, width: int = 1, height: int = 8) -> ScrollingGroup:
    return ScrollingGroup(
        Select(Format("{item[1]}"), id=widget_id, item_id_getter=lambda item: item[0], items=items,
               on_click=on_click),
        id=f"{widget_id}_pages", width=width, height=height, hide_on_single_page=True,
    )


def _company_step(state: State, prompt: str) -> Screen:
    return Screen(
        T(prompt),
        Button(T(BACK), id="co_back", on_click=on_company_back),
        MessageInput(on_company_text, content_types=[ContentType.TEXT]),
        NOT_TEXT,
        state=state,
    )


def _text_step(state: State, prompt: str, *, optional: bool) -> Screen:
    return Screen(
        T(prompt),
        Row(
            Button(T(BACK), id="of_back", on_click=on_offer_back),
            Button(T(SKIP), id="of_skip", on_click=on_offer_skip, when=lambda *_: optional),
        ),
        MessageInput(on_offer_text, content_types=[ContentType.TEXT]),
        NOT_TEXT,
        state=state,
    )


def _ticks_step(state: State, prompt: str, getter: Any) -> Screen:
    return Screen(
        T(prompt),
        Column(Select(Format("{item[1]}"), id="tick", item_id_getter=lambda item: item[0], items="options",
                      on_click=on_tick)),
        Row(Button(T(BACK), id="of_back", on_click=on_offer_back), Button(T(DONE), id="ticks_done", on_click=on_ticks_done)),
        ANY_MESSAGE,
        state=state,
        getter=getter,
    )


def _yes_no_step(state: State, prompt: str) -> Screen:
    return Screen(
        T(prompt),
        Row(Button(T(YES), id="yes", on_click=_yes_no(True)), Button(T(NO), id="no", on_click=_yes_no(False))),
        Button(T(BACK), id="of_back", on_click=on_offer_back),
        ANY_MESSAGE,
        state=state,
    )


dialog = Dialog(
    Screen(
        T(N_("🏭 Offers and days: choose a company.")),
        T(N_("No company yet. Add the first one."), when="none"),
        _options("co", "companies", on_company),
        Button(T(N_("➕ New company")), id="new_co", on_click=on_new_company, when="coordinator"),
        Button(T(N_("🏠 Menu")), id="menu", on_click=on_menu),
        ANY_MESSAGE,
        state=OffersSG.companies,
        getter=get_companies,
        shows=lambda data: data["shows"],
    ),
    _company_step(OffersSG.company_name, N_("🏭 New company: what is its name?")),
    _company_step(OffersSG.company_town, N_("📍 In which town is it?")),
    Screen(
        T(N_("🗺️ In which region?")),
        Column(Select(Format("{item[1]}"), id="region", item_id_getter=lambda item: item[0], items="regions",
                      on_click=on_region)),
        Button(T(BACK), id="co_back", on_click=on_company_back),
        ANY_MESSAGE,
        state=OffersSG.company_region,
        getter=get_regions,
    ),
    Screen(
        Format("{heading}", when="allowed"),
        T(NOT_FOR_YOU, when="denied"),
        T(N_("Offers (📅 coming days · 👥 places booked). Press one to see its days."), when="has_offers"),
        T(N_("No offers yet."), when="none"),
        _options("of", "offers", on_offer),
        Button(T(N_("➕ New offer")), id="new_of", on_click=on_new_offer, when="allowed"),
        SwitchTo(T(BACK), id="to_companies", state=OffersSG.companies),
        ANY_MESSAGE,
        state=OffersSG.company,
        getter=get_company,
        shows=lambda data: data["shows"],
    ),
    _text_step(OffersSG.title, N_("✏️ New offer: what is it called? For example “Tischlerei: Möbel bauen”."),
               optional=False),
    Screen(
        T(N_("🧰 Which field is it?")),
        Column(Select(Format("{item[1]}"), id="field", item_id_getter=lambda item: item[0], items="fields",
                      on_click=on_field)),
        Button(T(BACK), id="of_back", on_click=on_offer_back),
        ANY_MESSAGE,
        state=OffersSG.field,
        getter=get_fields,
    ),
    _text_step(OffersSG.address, N_("📍 The address: street and number, postcode and town."), optional=False),
    _text_step(OffersSG.meeting_point, N_("🚪 Where should people go when they arrive? For example “reception, hall 2”."),
               optional=True),
    _text_step(OffersSG.contact_name, N_("👤 Who welcomes them? A first name is enough."), optional=True),
    _text_step(OffersSG.what_to_bring, N_("🎒 What should people bring? For example ID card, lunch."), optional=True),
    _text_step(OffersSG.clothing, N_("🦺 Work clothes or safety shoes: what is needed, or do you provide them?"),
               optional=True),
    _ticks_step(OffersSG.ways, N_("🚌 How can people get there? Choose all that apply, then press “Done”."), get_ways),
    _yes_no_step(OffersSG.shifts, N_("🕐 Does the work have early, late or night shifts?")),
    _yes_no_step(OffersSG.heavy, N_("🏋️ Is the work physically heavy?")),
    _ticks_step(OffersSG.licences,
                N_("🪪 Which licences or permits does the work need? Choose all that apply, then press “Done”."),
                get_licences),
    Screen(
        T(N_("⏱️ How many hours does the day last? Press a number or type it.")),
        Group(Select(Format("{item[1]}"), id="hours", item_id_getter=lambda item: item[0], items="hours",
                     on_click=on_duration), width=5),
        Row(Button(T(BACK), id="of_back", on_click=on_offer_back),
            Button(T(SKIP), id="of_skip", on_click=on_offer_skip)),
        MessageInput(on_offer_text, content_types=[ContentType.TEXT]),
        NOT_TEXT,
        state=OffersSG.duration,
        getter=get_durations,
    ),
    Screen(
        Format("{text}", when="allowed"),
        T(NOT_FOR_YOU, when="denied"),
        Button(T(N_("➕ Add days")), id="add_days", on_click=on_add_days, when="active"),
        SwitchTo(T(N_("🗑️ Delete a day")), id="to_delete", state=OffersSG.delete, when="has_slots"),
        SwitchTo(T(N_("⏸️ Deactivate the offer")), id="to_deactivate", state=OffersSG.deactivate, when="active"),
        SwitchTo(T(BACK), id="to_company", state=OffersSG.company),
        ANY_MESSAGE,
        state=OffersSG.offer,
        getter=get_offer,
        shows=lambda data: data["shows"],
    ),
    Screen(
        T(N_("⏸️ Deactivate “{title}”? Participants will no longer see it. Days already booked stay booked."),
          when="allowed"),
        T(NOT_FOR_YOU, when="denied"),
        Row(Button(T(YES), id="deactivate", on_click=on_deactivate, when="allowed"),
            SwitchTo(T(NO), id="keep", state=OffersSG.offer)),
        ANY_MESSAGE,
        state=OffersSG.deactivate,
        getter=get_offer,
        shows=lambda data: data["shows"],
    ),
    Screen(
        T(DAY_PROMPT),
        LocalCalendar("cal", on_day, hint=DAY_PROMPT),
        Button(T(BACK), id="slot_back", on_click=on_slot_back),
        ANY_MESSAGE,
        state=OffersSG.day,
    ),
    Screen(
        Format("📅 {day}"),
        T(N_("🕗 When does it start? Press a time or type it, for example 08:30.")),
        Group(Select(Format("{item[1]}"), id="start", item_id_getter=lambda item: item[0], items="times",
                     on_click=on_time), width=3),
        Button(T(BACK), id="slot_back", on_click=on_slot_back),
        MessageInput(on_time_text, content_types=[ContentType.TEXT]),
        NOT_TEXT,
        state=OffersSG.start,
        getter=get_start_times,
    ),
    Screen(
        T(N_("🕛 When does it end? Press a time or type it, for example 12:30.")),
        Group(Select(Format("{item[1]}"), id="end", item_id_getter=lambda item: item[0], items="times",
                     on_click=on_time), width=3),
        Button(T(BACK), id="slot_back", on_click=on_slot_back),
        MessageInput(on_time_text, content_types=[ContentType.TEXT]),
        NOT_TEXT,
        state=OffersSG.end,
        getter=get_end_times,
    ),
    Screen(
        T(N_("👥 How many people can come at the same time? Press a number or type it.")),
        Group(Select(Format("{item[1]}"), id="cap", item_id_getter=lambda item: item[0], items="numbers",
                     on_click=on_capacity), width=5),
        Button(T(BACK), id="slot_back", on_click=on_slot_back),
        MessageInput(on_capacity_text, content_types=[ContentType.TEXT]),
        NOT_TEXT,
        state=OffersSG.capacity,
        getter=get_capacities,
    ),
    Screen(
        T(N_("🔁 Repeat it every week? Choose how many more weeks, on the same weekday at the same time.")),
        Button(T(N_("Only this day")), id="once", on_click=on_only_this_day),
        Group(Select(Format("{item[1]}"), id="weeks", item_id_getter=lambda item: item[0], items="weeks",
                     on_click=on_weeks), width=4),
        Button(T(BACK), id="slot_back", on_click=on_slot_back),
        ANY_MESSAGE,
        state=OffersSG.repeat,
        getter=get_weeks,
    ),
    Screen(
        T(N_("🗑️ Which day should be deleted? A day someone has booked (🔒) cannot be deleted.")),
        _options("slot", "slots", on_delete_slot),
        SwitchTo(T(BACK), id="to_offer", state=OffersSG.offer),
        ANY_MESSAGE,
        state=OffersSG.delete,
        getter=get_slots,
        shows=lambda data: data["shows"],
    ),
)
dialog.message.filter(StaffOnly())
dialog.callback_query.filter(StaffOnly())
