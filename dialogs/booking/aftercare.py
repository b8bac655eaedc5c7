"""Around and after the booked day: the answer to a reminder, attendance, feedback, and the match.

The rules, without Telegram; everything flushes and nothing commits (the update's unit of work stores a
change together with the outbox rows it schedules).

A button's callback data carries ids, never authority: every function here checks who is acting on the
booking (its own participant, or a member of the booking's company) and refuses anyone else without
changing anything, whatever the button says.

Concurrency. A change first writes the booking row (a row lock on PostgreSQL; SQLite has one writer at a
time) and then reads it afresh. So two members tapping "came" at once record it once, and when the
participant and the company say "yes" at the same moment, the second of them sees the first one's answer:
the match is noticed exactly once, never missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs import outbox
from dialogs.booking.service import (
    ASK_COMPANY_INTERNSHIP,
    NO,
    NOTICE_MATCH,
    YES,
    BookingView,
    Outcome,
    Policy,
    booking_view,
    cancel,
    coordinators,
    shared_name,
)
from dialogs.outbox import Button, key_prefix, make_key
from storage.booking import Booking, BookingStatus, CompanyMember, PathEvent, PathStage
from storage.models import Person

COMING, NOT_COMING = "coming", "not_coming"  # Booking.reply
RATINGS = ("good", "ok", "bad")  # Booking.participant_rating


class Result(StrEnum):
    SAVED = "saved"
    UNCHANGED = "unchanged"  # the same answer again (a double tap)
    ALREADY = "already"  # attendance was recorded before (this member's double tap, or another member)
    CANCELLED = "cancelled"  # "I cannot come" in time: the booking is cancelled, the place free again
    TOO_LATE = "too_late"  # "I cannot come" past the cutoff: the coordinators were told instead
    NOT_YOURS = "not_yours"  # another person's booking, or another company's
    GONE = "gone"  # no such booking, a cancelled one, or not the time for this answer (an old or forged button)


@dataclass(frozen=True)
class Answer:
    result: Result
    view: BookingView | None = None
    #: The participant as company staff may see them (first name with consent, else a code); staff answers only.
    name: str = ""
    #: Both sides want an internship, noticed by this answer.
    match: bool = False


def local_when(moment: datetime, policy: Policy) -> str:
    """A moment as the outbox notices to staff show it (day and time, programme time zone)."""
    return moment.astimezone(ZoneInfo(policy.timezone)).strftime("%d.%m.%Y %H:%M")


async def _lock(session: AsyncSession, booking_id: int, now: datetime) -> Booking:
    """Write the booking row first (serialises every change to it), then read it as it is now."""
    await session.exec(
        update(Booking).where(col(Booking.id) == booking_id).values(updated_at=now)  # type: ignore[call-overload]
    )
    booking = await session.get(Booking, booking_id, populate_existing=True)
    assert booking is not None
    return booking


async def is_member(session: AsyncSession, person: Person, company_id: int) -> bool:
    row = await session.exec(
        select(CompanyMember.id).where(CompanyMember.person_id == person.id, CompanyMember.company_id == company_id)
    )
    return row.first() is not None


async def _participant_view(session: AsyncSession, person: Person, booking_id: int) -> BookingView | Answer:
    """The booking if it is this participant's own, else the refusal."""
    view = await booking_view(session, booking_id)
    if view is None:
        return Answer(Result.GONE)
    if view.booking.person_id != person.id:
        return Answer(Result.NOT_YOURS)
    return view


async def _staff_view(session: AsyncSession, member: Person, booking_id: int) -> BookingView | Answer:
    """The booking if this person is a member of its company, else the refusal."""
    view = await booking_view(session, booking_id)
    if view is None:
        return Answer(Result.GONE)
    if not await is_member(session, member, view.company.id or 0):
        return Answer(Result.NOT_YOURS)
    return view


async def _name(session: AsyncSession, view: BookingView) -> str:
    participant = await session.get(Person, view.booking.person_id)
    return await shared_name(session, participant) if participant is not None else ""


# ------------------------------------------------------------------------------ the reminder's answer


async def answer_reminder(
    session: AsyncSession, person: Person, booking_id: int, coming: bool, *, now: datetime, policy: Policy
) -> Answer:
    """"I am coming" is noted; "I cannot come" cancels the booking, or past the cutoff tells the coordinators."""
    view = await _participant_view(session, person, booking_id)
    if isinstance(view, Answer):
        return view
    if now >= view.slot.starts_at:
        return Answer(Result.GONE, view)  # the day has begun: a reminder's button no longer means anything
    booking = await _lock(session, booking_id, now)
    wanted = COMING if coming else NOT_COMING
    if booking.status == BookingStatus.CANCELLED.value and booking.reply == wanted == NOT_COMING:
        return Answer(Result.UNCHANGED, view)
    if booking.status != BookingStatus.BOOKED.value:
        return Answer(Result.GONE, view)
    if booking.reply == wanted:
        return Answer(Result.UNCHANGED, view)
    booking.reply = wanted
    session.add(booking)
    if coming:
        await session.flush()
        return Answer(Result.SAVED, view)
    outcome = await cancel(session, person, booking_id, now=now, policy=policy)
    if outcome is Outcome.CANCELLED:
        return Answer(Result.CANCELLED, view)
    # Past the cutoff the booking stands (the company expects someone) and the coordinators have been told;
    # reminders still to come would only ask again.
    await outbox.cancel(session, prefix=key_prefix("booking", booking_id, "reminder"), now=lambda: now)
    await session.flush()
    return Answer(Result.TOO_LATE, view)


