"""Hospitation offers and their days, kept by coordinators and by a company's own staff. No Telegram here.

Who may do what is decided here, for every call, from the database: a coordinator manages every company;
a person with the company role manages the companies they are a member of (``CompanyMember``) and no
other, whatever id a button or a request names. Only coordinators create companies. A refused call raises
:class:`NotAllowed` (or returns None for a lookup) and changes nothing.

The company role mirrors membership: :func:`add_member` gives it with a person's first membership and
:func:`remove_member` takes it with their last, so "has the company role" means "acts for some company".

Days ("slots") are entered in local time (the programme's time zone) and stored in UTC. A day can be
deleted only while nobody holds a place in it; the delete is one conditional statement (``booked = 0``),
so a booking that comes in at the same moment either lands first (the delete is refused) or finds the day
gone, on SQLite and on PostgreSQL alike.

Flush, never commit: the caller's unit of work commits.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.errors import InvalidAnswer
from dialogs.text import N_
from storage.booking import Booking, BookingStatus, CompanyMember, HospitationSlot
from storage.companies import Company, HospitationOffer
from storage.models import Person, Region, Role
from storage.types import utcnow

#: How a site can be reached: the answers of the check's question "How can you get to work?".
WAYS = ("public", "bicycle", "car", "none")
#: Licences and permits: the answers of the check's licence question (without "none").
LICENCES = ("B", "C", "CE", "T", "forklift")
MAX_CAPACITY = 20
MAX_WEEKS = 8
MAX_HOURS = 12.0
#: Longest texts, as the columns allow.
LIMITS = {
    "company": 200, "town": 100, "title": 200, "address": 300, "meeting_point": 300, "contact_name": 120,
    "what_to_bring": 500, "clothing": 300,
}

TYPE_TEXT = N_("✍️ Please type it as text.")
TOO_LONG = N_("This is too long. Please write at most {max} characters.")
NAME_TAKEN = N_("A company with this name already exists.")
BAD_TIME = N_("Please type a time like 08:30.")
END_BEFORE_START = N_("The end must be after the start.")
BAD_NUMBER = N_("Please type a number from 1 to {max}.")
IN_THE_PAST = N_("This time is already past. Please choose a later day or time.")


class NotAllowed(Exception):
    """The person may not act on this company, offer or day (or it does not exist for them)."""


class Deletion(StrEnum):
    DELETED = "deleted"
    BOOKED = "booked"  # someone holds (or held) a place: the day stays
    GONE = "gone"  # no such day (an old button)


@dataclass(frozen=True)
class OfferDraft:
    """An offer as the dialog collects it; :func:`create_offer` checks every field."""

    title: str
    field: str
    address: str
    meeting_point: str | None = None
    contact_name: str | None = None
    what_to_bring: str | None = None
    clothing: str | None = None
    reachable_by: tuple[str, ...] = ()
    transit_minutes: int | None = None
    shifts: bool = False
    heavy_work: bool = False
    licences: tuple[str, ...] = ()
    duration_hours: float | None = None


@dataclass(frozen=True)
class OfferSummary:
    offer: HospitationOffer
    days: int  # days that have not ended yet
    booked: int  # places taken in those days


# ------------------------------------------------------------------------------------------ who may


def is_staff(person: Person) -> bool:
    return person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY)


async def member_company_ids(session: AsyncSession, person: Person) -> set[int]:
    if person.id is None:
        return set()
    rows = await session.exec(select(CompanyMember.company_id).where(CompanyMember.person_id == person.id))
    return set(rows.all())


async def may_manage(session: AsyncSession, person: Person, company_id: int) -> bool:
    """Coordinators manage every company; company staff only those they are members of."""
    if person.has_role(Role.COORDINATOR):
        return True
    return person.has_role(Role.COMPANY) and company_id in await member_company_ids(session, person)


async def companies_for(session: AsyncSession, person: Person) -> list[Company]:
    """The companies this person manages, by name."""
    query = select(Company).order_by(col(Company.name))
    if not person.has_role(Role.COORDINATOR):
        if not person.has_role(Role.COMPANY):
            return []
        query = query.where(col(Company.id).in_(await member_company_ids(session, person)))
    return list((await session.exec(query)).all())


async def get_company(session: AsyncSession, person: Person, company_id: int) -> Company | None:
    """The company, if it exists and this person manages it."""
    if not await may_manage(session, person, company_id):
        return None
    return await session.get(Company, company_id)


async def get_offer(session: AsyncSession, person: Person, offer_id: int) -> tuple[HospitationOffer, Company] | None:
    """The offer (active or not) and its company, if this person manages that company."""
    offer = await session.get(HospitationOffer, offer_id)
    if offer is None:
        return None
    company = await get_company(session, person, offer.company_id)
    return (offer, company) if company is not None else None


async def _own_offer(session: AsyncSession, person: Person, offer_id: int) -> tuple[HospitationOffer, Company]:
    found = await get_offer(session, person, offer_id)
    if found is None:
        raise NotAllowed(f"offer {offer_id}")
    return found


# ---------------------------------------------------------------------------------------- membership


async def add_member(session: AsyncSession, person: Person, company_id: int, role: str = "contact") -> CompanyMember:
    """Make the person act for the company (and give them the company role); idempotent."""
    assert person.id is not None
    member = (
        await session.exec(
            select(CompanyMember).where(CompanyMember.person_id == person.id, CompanyMember.company_id == company_id)
        )
    ).first()
    if member is None:
        member = CompanyMember(person_id=person.id, company_id=company_id, role=role)
        session.add(member)
    if not person.has_role(Role.COMPANY):
        person.add_role(Role.COMPANY)
        person.updated_at = utcnow()
        session.add(person)
    await session.flush()
    return member


async def remove_member(session: AsyncSession, person: Person, company_id: int) -> None:
    """End the person's membership; with their last one they lose the company role."""
    assert person.id is not None
    await session.exec(
        delete(CompanyMember).where(
            col(CompanyMember.person_id) == person.id, col(CompanyMember.company_id) == company_id
        )  # type: ignore[call-overload]
    )
    if not await member_company_ids(session, person) and person.has_role(Role.COMPANY):
        person.roles = [r for r in person.roles if r != Role.COMPANY.value]
        person.updated_at = utcnow()
        session.add(person)
    await session.flush()


