"""Hospitation booking: offers for a participant, free days and times, book, cancel, reschedule.

The rules, without Telegram. Everything flushes and nothing commits: a booking, its reminders and the
notices to the company and the coordinators are one unit of work (the caller commits).

Concurrency. A place is taken with one conditional update (``booked < capacity``), so capacity holds
whatever the number of people pressing at once; the check constraint ``booked <= capacity`` backs it.
A person's own bookings are serialised by first writing their person row (a row lock on PostgreSQL; SQLite
has one writer at a time anyway), so a double tap or two overlapping slots tapped at once cannot both pass
the "already booked" and "overlaps" checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs import outbox
from dialogs.booking.matching import Fit, OfferFacts, PersonFacts, rank
from dialogs.check.scoring import Profile
from dialogs.outbox import Button, Priority, key_prefix, make_key
from dialogs.privacy.service import Purpose, current_consents
from dialogs.text import N_
from storage.booking import Booking, BookingStatus, CompanyMember, HospitationSlot, PathEvent, PathStage
from storage.companies import Company, HospitationOffer
from storage.models import ParticipantProfile, Person, Role

#: Outbox templates of this feature (msgids; rendered in the recipient's language when sent).
REMINDER_24H = N_("⏰ Tomorrow at {time}: your hospitation at {company}.\n📍 {address}\n🎒 {bring}")
REMINDER_2H = N_("⏰ In two hours, at {time}: your hospitation at {company}.\n📍 {address}\n🎒 {bring}")
COMING = N_("✅ I am coming")
NOT_COMING = N_("❌ I cannot come")
NOTICE_BOOKED = N_("📅 New hospitation booking: {name} on {when}, {offer}.\nGerman: {german} · Languages: {languages} · Strongest fields: {fields}")
NOTICE_CANCELLED = N_("↩️ Booking cancelled: {name} on {when}, {offer}.")
NOTICE_LATE_CANCEL = N_("⚠️ {name} cannot come to the hospitation on {when}, {offer}. It was too late to cancel in the bot: please let the company know.")
ASK_ATTENDANCE = N_("Did {name} come to the hospitation on {when}?")
CAME = N_("✅ Came")
DID_NOT_COME = N_("❌ Did not come")
ASK_RATING = N_("How was your day at {company}?")
ASK_COMPANY_INTERNSHIP = N_("Would you offer {name} an internship?")
NOTICE_MATCH = N_("🤝 Match: {name} and {company} both want an internship (hospitation on {when}).")
NOTICE_CALL = N_("📞 {name} asks for a call. Phone: {phone}. Language: {language}.")
YES = N_("✅ Yes")
NO = N_("❌ No")
TEMPLATES = (
    REMINDER_24H, REMINDER_2H, NOTICE_BOOKED, NOTICE_CANCELLED, NOTICE_LATE_CANCEL, ASK_ATTENDANCE, ASK_RATING,
    ASK_COMPANY_INTERNSHIP, NOTICE_MATCH, NOTICE_CALL,
)

LANGUAGES_QUESTION, TRANSPORT, SHIFTS, PHYSICAL, LICENCES = (
    "lang.spoken", "work.transport", "work.shifts", "work.physical", "work.licence",
)


class Outcome(StrEnum):
    BOOKED = "booked"
    ALREADY = "already"  # this person already holds this slot (a double tap)
    FULL = "full"
    CLOSED = "closed"  # too close to the start, or over
    OVERLAP = "overlap"  # the person holds another booking at that time
    GONE = "gone"  # no such slot or booking (an old or forged button)
    CANCELLED = "cancelled"
    TOO_LATE = "too_late"  # past the cancelling deadline: a message to the coordinators instead


@dataclass(frozen=True)
class Policy:
    """When booking closes and cancelling stops, before the start (settings BOOKING_CUTOFF_HOURS)."""

    cutoff: timedelta = timedelta(hours=12)
    timezone: str = "Europe/Berlin"


@dataclass(frozen=True)
class OfferView:
    offer: HospitationOffer
    company: Company
    fit: Fit


@dataclass(frozen=True)
class BookingView:
    booking: Booking
    slot: HospitationSlot
    offer: HospitationOffer
    company: Company


def map_link(address: str) -> str:
    """A map link any phone opens (OpenStreetMap's search; no key, no tracking parameters)."""
    return f"https://www.openstreetmap.org/search?query={quote_plus(address)}"


# ------------------------------------------------------------------------------------------- offers


def person_facts(profile: Profile, registration: ParticipantProfile | None) -> PersonFacts:
    def yes(question: str) -> bool | None:
        answer = profile.fact(question)
        return None if not answer else answer[0] == "yes"

    transport = profile.fact(TRANSPORT)
    return PersonFacts(
        field_scores={fs.field: fs.score for fs in profile.fields},
        region=registration.region if registration else None,
        languages=tuple(code for code in profile.fact(LANGUAGES_QUESTION) if code not in ("de", "other")),
        transport=transport[0] if transport else None,
        shifts_ok=yes(SHIFTS),
        heavy_ok=yes(PHYSICAL),
        licences=tuple(code for code in profile.fact(LICENCES) if code != "none"),
    )


def offer_facts(offer: HospitationOffer, company: Company) -> OfferFacts:
    return OfferFacts(
        field=offer.field, region=company.region, staff_languages=tuple(company.languages),
        reachable_by=tuple(offer.reachable_by), transit_minutes=offer.transit_minutes, shifts=offer.shifts,
        heavy_work=offer.heavy_work, licences=tuple(offer.licences),
    )


async def offers_for(session: AsyncSession, person: Person, profile: Profile) -> list[OfferView]:
    """The active offers that fit this person, best first, with the reasons for each."""
    registration = (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == person.id))
    ).first()
    rows = (
        await session.exec(
            select(HospitationOffer, Company)
            .join(Company, col(Company.id) == col(HospitationOffer.company_id))
            .where(col(HospitationOffer.active).is_(True))
        )
    ).all()
    by_id = {offer.id or 0: (offer, company) for offer, company in rows}
    ranked = rank(person_facts(profile, registration), {i: offer_facts(o, c) for i, (o, c) in by_id.items()})
    return [OfferView(by_id[offer_id][0], by_id[offer_id][1], f) for offer_id, f in ranked]


