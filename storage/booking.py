"""Hospitation slots and bookings, company members, and the stages of a participant's path.

Capacity is enforced by the database: a booking takes a place with one conditional update
(``booked < capacity``) and the check constraint ``booked <= capacity`` holds under any concurrency.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, Text, func, select, text, update
from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.erasure import BEFORE_ERASE
from storage.models import SQLModel  # the shared metadata, with its constraint naming convention
from storage.types import UTCDateTime, utcnow


class HospitationSlot(SQLModel, table=True):
    """A day and time at which an offer takes up to ``capacity`` people; ``booked`` counts active bookings."""

    __tablename__ = "hospitation_slot"
    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="places"),
        Index("ix_hospitation_slot_offer_start", "offer_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    offer_id: int = Field(foreign_key="hospitation_offer.id", ondelete="CASCADE")
    starts_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    capacity: int = Field(default=1)
    booked: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class Booking(SQLModel, table=True):
    """One person's place in one slot. A person holds at most one active booking per slot (unique index)."""

    __tablename__ = "booking"
    __table_args__ = (
        Index(
            "uq_booking_active_slot_person", "slot_id", "person_id", unique=True,
            sqlite_where=text("status = 'booked'"), postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_booking_person_status", "person_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = Field(foreign_key="hospitation_slot.id", ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    status: str = Field(default=BookingStatus.BOOKED.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    #: The participant's answer to the reminder ("coming" / "not_coming"), None before.
    reply: str | None = Field(default=None, max_length=16)
    #: After the day: how it was ("good", "ok", "bad") and whether each side wants an internship.
    participant_rating: str | None = Field(default=None, max_length=8)
    participant_wants_internship: bool | None = Field(default=None)
    company_offers_internship: bool | None = Field(default=None)
    #: A message to the coordinators when the person cancelled too late to cancel themselves.
    late_cancel_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CompanyMember(SQLModel, table=True):
    """A person who acts for a company in the bot (the company's contact for hospitations, HR, trainer…)."""

    __tablename__ = "company_member"
    __table_args__ = (Index("uq_company_member_person_company", "person_id", "company_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    company_id: int = Field(foreign_key="company.id", ondelete="CASCADE", index=True)
    role: str = Field(default="contact", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PathStage(StrEnum):
    HOSPITATION_BOOKED = "hospitation_booked"
    HOSPITATION_ATTENDED = "hospitation_attended"
    HOSPITATION_MISSED = "hospitation_missed"
    MATCH = "match"  # both sides want an internship after a hospitation
    CALL_REQUESTED = "call_requested"


class PathEvent(SQLModel, table=True):
    """A dated stage of a participant's path to an apprenticeship or a job (the programme's 75 % target)."""

    __tablename__ = "path_event"
    __table_args__ = (Index("ix_path_event_person_stage", "person_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    stage: str = Field(max_length=32)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", ondelete="SET NULL")
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


async def release_places_of(session: AsyncSession, person_id: int) -> None:
    """Give the places of a person's active bookings back to their slots (before the person is erased)."""
    slot = HospitationSlot.__table__  # type: ignore[attr-defined]
    booking = Booking.__table__  # type: ignore[attr-defined]
    held = (
        select(func.count())
        .where(booking.c.slot_id == slot.c.id, booking.c.person_id == person_id,
               booking.c.status == BookingStatus.BOOKED.value)
        .scalar_subquery()
    )
    await session.exec(update(slot).where(held > 0).values(booked=slot.c.booked - held))


BEFORE_ERASE.append(release_places_of)

__all__ = ["Booking", "BookingStatus", "CompanyMember", "HospitationSlot", "PathEvent", "PathStage"]