# ------------------------------------------------------------------------------------------ answers


def clean_text(value: str | None, limit: int, *, required: bool = True) -> str | None:
    """A typed answer, trimmed; None for an empty optional one. Raises InvalidAnswer to ask again."""
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise InvalidAnswer(TYPE_TEXT)
        return None
    if len(text) > limit:
        raise InvalidAnswer(TOO_LONG, max=limit)
    return text


_TIME = re.compile(r"^\s*(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*(?:uhr|h)?\s*$", re.IGNORECASE)


def parse_time(text: str | None) -> time:
    """"8", "8:30", "08.30", "14 Uhr" → a time of day. Raises InvalidAnswer otherwise."""
    match = _TIME.match(text or "")
    if match is None:
        raise InvalidAnswer(BAD_TIME)
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise InvalidAnswer(BAD_TIME)
    return time(hour, minute)


def parse_count(text: str | None, maximum: int) -> int:
    value = (text or "").strip()
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise InvalidAnswer(BAD_NUMBER, max=maximum)
    return int(value)


def parse_hours(text: str | None) -> float:
    value = (text or "").strip().lower().removesuffix("h").replace(",", ".").strip()
    try:
        hours = float(value)
    except ValueError:
        raise InvalidAnswer(BAD_NUMBER, max=int(MAX_HOURS)) from None
    if not 0 < hours <= MAX_HOURS:
        raise InvalidAnswer(BAD_NUMBER, max=int(MAX_HOURS))
    return hours


# ------------------------------------------------------------------------------- companies and offers


async def name_taken(session: AsyncSession, name: str) -> bool:
    """Whether a company of this name exists already (ignoring case)."""
    taken = await session.exec(select(Company.id).where(func.lower(Company.name) == name.lower()))
    return taken.first() is not None


async def create_company(session: AsyncSession, person: Person, *, name: str, town: str, region: str) -> Company:
    """A new company; coordinators only. The name is unique (told again if taken)."""
    if not person.has_role(Role.COORDINATOR):
        raise NotAllowed("create a company")
    clean_name = clean_text(name, LIMITS["company"])
    clean_town = clean_text(town, LIMITS["town"])
    assert clean_name is not None and clean_town is not None
    if region not in {r.value for r in Region}:
        raise ValueError(f"unknown region {region!r}")
    if await name_taken(session, clean_name):
        raise InvalidAnswer(NAME_TAKEN)
    company = Company(name=clean_name, town=clean_town, region=region, languages=["de"])
    session.add(company)
    await session.flush()
    return company


async def create_offer(
    session: AsyncSession, person: Person, company_id: int, draft: OfferDraft, *, fields: Collection[str]
) -> HospitationOffer:
    """A new active offer of the company. ``fields``: the check's field ids (the offer's field is one)."""
    company = await get_company(session, person, company_id)
    if company is None:
        raise NotAllowed(f"company {company_id}")
    if draft.field not in fields:
        raise ValueError(f"unknown field {draft.field!r}")
    if not set(draft.reachable_by) <= set(WAYS) or not set(draft.licences) <= set(LICENCES):
        raise ValueError("unknown way or licence")
    if draft.duration_hours is not None and not 0 < draft.duration_hours <= MAX_HOURS:
        raise ValueError(f"duration {draft.duration_hours}")

    def text(name: str, required: bool = False) -> str | None:
        return clean_text(getattr(draft, name), LIMITS[name], required=required)

    offer = HospitationOffer(
        company_id=company_id, title=text("title", True) or "", field=draft.field, town=company.town,
        address=text("address", True), meeting_point=text("meeting_point"), contact_name=text("contact_name"),
        what_to_bring=text("what_to_bring"), clothing=text("clothing"),
        reachable_by=[w for w in WAYS if w in draft.reachable_by], transit_minutes=draft.transit_minutes,
        shifts=draft.shifts, heavy_work=draft.heavy_work,
        licences=[licence for licence in LICENCES if licence in draft.licences], duration_hours=draft.duration_hours,
    )
    session.add(offer)
    await session.flush()
    return offer


