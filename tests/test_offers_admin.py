"""Offers and days for coordinators and company staff: through the real bot, and the rules on both databases.

A coordinator creates a company, an offer and three weekly days in the dialog; a member of another company
sees none of it and cannot reach it with forged buttons; a day someone booked cannot be deleted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram_dialog.widgets.kbd.calendar_kbd import raw_from_date
from babel.dates import format_date
from sqlmodel import col, select

from dialogs.booking.service import Outcome, Policy, book
from dialogs.errors import InvalidAnswer
from dialogs.offers import service
from dialogs.offers.service import Deletion, NotAllowed, OfferDraft
from dialogs.text import strip_isolates
from emulator import ScriptedUser
from storage.booking import HospitationSlot
from storage.companies import Company, HospitationOffer
from storage.db import create_engine, create_sessionmaker
from storage.models import Person, Role
from storage.uow import unit_of_work
from tests.harness import Harness, running_bot
from tests.onboard import say, step, tap_data

COORDINATOR, STAFF_B, PARTICIPANT = 7101, 7102, 7103
BERLIN = ZoneInfo("Europe/Berlin")
NOT_FOR_YOU = "🚫 This is not available for you."
FIELDS = ("wood", "metal", "logistics")


async def seed_company_b(h: Harness) -> tuple[int, int, int]:
    """Company B with its own member (English), an offer and one day; returns (company, offer, slot) ids."""
    async with unit_of_work(h.rt.sessionmaker) as session:
        company = Company(name="Metallbau Nord", town="Hude", region="landkreis_oldenburg", languages=["de"])
        staff = Person(telegram_user_id=STAFF_B, chat_id=STAFF_B, language="en", first_name="Birte")
        session.add_all([company, staff])
        await session.flush()
        await service.add_member(session, staff, company.id or 0)
        offer = HospitationOffer(company_id=company.id or 0, title="Schweißen", field="metal", town="Hude",
                                 address="Am Deich 1, 27798 Hude")
        session.add(offer)
        await session.flush()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
        slot = HospitationSlot(offer_id=offer.id or 0, starts_at=start, ends_at=start + timedelta(hours=4), capacity=2)
        session.add(slot)
        await session.flush()
        return company.id or 0, offer.id or 0, slot.id or 0


def forged(data: str | None, item_id: int) -> str:
    """The callback data of a real button of a Select, naming another item."""
    assert data is not None
    return f"{data.rsplit(':', 1)[0]}:{item_id}"


async def pick_day(user: ScriptedUser, day: date) -> None:
    """Press ``day`` in the calendar window (the next month first, if it is there)."""
    if day.month != datetime.now(BERLIN).month:
        await step(user, f"{format_date(day, 'LLLL', locale='en')} »")
    window = user.last
    wanted = f":{raw_from_date(day)}"
    data = next(d for row in window.button_data for d in row if d and d.endswith(wanted))
    user.take_new()
    await user.press_data(data, window.message_id)
    await user.settled()
    assert user.take_new()


async def test_a_coordinator_creates_a_company_an_offer_and_weekly_days_others_cannot_touch(sqlite_url: str) -> None:
    async with running_bot(sqlite_url, coordinator_ids=str(COORDINATOR)) as h:
        company_b, offer_b, slot_b = await seed_company_b(h)
        kim = h.emu.user(COORDINATOR, "Kim", language_code="en")
        await say(kim, "/start")
        await step(kim, "English")
        await step(kim, "🏭 Offers and days")
        assert "Metallbau Nord" in kim.last.text + " ".join(kim.last.flat_buttons)

        await step(kim, "➕ New company")
        await say(kim, "Tischlerei Sonne")
        await say(kim, "Westerstede")
        await step(kim, "🌳 Ammerland")
        assert strip_isolates(kim.last.text).startswith("🏭 Tischlerei Sonne · Westerstede")
        await step(kim, "➕ New offer")
        await say(kim, "Tischlerei: Möbel bauen")
        await step(kim, "🪚 Wood")
        await say(kim, "Sonnenweg 4, 26655 Westerstede")
        await say(kim, "Werkstatt, Halle 2")
        await say(kim, "Jens")
        await step(kim, "⏭️ Skip")  # what to bring
        await say(kim, "Sicherheitsschuhe")
        await step(kim, "⬜ 🚌 By bus or train")
        await step(kim, "⬜ 🚲 By bicycle")
        await step(kim, "✔️ Done")
        await step(kim, "❌ No")  # shifts
        await step(kim, "✅ Yes")  # heavy work
        await step(kim, "⬜ 🏗️ Forklift permit")
        await step(kim, "✔️ Done")
        await step(kim, "6 h")
        offer_window = strip_isolates(kim.last.text)
        assert "📍 Sonnenweg 4, 26655 Westerstede" in offer_window and "No days yet" in offer_window

        await step(kim, "➕ Add days")
        first = datetime.now(BERLIN).date() + timedelta(days=10)
        await pick_day(kim, first)
        await step(kim, "08:00")
        await step(kim, "12:00")
        await step(kim, "2")
        await step(kim, "+2")  # this day and two more weeks
        window = strip_isolates(kim.last.text)
        assert window.count("08:00–12:00 · 0/2") == 3, window

        async with h.rt.sessionmaker() as session:
            company = (await session.exec(select(Company).where(Company.name == "Tischlerei Sonne"))).one()
            offer = (await session.exec(select(HospitationOffer).where(HospitationOffer.company_id == company.id))).one()
            assert (company.town, company.region) == ("Westerstede", "ammerland")
            assert (offer.title, offer.field, offer.meeting_point, offer.contact_name, offer.what_to_bring) == (
                "Tischlerei: Möbel bauen", "wood", "Werkstatt, Halle 2", "Jens", None)
            assert (offer.clothing, offer.reachable_by, offer.shifts, offer.heavy_work, offer.licences) == (
                "Sicherheitsschuhe", ["public", "bicycle"], False, True, ["forklift"])
            assert offer.duration_hours == 6 and offer.active
            slots = (await session.exec(select(HospitationSlot).where(HospitationSlot.offer_id == offer.id)
                                        .order_by(col(HospitationSlot.starts_at)))).all()
            assert [(s.starts_at.astimezone(BERLIN).date(), s.starts_at.astimezone(BERLIN).time(),
                     s.ends_at.astimezone(BERLIN).time(), s.capacity, s.booked) for s in slots] == [
                (first + timedelta(weeks=k), time(8), time(12), 2, 0) for k in range(3)]
            company_a, offer_a, slot_a = company.id or 0, offer.id or 0, slots[0].id or 0

        # A member of company B sees only B; forged buttons naming A's company, offer or day change nothing.
        birte = h.emu.user(STAFF_B, "Birte", language_code="en")
        await say(birte, "/start")
        await step(birte, "🏭 Offers and days")
        companies = birte.last
        assert companies.flat_buttons[0].startswith("🏭 Metallbau Nord") and "Tischlerei Sonne" not in str(companies)
        assert await tap_data(birte, forged(companies.button_data[0][0], company_a), companies.message_id) == NOT_FOR_YOU
        await step(birte, companies.flat_buttons[0])
        offers = birte.last
        assert "Tischlerei" not in strip_isolates(offers.text) + str(offers.flat_buttons)
        assert await tap_data(birte, forged(offers.button_data[0][0], offer_a), offers.message_id) == NOT_FOR_YOU
        await step(birte, offers.flat_buttons[0])
        await step(birte, "🗑️ Delete a day")
        days = birte.last
        assert await tap_data(birte, forged(days.button_data[0][0], slot_a), days.message_id) == NOT_FOR_YOU
        assert birte.last.text == days.text  # still B's own list

        # A participant cannot open it at all.
        amira = h.emu.user(PARTICIPANT, "Amira", language_code="en")
        await say(amira, "/start")
        await step(amira, "English")
        assert await tap_data(amira, "menu:offers_admin") == NOT_FOR_YOU

        async with h.rt.sessionmaker() as session:
            assert len((await session.exec(select(HospitationSlot).where(HospitationSlot.offer_id == offer_a))).all()) == 3
            offer = await session.get(HospitationOffer, offer_a)
            assert offer is not None and offer.active and offer.company_id == company_a
            assert (await session.get(HospitationSlot, slot_b)) is not None  # B's own day is B's to delete
            assert company_b and offer_b


# ------------------------------------------------------------------------------------------ the rules


async def _people(session: object) -> tuple[Person, Person, Person]:
    coordinator = Person(telegram_user_id=1, chat_id=1, language="de", roles=[Role.COORDINATOR.value])
    staff = Person(telegram_user_id=2, chat_id=2, language="de", roles=[])
    participant = Person(telegram_user_id=3, chat_id=3, language="ar", roles=[Role.PARTICIPANT.value], first_name="Amal")
    session.add_all([coordinator, staff, participant])  # type: ignore[attr-defined]
    await session.flush()  # type: ignore[attr-defined]
    return coordinator, staff, participant


async def test_staff_act_for_their_own_company_and_a_booked_day_stays(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    sessions = create_sessionmaker(engine)
    now = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)  # a Monday; Berlin leaves summer time on 25 October
    try:
        async with unit_of_work(sessions) as session:
            coordinator, staff, participant = await _people(session)
            mine = await service.create_company(session, coordinator, name="Holz Süd", town="Edewecht", region="ammerland")
            other = await service.create_company(session, coordinator, name="Käse West", town="Wiefelstede",
                                                 region="ammerland")
            with pytest.raises(InvalidAnswer):
                await service.create_company(session, coordinator, name="holz süd", town="X", region="ammerland")
            with pytest.raises(NotAllowed):  # not yet a member: not even of "mine"
                await service.create_offer(session, staff, mine.id or 0, OfferDraft("T", "wood", "A 1"), fields=FIELDS)
            await service.add_member(session, staff, mine.id or 0)
            assert staff.has_role(Role.COMPANY)
            with pytest.raises(NotAllowed):  # company staff do not create companies
                await service.create_company(session, staff, name="Neu", town="Hude", region="ammerland")
            offer = await service.create_offer(session, staff, mine.id or 0, OfferDraft("Möbel", "wood", "Weg 1"),
                                               fields=FIELDS)
            theirs = await service.create_offer(session, coordinator, other.id or 0,
                                                OfferDraft("Käse", "food", "Weg 2"), fields=("food",))
            assert [c.name for c in await service.companies_for(session, staff)] == ["Holz Süd"]
            assert await service.get_offer(session, staff, theirs.id or 0) is None
            with pytest.raises(NotAllowed):
                await service.add_slots(session, staff, theirs.id or 0, day=date(2026, 10, 19), start=time(8),
                                        end=time(12), capacity=1, now=now, timezone="Europe/Berlin")
            with pytest.raises(NotAllowed):
                await service.deactivate_offer(session, staff, theirs.id or 0)

            # Weekly days keep their local time across the change from summer time.
            added = await service.add_slots(session, staff, offer.id or 0, day=date(2026, 10, 19), start=time(8),
                                            end=time(12), capacity=2, weeks=2, now=now, timezone="Europe/Berlin")
            assert [s.starts_at.astimezone(UTC).hour for s in added] == [6, 7, 7]
            again = await service.add_slots(session, staff, offer.id or 0, day=date(2026, 10, 19), start=time(8),
                                            end=time(12), capacity=2, weeks=3, now=now, timezone="Europe/Berlin")
            assert len(again) == 1  # only the fourth week is new
            with pytest.raises(InvalidAnswer):
                await service.add_slots(session, staff, offer.id or 0, day=date(2026, 10, 19), start=time(12),
                                        end=time(8), capacity=2, now=now, timezone="Europe/Berlin")
            with pytest.raises(InvalidAnswer):
                await service.add_slots(session, staff, offer.id or 0, day=date(2026, 10, 12), start=time(8),
                                        end=time(12), capacity=2, now=now, timezone="Europe/Berlin")
            booked_day, free_day = added[0].id or 0, added[1].id or 0
            theirs_day = (await service.add_slots(session, coordinator, theirs.id or 0, day=date(2026, 10, 20),
                                                  start=time(9), end=time(13), capacity=1, now=now,
                                                  timezone="Europe/Berlin"))[0].id or 0
            participant_id = participant.id

        async with unit_of_work(sessions) as session:
            amal = await session.get(Person, participant_id)
            assert amal is not None
            outcome, _booking = await book(session, amal, booked_day, now=now, policy=Policy())
            assert outcome is Outcome.BOOKED

        async with unit_of_work(sessions) as session:
            staff = (await session.exec(select(Person).where(Person.telegram_user_id == 2))).one()
            assert await service.delete_slot(session, staff, booked_day) == (Deletion.BOOKED, offer.id)
            assert await service.delete_slot(session, staff, free_day) == (Deletion.DELETED, offer.id)
            assert await service.delete_slot(session, staff, free_day) == (Deletion.GONE, None)
            with pytest.raises(NotAllowed):
                await service.delete_slot(session, staff, theirs_day)
            summary = await service.offers_of(session, staff, offer.company_id, now=now)
            assert [(s.offer.title, s.days, s.booked) for s in summary] == [("Möbel", 3, 1)]
            await service.remove_member(session, staff, offer.company_id)
            assert not staff.has_role(Role.COMPANY)
            assert await service.companies_for(session, staff) == []

        async with sessions() as session:
            assert await session.get(HospitationSlot, booked_day) is not None
            assert await session.get(HospitationSlot, theirs_day) is not None
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("typed", "expected"), [("8", time(8)), ("08:30", time(8, 30)), ("14.15", time(14, 15)),
                                                  ("9 Uhr", time(9)), (" 7h ", time(7))])
def test_typed_times(typed: str, expected: time) -> None:
    assert service.parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["", "25:00", "8:60", "acht", "8:5"])
def test_typed_times_that_are_asked_again(typed: str) -> None:
    with pytest.raises(InvalidAnswer):
        service.parse_time(typed)