# ----------------------------------------------------------------------------------------- attendance


async def record_attendance(
    session: AsyncSession, member: Person, booking_id: int, attended: bool, *, now: datetime, policy: Policy
) -> Answer:
    """A company member says whether the participant came: recorded once, by whoever is first."""
    view = await _staff_view(session, member, booking_id)
    if isinstance(view, Answer):
        return view
    name = await _name(session, view)
    if now < view.slot.starts_at:
        return Answer(Result.GONE, view, name)
    status = BookingStatus.ATTENDED if attended else BookingStatus.NO_SHOW
    changed = await session.exec(
        update(Booking)  # type: ignore[call-overload]
        .where(col(Booking.id) == booking_id, col(Booking.status) == BookingStatus.BOOKED.value)
        .values(status=status.value, updated_at=now)
    )
    booking = await session.get(Booking, booking_id, populate_existing=True)
    assert booking is not None
    if changed.rowcount != 1:
        recorded = booking.status in (BookingStatus.ATTENDED.value, BookingStatus.NO_SHOW.value)
        return Answer(Result.ALREADY if recorded else Result.GONE, view, name)
    stage = PathStage.HOSPITATION_ATTENDED if attended else PathStage.HOSPITATION_MISSED
    session.add(PathEvent(person_id=booking.person_id, stage=stage.value, booking_id=booking_id, at=now))
    # The other members' copies of the question, if not yet sent, are answered now.
    await outbox.cancel(session, prefix=key_prefix("booking", booking_id, "after", "attendance"), now=lambda: now)
    if attended:
        await outbox.schedule(
            session, person=member, template=ASK_COMPANY_INTERNSHIP, args={"name": name},
            buttons=[[Button(YES, callback_data=f"bkc:{booking_id}:yes"),
                      Button(NO, callback_data=f"bkc:{booking_id}:no")]],
            key=make_key("booking", booking_id, "after", "company-internship"), now=lambda: now,
        )
    else:
        # Nobody to ask "how was your day" (if the question has not gone out yet).
        await outbox.cancel(session, key=make_key("booking", booking_id, "after", "rating"), now=lambda: now)
    await session.flush()
    return Answer(Result.SAVED, view, name)


# ------------------------------------------------------------------------------ feedback and the match


def _after_start(view: BookingView, now: datetime) -> bool:
    return view.booking.status != BookingStatus.CANCELLED.value and now >= view.slot.starts_at


async def rate(session: AsyncSession, person: Person, booking_id: int, rating: str, *, now: datetime) -> Answer:
    """The participant's "how was it": good, ok or bad."""
    view = await _participant_view(session, person, booking_id)
    if isinstance(view, Answer):
        return view
    if rating not in RATINGS or not _after_start(view, now):
        return Answer(Result.GONE, view)
    booking = await _lock(session, booking_id, now)
    if booking.participant_rating == rating:
        return Answer(Result.UNCHANGED, view)
    booking.participant_rating = rating
    session.add(booking)
    await session.flush()
    return Answer(Result.SAVED, view)


async def participant_internship(
    session: AsyncSession, person: Person, booking_id: int, wants: bool, *, now: datetime, policy: Policy
) -> Answer:
    """Whether the participant would like an internship at the company; a match if the company wants it too."""
    view = await _participant_view(session, person, booking_id)
    if isinstance(view, Answer):
        return view
    if not _after_start(view, now):
        return Answer(Result.GONE, view)
    booking = await _lock(session, booking_id, now)
    if booking.participant_wants_internship is wants:
        return Answer(Result.UNCHANGED, view)
    booking.participant_wants_internship = wants
    session.add(booking)
    return Answer(Result.SAVED, view, match=await _match(session, booking, view, now=now, policy=policy))


async def company_internship(
    session: AsyncSession, member: Person, booking_id: int, offers: bool, *, now: datetime, policy: Policy
) -> Answer:
    """Whether the company would offer the participant an internship (asked once the participant came)."""
    view = await _staff_view(session, member, booking_id)
    if isinstance(view, Answer):
        return view
    name = await _name(session, view)
    booking = await _lock(session, booking_id, now)
    if booking.status != BookingStatus.ATTENDED.value:
        return Answer(Result.GONE, view, name)
    if booking.company_offers_internship is offers:
        return Answer(Result.UNCHANGED, view, name)
    booking.company_offers_internship = offers
    session.add(booking)
    return Answer(Result.SAVED, view, name, match=await _match(session, booking, view, now=now, policy=policy))


async def _match(session: AsyncSession, booking: Booking, view: BookingView, *, now: datetime, policy: Policy) -> bool:
    """Both sides want an internship: one notice to every coordinator and one MATCH on the path, once."""
    await session.flush()
    if not (booking.participant_wants_internship and booking.company_offers_internship):
        return False
    seen = await session.exec(
        select(PathEvent.id).where(PathEvent.booking_id == booking.id, PathEvent.stage == PathStage.MATCH.value)
    )
    if seen.first() is not None:
        return False
    session.add(PathEvent(person_id=booking.person_id, stage=PathStage.MATCH.value, booking_id=booking.id, at=now))
    args = {"name": await _name(session, view), "company": view.company.name,
            "when": local_when(view.slot.starts_at, policy)}
    for coordinator in await coordinators(session):
        await outbox.schedule(session, person=coordinator, template=NOTICE_MATCH, args=args,
                              key=make_key("booking", booking.id, "match", coordinator.id), now=lambda: now)
    await session.flush()
    return True