async def offers_of(session: AsyncSession, person: Person, company_id: int, *, now: datetime) -> list[OfferSummary]:
    """The company's offers (active first, then by title) with their coming days and places taken."""
    if await get_company(session, person, company_id) is None:
        raise NotAllowed(f"company {company_id}")
    slot = HospitationSlot
    rows = await session.exec(
        select(
            HospitationOffer,
            func.count(col(slot.id)),
            func.coalesce(func.sum(col(slot.booked)), literal(0)),
        )
        .outerjoin(slot, (col(slot.offer_id) == col(HospitationOffer.id)) & (col(slot.ends_at) > now))
        .where(HospitationOffer.company_id == company_id)
        .group_by(col(HospitationOffer.id))
        .order_by(col(HospitationOffer.active).desc(), col(HospitationOffer.title), col(HospitationOffer.id))
    )
    return [OfferSummary(offer, int(days), int(booked)) for offer, days, booked in rows.all()]


async def deactivate_offer(session: AsyncSession, person: Person, offer_id: int) -> HospitationOffer:
    """Participants no longer see the offer; days already booked stay booked."""
    offer, _company = await _own_offer(session, person, offer_id)
    offer.active = False
    session.add(offer)
    await session.flush()
    return offer


# ---------------------------------------------------------------------------------------------- days


async def slots_of(session: AsyncSession, person: Person, offer_id: int, *, now: datetime) -> list[HospitationSlot]:
    """The offer's days that have not ended, soonest first."""
    await _own_offer(session, person, offer_id)
    rows = await session.exec(
        select(HospitationSlot)
        .where(HospitationSlot.offer_id == offer_id, col(HospitationSlot.ends_at) > now)
        .order_by(col(HospitationSlot.starts_at), col(HospitationSlot.id))
    )
    return list(rows.all())


def local_moment(day: date, at: time, timezone: str) -> datetime:
    """A local day and time as an aware UTC moment."""
    return datetime.combine(day, at, ZoneInfo(timezone)).astimezone(UTC)


async def add_slots(
    session: AsyncSession, person: Person, offer_id: int, *, day: date, start: time, end: time, capacity: int,
    weeks: int = 0, now: datetime, timezone: str,
) -> list[HospitationSlot]:
    """The day and, with ``weeks``, the same weekday and times in each of the following weeks.

    A day the offer already has at that start is not added twice (a second tap, a repeated entry).
    Returns the days added.
    """
    await _own_offer(session, person, offer_id)
    if end <= start:
        raise InvalidAnswer(END_BEFORE_START)
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidAnswer(BAD_NUMBER, max=MAX_CAPACITY)
    if not 0 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks {weeks}")
    if local_moment(day, start, timezone) <= now:
        raise InvalidAnswer(IN_THE_PAST)
    wanted = [
        (local_moment(day + timedelta(weeks=k), start, timezone), local_moment(day + timedelta(weeks=k), end, timezone))
        for k in range(weeks + 1)
    ]
    there = set(
        (
            await session.exec(
                select(HospitationSlot.starts_at).where(
                    HospitationSlot.offer_id == offer_id, col(HospitationSlot.starts_at).in_([s for s, _e in wanted])
                )
            )
        ).all()
    )
    added = [
        HospitationSlot(offer_id=offer_id, starts_at=s, ends_at=e, capacity=capacity, created_at=now)
        for s, e in wanted
        if s not in there
    ]
    session.add_all(added)
    await session.flush()
    return added


async def delete_slot(session: AsyncSession, person: Person, slot_id: int) -> tuple[Deletion, int | None]:
    """Delete a day nobody holds a place in; returns the outcome and the day's offer id.

    Refused (``BOOKED``) while a place is taken, and for a day with an attended or missed booking (its
    history). Cancelled bookings of the day go with it.
    """
    slot = await session.get(HospitationSlot, slot_id)
    if slot is None:
        return Deletion.GONE, None
    offer_id = slot.offer_id
    await _own_offer(session, person, offer_id)
    kept = exists().where(
        col(Booking.slot_id) == col(HospitationSlot.id), col(Booking.status) != BookingStatus.CANCELLED.value
    )
    result = await session.exec(
        delete(HospitationSlot).where(
            col(HospitationSlot.id) == slot_id, col(HospitationSlot.booked) == 0, ~kept
        )  # type: ignore[call-overload]
    )
    if result.rowcount != 1:
        return Deletion.BOOKED, offer_id
    session.expunge(slot)
    await session.flush()
    return Deletion.DELETED, offer_id