async def get_offer(session: AsyncSession, offer_id: int) -> tuple[HospitationOffer, Company] | None:
    row = (
        await session.exec(
            select(HospitationOffer, Company)
            .join(Company, col(Company.id) == col(HospitationOffer.company_id))
            .where(HospitationOffer.id == offer_id, col(HospitationOffer.active).is_(True))
        )
    ).first()
    return (row[0], row[1]) if row else None


# ---------------------------------------------------------------------------------------- calendar


def _bookable(now: datetime, policy: Policy) -> datetime:
    """Slots starting after this moment can still be booked."""
    return now + policy.cutoff


async def free_slots(
    session: AsyncSession, offer_id: int, *, now: datetime, policy: Policy, day: date | None = None
) -> list[HospitationSlot]:
    """Slots of the offer with a free place that can still be booked (on ``day`` in local time, if given)."""
    query = select(HospitationSlot).where(
        HospitationSlot.offer_id == offer_id,
        col(HospitationSlot.booked) < col(HospitationSlot.capacity),
        col(HospitationSlot.starts_at) > _bookable(now, policy),
    )
    slots = list((await session.exec(query.order_by(col(HospitationSlot.starts_at)))).all())
    if day is None:
        return slots
    zone = ZoneInfo(policy.timezone)
    return [s for s in slots if s.starts_at.astimezone(zone).date() == day]


async def free_days(session: AsyncSession, offer_id: int, *, now: datetime, policy: Policy) -> dict[date, int]:
    """Local days with free places, and how many places are free that day."""
    zone = ZoneInfo(policy.timezone)
    days: dict[date, int] = {}
    for slot in await free_slots(session, offer_id, now=now, policy=policy):
        day = slot.starts_at.astimezone(zone).date()
        days[day] = days.get(day, 0) + slot.capacity - slot.booked
    return days


# ----------------------------------------------------------------------------------- book and cancel


async def _lock_person(session: AsyncSession, person: Person, now: datetime) -> None:
    await session.exec(update(Person).where(col(Person.id) == person.id).values(updated_at=now))  # type: ignore[call-overload]


async def _active(session: AsyncSession, person_id: int) -> list[tuple[Booking, HospitationSlot]]:
    rows = await session.exec(
        select(Booking, HospitationSlot)
        .join(HospitationSlot, col(HospitationSlot.id) == col(Booking.slot_id))
        .where(Booking.person_id == person_id, Booking.status == BookingStatus.BOOKED.value)
    )
    return [(b, s) for b, s in rows.all()]


