"""Booking rules on a real database, both backends: capacity under contention, double taps, overlaps,
the cancelling deadline, and reminders that follow a booking wherever it goes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from dialogs.booking.service import Outcome, Policy, book, cancel, free_days, reschedule, upcoming
from storage.booking import Booking, BookingStatus, CompanyMember, HospitationSlot, PathEvent
from storage.companies import Company, HospitationOffer
from storage.db import create_engine, create_sessionmaker
from storage.models import Person, Role
from storage.outbox import OutboxMessage
from storage.uow import unit_of_work

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday morning
POLICY = Policy(cutoff=timedelta(hours=12))


async def setup(url: str, *, people: int, slots: list[tuple[int, int]]) -> tuple[object, list[int], list[int]]:
    """A company with a contact, one offer, slots as (days from NOW, capacity), and participants."""
    engine = create_engine(url, pool_size=20, max_overflow=10) if url.startswith("postgresql") else create_engine(url)
    sessions = create_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        company = Company(name="Metallbau Demo", town="Westerstede", region="ammerland", languages=["de", "ar"])
        session.add(company)
        await session.flush()
        contact = Person(telegram_user_id=1, chat_id=1, language="de", roles=[Role.COMPANY.value], first_name="Jens")
        coordinator = Person(telegram_user_id=2, chat_id=2, language="de", roles=[Role.COORDINATOR.value])
        session.add_all([contact, coordinator])
        await session.flush()
        session.add(CompanyMember(person_id=contact.id or 0, company_id=company.id or 0))
        offer = HospitationOffer(company_id=company.id or 0, title="Schweißen", field="metal", town="Westerstede",
                                 address="Am Hafen 3, 26655 Westerstede", what_to_bring="Ausweis")
        session.add(offer)
        await session.flush()
        slot_rows = [
            HospitationSlot(offer_id=offer.id or 0, starts_at=NOW + timedelta(days=d, hours=1),
                            ends_at=NOW + timedelta(days=d, hours=5), capacity=c)
            for d, c in slots
        ]
        participants = [
            Person(telegram_user_id=1000 + i, chat_id=1000 + i, language="ar", roles=[Role.PARTICIPANT.value],
                   first_name=f"P{i}")
            for i in range(people)
        ]
        session.add_all([*slot_rows, *participants])
    return engine, [s.id or 0 for s in slot_rows], [p.id or 0 for p in participants]


async def attempt(sessions: object, person_id: int, slot_id: int, now: datetime = NOW) -> Outcome:
    async with unit_of_work(sessions) as session:  # type: ignore[arg-type]
        person = await session.get(Person, person_id)
        assert person is not None
        outcome, _ = await book(session, person, slot_id, now=now, policy=POLICY)
        return outcome


async def test_200_people_at_once_on_12_places(migrated_url: str) -> None:
    engine, slots, people = await setup(migrated_url, people=200, slots=[(3, 3), (4, 3), (5, 3), (6, 3)])
    sessions = create_sessionmaker(engine)  # type: ignore[arg-type]
    try:
        outcomes = await asyncio.gather(*(attempt(sessions, p, slots[i % 4]) for i, p in enumerate(people)))
        assert Counter(outcomes) == {Outcome.BOOKED: 12, Outcome.FULL: 188}
        async with sessions() as session:
            rows = (await session.exec(select(HospitationSlot))).all()
            assert [(s.booked, s.capacity) for s in rows] == [(3, 3)] * 4
            bookings = (await session.exec(select(Booking))).all()
            assert len(bookings) == 12 and len({b.person_id for b in bookings}) == 12
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_a_double_tap_books_once_and_overlaps_are_refused(migrated_url: str) -> None:
    engine, slots, (amira, *_) = await setup(migrated_url, people=1, slots=[(3, 5), (3, 5), (4, 5)])
    sessions = create_sessionmaker(engine)  # type: ignore[arg-type]
    try:
        same = await asyncio.gather(attempt(sessions, amira, slots[0]), attempt(sessions, amira, slots[0]))
        assert sorted(same) == [Outcome.ALREADY, Outcome.BOOKED]
        # The second slot is at the same time on the same day: refused, even tapped at once with a third.
        assert await attempt(sessions, amira, slots[1]) == Outcome.OVERLAP
        assert await attempt(sessions, amira, slots[2]) == Outcome.BOOKED
        async with sessions() as session:
            assert [s.booked for s in (await session.exec(select(HospitationSlot).order_by(col(HospitationSlot.id)))).all()] == [1, 0, 1]
            events = (await session.exec(select(PathEvent))).all()
            assert [e.stage for e in events] == ["hospitation_booked", "hospitation_booked"]
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_booking_closes_before_the_start(migrated_url: str) -> None:
    engine, slots, (amira, *_) = await setup(migrated_url, people=1, slots=[(0, 5)])  # starts in one hour
    sessions = create_sessionmaker(engine)  # type: ignore[arg-type]
    try:
        assert await attempt(sessions, amira, slots[0]) == Outcome.CLOSED
        assert await attempt(sessions, amira, 999_999) == Outcome.GONE
        async with sessions() as session:
            assert await free_days(session, 1, now=NOW, policy=POLICY) == {}
            assert await free_days(session, 1, now=NOW - timedelta(days=1), policy=POLICY) == {
                (NOW + timedelta(hours=1)).date(): 5
            }
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def reminders(sessions: object) -> list[tuple[str, datetime]]:
    async with sessions() as session:  # type: ignore[operator]
        rows = (await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key).contains(":reminder:"),
                                        OutboxMessage.status == "pending")
        )).all()
        return sorted((r.idempotency_key, r.due_at) for r in rows)


async def test_reminders_follow_book_reschedule_cancel(migrated_url: str) -> None:
    engine, slots, (amira, *_) = await setup(migrated_url, people=1, slots=[(3, 2), (5, 2)])
    sessions = create_sessionmaker(engine)  # type: ignore[arg-type]
    try:
        async with unit_of_work(sessions) as session:
            person = await session.get(Person, amira)
            assert person is not None
            outcome, first = await book(session, person, slots[0], now=NOW, policy=POLICY)
        assert outcome is Outcome.BOOKED and first is not None
        start = NOW + timedelta(days=3, hours=1)
        assert await reminders(sessions) == [
            (f"booking:{first.id}:reminder:24h", start - timedelta(hours=24)),
            (f"booking:{first.id}:reminder:2h", start - timedelta(hours=2)),
        ]
        async with unit_of_work(sessions) as session:
            person = await session.get(Person, amira)
            assert person is not None
            outcome, second = await reschedule(session, person, first.id or 0, slots[1], now=NOW, policy=POLICY)
        assert outcome is Outcome.BOOKED and second is not None
        later = NOW + timedelta(days=5, hours=1)
        assert await reminders(sessions) == [
            (f"booking:{second.id}:reminder:24h", later - timedelta(hours=24)),
            (f"booking:{second.id}:reminder:2h", later - timedelta(hours=2)),
        ]
        async with unit_of_work(sessions) as session:
            person = await session.get(Person, amira)
            assert person is not None
            assert [v.booking.id for v in await upcoming(session, person, now=NOW)] == [second.id]
            assert await cancel(session, person, second.id or 0, now=NOW, policy=POLICY) is Outcome.CANCELLED
            assert await cancel(session, person, second.id or 0, now=NOW, policy=POLICY) is Outcome.GONE  # double tap
        assert await reminders(sessions) == []
        async with sessions() as session:
            assert [s.booked for s in (await session.exec(select(HospitationSlot))).all()] == [0, 0]
            assert {b.status for b in (await session.exec(select(Booking))).all()} == {BookingStatus.CANCELLED.value}
            notices = (await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.template).is_not(None),
                                            col(OutboxMessage.idempotency_key).contains(":booked:"))
            )).all()
            assert {n.person_id for n in notices} >= {1, 2}  # the company's contact and the coordinator
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_too_late_to_cancel_tells_the_coordinators_and_keeps_the_place(migrated_url: str) -> None:
    engine, slots, (amira, *_) = await setup(migrated_url, people=1, slots=[(1, 2)])
    sessions = create_sessionmaker(engine)  # type: ignore[arg-type]
    try:
        assert await attempt(sessions, amira, slots[0]) == Outcome.BOOKED
        late = NOW + timedelta(days=1) - timedelta(hours=2)  # two hours before the start, past the 12 h cutoff
        async with unit_of_work(sessions) as session:
            person = await session.get(Person, amira)
            assert person is not None
            (view,) = await upcoming(session, person, now=late)
            assert await cancel(session, person, view.booking.id or 0, now=late, policy=POLICY) is Outcome.TOO_LATE
        async with sessions() as session:
            assert (await session.exec(select(HospitationSlot))).one().booked == 1
            notes = (await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.idempotency_key).contains("late-cancel"))
            )).all()
            assert [n.person_id for n in notes] == [2]  # the coordinator (person 2), not the company
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def test_erasing_a_person_gives_their_place_back(migrated_url: str) -> None:
    from dialogs.privacy.service import ErasureReason, erase_person

    engine, slots, (amira, *_) = await setup(migrated_url, people=1, slots=[(3, 1)])
    sessions = create_sessionmaker(engine)  # type: ignore[arg-type]
    try:
        assert await attempt(sessions, amira, slots[0]) == Outcome.BOOKED
        async with unit_of_work(sessions) as session:
            person = await session.get(Person, amira)
            assert person is not None
            await erase_person(session, person, ErasureReason.REQUEST)
        async with sessions() as session:
            assert (await session.exec(select(HospitationSlot))).one().booked == 0
            assert (await session.exec(select(Booking))).all() == []
    finally:
        await engine.dispose()  # type: ignore[attr-defined]