async def book(
    session: AsyncSession, person: Person, slot_id: int, *, now: datetime, policy: Policy,
    replacing: int | None = None,
) -> tuple[Outcome, Booking | None]:
    """Take a place in a slot for the person, schedule the reminders and tell the company and coordinators.

    ``replacing``: a booking of the person that this one replaces (a reschedule); it does not count as an
    overlap, and the caller cancels it in the same unit of work.
    """
    assert person.id is not None
    await _lock_person(session, person, now)
    slot = await session.get(HospitationSlot, slot_id)
    if slot is None:
        return Outcome.GONE, None
    active = await _active(session, person.id)
    for booking, held in active:
        if held.id == slot_id:
            return Outcome.ALREADY, booking
    if slot.starts_at <= _bookable(now, policy):
        return Outcome.CLOSED, None
    for booking, held in active:
        if booking.id != replacing and held.starts_at < slot.ends_at and slot.starts_at < held.ends_at:
            return Outcome.OVERLAP, booking
    taken = await session.exec(
        update(HospitationSlot)  # type: ignore[call-overload]
        .where(col(HospitationSlot.id) == slot_id, col(HospitationSlot.booked) < col(HospitationSlot.capacity))
        .values(booked=col(HospitationSlot.booked) + 1)
    )
    if taken.rowcount != 1:
        return Outcome.FULL, None
    booking = Booking(slot_id=slot_id, person_id=person.id, created_at=now, updated_at=now)
    session.add(booking)
    await session.flush()
    session.add(PathEvent(person_id=person.id, stage=PathStage.HOSPITATION_BOOKED.value, booking_id=booking.id, at=now))
    await session.refresh(slot)
    await _schedule(session, person, booking, slot, now=now, policy=policy)
    return Outcome.BOOKED, booking


async def cancel(
    session: AsyncSession, person: Person, booking_id: int, *, now: datetime, policy: Policy,
    notify: bool = True,
) -> Outcome:
    """Give the place back and take back the reminders; past the deadline, tell the coordinators instead."""
    assert person.id is not None
    await _lock_person(session, person, now)
    booking = await session.get(Booking, booking_id)
    if booking is None or booking.person_id != person.id or booking.status != BookingStatus.BOOKED.value:
        return Outcome.GONE
    slot = await session.get(HospitationSlot, booking.slot_id)
    assert slot is not None
    if slot.starts_at <= now + policy.cutoff:
        if notify:
            await _notify_staff(session, slot, booking, NOTICE_LATE_CANCEL, now=now, policy=policy,
                                key=make_key("booking", booking.id, "late-cancel"), companies=False)
        return Outcome.TOO_LATE
    booking.status, booking.updated_at = BookingStatus.CANCELLED.value, now
    session.add(booking)
    await session.exec(
        update(HospitationSlot)  # type: ignore[call-overload]
        .where(col(HospitationSlot.id) == slot.id, col(HospitationSlot.booked) > 0)
        .values(booked=col(HospitationSlot.booked) - 1)
    )
    await outbox.cancel(session, prefix=key_prefix("booking", booking.id, "reminder"))
    await outbox.cancel(session, prefix=key_prefix("booking", booking.id, "after"))
    if notify:
        await _notify_staff(session, slot, booking, NOTICE_CANCELLED, now=now, policy=policy,
                            key=make_key("booking", booking.id, "cancelled"))
    await session.flush()
    return Outcome.CANCELLED


async def reschedule(
    session: AsyncSession, person: Person, booking_id: int, new_slot_id: int, *, now: datetime, policy: Policy
) -> tuple[Outcome, Booking | None]:
    """Move a booking to another slot: book the new one, then give the old place back. Both or neither."""
    old = await session.get(Booking, booking_id)
    if old is None or old.person_id != person.id or old.status != BookingStatus.BOOKED.value:
        return Outcome.GONE, None
    old_slot = await session.get(HospitationSlot, old.slot_id)
    if old_slot is None or old_slot.starts_at <= now + policy.cutoff:
        return Outcome.TOO_LATE, None
    outcome, new = await book(session, person, new_slot_id, now=now, policy=policy, replacing=booking_id)
    if outcome is not Outcome.BOOKED:
        return outcome, new
    await cancel(session, person, booking_id, now=now, policy=policy, notify=False)
    return Outcome.BOOKED, new


async def upcoming(session: AsyncSession, person: Person, *, now: datetime) -> list[BookingView]:
    """The person's active bookings that have not ended, soonest first."""
    rows = await session.exec(
        select(Booking, HospitationSlot, HospitationOffer, Company)
        .join(HospitationSlot, col(HospitationSlot.id) == col(Booking.slot_id))
        .join(HospitationOffer, col(HospitationOffer.id) == col(HospitationSlot.offer_id))
        .join(Company, col(Company.id) == col(HospitationOffer.company_id))
        .where(Booking.person_id == person.id, Booking.status == BookingStatus.BOOKED.value,
               col(HospitationSlot.ends_at) > now)
        .order_by(col(HospitationSlot.starts_at))
    )
    return [BookingView(*row) for row in rows.all()]


async def booking_view(session: AsyncSession, booking_id: int) -> BookingView | None:
    row = (
        await session.exec(
            select(Booking, HospitationSlot, HospitationOffer, Company)
            .join(HospitationSlot, col(HospitationSlot.id) == col(Booking.slot_id))
            .join(HospitationOffer, col(HospitationOffer.id) == col(HospitationSlot.offer_id))
            .join(Company, col(Company.id) == col(HospitationOffer.company_id))
            .where(Booking.id == booking_id)
        )
    ).first()
    return BookingView(*row) if row else None


# ------------------------------------------------------------------------- reminders and notices


def _local(moment: datetime, policy: Policy) -> datetime:
    return moment.astimezone(ZoneInfo(policy.timezone))


async def _schedule(
    session: AsyncSession, person: Person, booking: Booking, slot: HospitationSlot, *, now: datetime,
    policy: Policy,
) -> None:
    view = await booking_view(session, booking.id or 0)
    assert view is not None
    offer, company = view.offer, view.company
    args = {
        "time": _local(slot.starts_at, policy).strftime("%H:%M"),
        "company": company.name,
        "address": ", ".join(p for p in (offer.address, offer.meeting_point) if p) or offer.town,
        "bring": offer.what_to_bring or "—",
    }
    buttons = [[Button(COMING, callback_data=f"bkr:{booking.id}:yes"),
                Button(NOT_COMING, callback_data=f"bkr:{booking.id}:no")]]
    for label, before, template in (("24h", timedelta(hours=24), REMINDER_24H), ("2h", timedelta(hours=2), REMINDER_2H)):
        due = slot.starts_at - before
        if due <= now:
            continue  # booked later than this reminder would go out
        await outbox.schedule(
            session, person=person, template=template, args=args, buttons=buttons, due_at=due,
            expires_at=slot.starts_at, priority=Priority.REMINDER,
            key=make_key("booking", booking.id, "reminder", label), now=lambda: now,
        )
    await _notify_staff(session, slot, booking, NOTICE_BOOKED, now=now, policy=policy,
                        key=make_key("booking", booking.id, "booked"))
    # After the day: the company says whether the person came; the person says how it was.
    await _after_the_day(session, person, booking, slot, view, now=now, policy=policy)


async def _after_the_day(
    session: AsyncSession, person: Person, booking: Booking, slot: HospitationSlot, view: BookingView, *,
    now: datetime, policy: Policy,
) -> None:
    name = await shared_name(session, person)
    when = _local(slot.starts_at, policy).strftime("%d.%m.%Y %H:%M")
    for member in await _company_members(session, view.company.id or 0):
        await outbox.schedule(
            session, person=member, template=ASK_ATTENDANCE, args={"name": name, "when": when},
            buttons=[[Button(CAME, callback_data=f"bka:{booking.id}:yes"),
                      Button(DID_NOT_COME, callback_data=f"bka:{booking.id}:no")]],
            due_at=slot.ends_at, key=make_key("booking", booking.id, "after", "attendance", member.id),
            now=lambda: now,
        )
    await outbox.schedule(
        session, person=person, template=ASK_RATING, args={"company": view.company.name},
        buttons=[[Button("👍", callback_data=f"bkf:{booking.id}:good"), Button("😐", callback_data=f"bkf:{booking.id}:ok"),
                  Button("👎", callback_data=f"bkf:{booking.id}:bad")]],
        due_at=slot.ends_at + timedelta(hours=1), key=make_key("booking", booking.id, "after", "rating"),
        now=lambda: now,
    )


async def shared_name(session: AsyncSession, person: Person) -> str:
    """The person's first name if they agreed to share their profile with companies, else a code."""
    from dialogs.check.service import anonymous_code

    assert person.id is not None
    consents = await current_consents(session, person.id)
    return person.first_name if consents.get(Purpose.SHARE) and person.first_name else anonymous_code(person.id)


async def _company_members(session: AsyncSession, company_id: int) -> Sequence[Person]:
    rows = await session.exec(
        select(Person).join(CompanyMember, col(CompanyMember.person_id) == col(Person.id))
        .where(CompanyMember.company_id == company_id)
    )
    return rows.all()


async def coordinators(session: AsyncSession) -> list[Person]:
    """Everyone with the coordinator role: the JSON list of roles, searched as text on both backends."""
    rows = await session.exec(
        select(Person).where(cast(col(Person.roles), String).contains(f'"{Role.COORDINATOR.value}"'))
    )
    return [p for p in rows.all() if p.has_role(Role.COORDINATOR)]


async def _notify_staff(
    session: AsyncSession, slot: HospitationSlot, booking: Booking, template: str, *, now: datetime,
    policy: Policy, key: str, companies: bool = True,
) -> None:
    """A notice about a booking to the company's members and the coordinators, in their language."""
    view = await booking_view(session, booking.id or 0)
    participant = await session.get(Person, booking.person_id)
    if view is None or participant is None:
        return
    args = {
        "name": await shared_name(session, participant),
        "when": _local(slot.starts_at, policy).strftime("%d.%m.%Y %H:%M"),
        "offer": f"{view.offer.title} ({view.company.name})",
        **await profile_summary(session, participant),
    }
    recipients = list(await _company_members(session, view.company.id or 0)) if companies else []
    recipients += [c for c in await coordinators(session) if c.id not in {r.id for r in recipients}]
    for recipient in recipients:
        await outbox.schedule(session, person=recipient, template=template, args=args,
                              key=make_key(key, recipient.id), now=lambda: now)


async def profile_summary(session: AsyncSession, person: Person) -> dict[str, str]:
    """German level, languages (by their own names) and the strongest fields (emoji and score) of the person,
    within what they agreed to share: nothing ("—") without the consent to show their profile to companies."""
    from dialogs.check.service import latest_completed, stored_profile
    from dialogs.languages import BY_CODE

    assert person.id is not None
    summary = {"german": "—", "languages": "—", "fields": "—"}
    if not (await current_consents(session, person.id)).get(Purpose.SHARE):
        return summary
    registration = (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == person.id))
    ).first()
    if registration and registration.german_level:
        summary["german"] = registration.german_level
    run = await latest_completed(session, person.id)
    profile = stored_profile(run) if run is not None else None
    if profile is not None:
        spoken = [BY_CODE[c].native_name for c in profile.fact(LANGUAGES_QUESTION) if c in BY_CODE]
        summary["languages"] = ", ".join(spoken) or "—"
        top = [fs for f in profile.top_fields if (fs := profile.field_score(f)) is not None]
        summary["fields"] = " ".join(f"{fs.emoji} {fs.score}" for fs in top) or "—"
    return summary


async def count_active(session: AsyncSession, slot_id: int) -> int:
    return int((await session.exec(
        select(func.count()).select_from(Booking).where(Booking.slot_id == slot_id,
                                                        Booking.status == BookingStatus.BOOKED.value)
    )).one())


# ------------------------------------------------------------------------------------------ a call


async def request_call(
    session: AsyncSession, person: Person, *, now: datetime, policy: Policy | None = None
) -> bool:
    """Ask the coordinators to call the person back: a task for each of them, at most once a day.

    The notice names the person and their language; the phone number only when the person agreed to be
    contacted and gave one. The path records that they asked. False: they already asked today (a second
    tap, or another day's message pressed again), and nothing new is scheduled.
    """
    from dialogs.check.service import anonymous_code
    from dialogs.languages import BY_CODE

    assert person.id is not None
    policy = policy or Policy()
    await _lock_person(session, person, now)  # two taps at once: the second sees the first one's event
    zone = ZoneInfo(policy.timezone)
    day = now.astimezone(zone).date()
    since = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    asked = (
        await session.exec(
            select(PathEvent.id).where(
                PathEvent.person_id == person.id, PathEvent.stage == PathStage.CALL_REQUESTED.value,
                col(PathEvent.at) >= since,
            )
        )
    ).first()
    if asked is not None:
        return False
    registration = (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == person.id))
    ).first()
    consents = await current_consents(session, person.id)
    phone = registration.phone if registration and registration.phone and consents.get(Purpose.CONTACT) else None
    code = anonymous_code(person.id)
    language = BY_CODE[person.language].native_name if person.language in BY_CODE else "—"
    args = {
        "name": f"{person.first_name} ({code})" if person.first_name else code,
        "phone": phone or "—",
        "language": language,
    }
    for coordinator in await coordinators(session):
        await outbox.schedule(
            session, person=coordinator, template=NOTICE_CALL, args=args,
            key=make_key("booking", "call", person.id, day.isoformat(), coordinator.id), now=lambda: now,
        )
    session.add(PathEvent(person_id=person.id, stage=PathStage.CALL_REQUESTED.value, at=now))
    await session.flush()
    return True
