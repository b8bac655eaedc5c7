"""Hospitation booking as participants use it, through the real bot polling the emulator: offers with their
reasons, an offer's details, the calendar, a time, the booking with its calendar file and reminders, changing
the day, cancelling; a place taken by someone else first; the calendar in Arabic; asking for a call."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from babel.dates import format_date, format_time, get_day_names
from icalendar import Calendar
from sqlmodel import col, select

from dialogs.booking import flow
from dialogs.booking.service import NOTICE_CALL, map_link, request_call
from dialogs.check import Question, load_content, score
from dialogs.check.content import parse_content
from dialogs.check.service import reason_lines
from dialogs.privacy.service import PRIVACY_VERSION, Purpose
from dialogs.text import strip_isolates
from dialogs.widgets import STALE
from emulator import ScriptedUser
from emulator.users import TINY_JPEG
from storage.booking import Booking, HospitationSlot, PathEvent
from storage.check import Assessment, AssessmentStatus
from storage.companies import Company, HospitationOffer
from storage.db import create_engine, create_sessionmaker
from storage.models import ConsentRecord, ParticipantProfile, Person
from storage.outbox import OutboxMessage
from storage.types import utcnow
from storage.uow import unit_of_work
from tests.harness import Harness, running_bot
from tests.onboard import say, step, tap_data, translator

CONTENT = load_content()
BERLIN = ZoneInfo("Europe/Berlin")


def welder(q: Question) -> Any:
    """A participant who welded a lot, goes by bus, speaks Arabic; the first option elsewhere."""
    wanted: dict[str, Any] = {
        "interest.machines": "like",
        "metal.worked": "a_lot",
        "metal.years": "y1_3",
        "lang.spoken": ["ar", "en"],
        "work.licence": ["B"],
        "work.transport": "public",
        "work.shifts": "yes",
    }
    if q.id in wanted:
        return wanted[q.id]
    if q.section == "details":
        return "often"
    if q.section == "interests":
        return "dislike"
    return [q.options[0].id] if q.kind == "multi" else q.options[0].id


def no_field(q: Question) -> Any:
    """Nothing done, nothing liked: no clear field."""
    if q.section == "interests":
        return "dislike"
    return [q.options[0].id] if q.kind == "multi" else q.options[0].id


def answers_by(plan: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    while (q := CONTENT.next_question(answers)) is not None:
        answers[q.id] = plan(q)
    return answers


def berlin(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BERLIN).astimezone(ZoneInfo("UTC"))


async def participant(h: Harness, tg_id: int, language: str, plan: Any = welder, *, name: str = "Amal") -> int:
    """A person who finished the registration (all consents given) and the check."""
    now = utcnow()
    answers = answers_by(plan)
    async with unit_of_work(h.rt.sessionmaker) as session:
        person = Person(telegram_user_id=tg_id, chat_id=tg_id, language=language, roles=["participant"],
                        first_name=name)
        session.add(person)
        await session.flush()
        assert person.id is not None
        for purpose in Purpose:
            session.add(ConsentRecord(person_id=person.id, purpose=purpose.value, version=PRIVACY_VERSION,
                                      accepted=True))
        session.add(ParticipantProfile(person_id=person.id, region="ammerland", german_level="A2",
                                       phone="+4917612345678", registered_at=now))
        session.add(Assessment(
            person_id=person.id, content_id=CONTENT.id, content_version=CONTENT.version, answers=answers,
            status=AssessmentStatus.COMPLETED.value, profile=score(answers, CONTENT, german_level="A2").to_dict(),
            started_at=now, updated_at=now, completed_at=now,
        ))
        return person.id


async def seed_offer(h: Harness, slots: list[tuple[date, int, int, int]]) -> tuple[int, list[int]]:
    """A metal workshop near the participant, with everything needed to show up, and its slots
    (day, from hour, to hour, places); plus an offer in a field nobody here fits, which must not show."""
    async with unit_of_work(h.rt.sessionmaker) as session:
        company = Company(name="Metallbau Weser GmbH", town="Westerstede", region="ammerland", languages=["de", "ar"])
        other = Company(name="Pflegedienst Nord", town="Oldenburg", region="stadt_oldenburg", languages=["de"])
        session.add_all([company, other])
        await session.flush()
        offer = HospitationOffer(
            company_id=company.id or 0, title="Metallbauer/in", field="metal", town="Westerstede",
            address="Industriestraße 5, 26655 Westerstede", meeting_point="Pforte, Halle 2",
            contact_name="Frau Meyer", what_to_bring="Ausweis, Brotdose", clothing="Sicherheitsschuhe (S3)",
            reachable_by=["public", "bicycle"], transit_minutes=25, duration_hours=6, photo="img/workplace.jpg",
        )
        care = HospitationOffer(company_id=other.id or 0, title="Pflegehelfer/in", field="care", town="Oldenburg")
        session.add_all([offer, care])
        await session.flush()
        rows = [
            HospitationSlot(offer_id=offer.id or 0, starts_at=berlin(day, start), ends_at=berlin(day, end),
                            capacity=places)
            for day, start, end, places in slots
        ]
        session.add_all(rows)
        await session.flush()
        return offer.id or 0, [s.id or 0 for s in rows]


def text_of(user: ScriptedUser) -> str:
    return strip_isolates(user.last.text)


def dialog_message(user: ScriptedUser) -> Any:
    """The newest message with buttons (a calendar file may have come below it)."""
    return next(m for m in reversed(user.messages) if m.buttons)


async def press(user: ScriptedUser, label: str) -> None:
    message = dialog_message(user)
    data = message.data_for(label)
    assert data is not None, f"no button {label!r}: {message.buttons}"
    user.take_new()
    await user.press_data(data, message.message_id)
    await user.settled(timeout=30)


async def press_day(user: ScriptedUser, day: date) -> None:
    """Press a free day in the calendar, turning to its month first if needed."""
    for _ in range(3):
        if dialog_message(user).data_for(f"✅{day.day}") is not None:
            await press(user, f"✅{day.day}")
            return
        await press(user, next(b for b in dialog_message(user).flat_buttons if b.endswith(" ▶️")))
    raise AssertionError(f"{day} not in the calendar: {dialog_message(user).buttons}")


async def pending(h: Harness, prefix: str) -> list[OutboxMessage]:
    async with h.rt.sessionmaker() as session:
        rows = await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key).startswith(prefix),
                                        OutboxMessage.status == "pending")
        )
        return list(rows.all())


async def bookings_of(h: Harness, person_id: int) -> list[Booking]:
    async with h.rt.sessionmaker() as session:
        rows = await session.exec(select(Booking).where(Booking.person_id == person_id).order_by(col(Booking.id)))
        return list(rows.all())


def ics_event(user: ScriptedUser) -> Any:
    document = next(m for m in reversed(user.messages) if m.file_name and m.file_name.endswith(".ics"))
    calendar = Calendar.from_ical(document.document_bytes or b"")
    (event,) = calendar.walk("VEVENT")
    return event


def soon(days: int) -> date:
    return datetime.now(BERLIN).date() + timedelta(days=days)


async def test_offers_book_change_and_cancel_through_the_bot(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "workplace.jpg").write_bytes(TINY_JPEG)
    first_day, second_day = soon(3), soon(35)  # the change turns the calendar to a later month
    async with running_bot(sqlite_url) as h:
        h.rt.dp["check_content"] = parse_content(CONTENT.model_dump(exclude={"base_dir"}), base_dir=tmp_path)
        i18n: I18n = h.rt.dp["i18n"]
        t = translator(i18n, "de")
        person_id = await participant(h, 9101, "de")
        _offer, (first_slot, second_slot) = await seed_offer(h, [(first_day, 8, 14, 2), (second_day, 9, 15, 2)])
        user = h.emu.user(9101, "Amal", language_code="de")

        # The check's result leads on to the offers, each with its reasons in plain words.
        await say(user, "/check")
        await step(user, t("🏭 See offers"))
        text = text_of(user)
        async with h.rt.sessionmaker() as session:
            run = (await session.exec(select(Assessment).where(Assessment.person_id == person_id))).one()
        profile = score(run.answers, CONTENT, german_level="A2")
        assert "Metallbauer/in" in text and "Metallbau Weser GmbH · Westerstede" in text
        assert reason_lines(profile, "metal", CONTENT, t)[0] in text  # what they have done, their own words
        assert t(flow.BY_BUS_MINUTES).format(minutes=25) in text
        assert t(flow.STAFF_SPEAK).format(languages="العربية") in text
        assert t(flow.REASONS["region"]) in text
        assert "Pflegehelfer/in" not in text  # a field with no experience nor interest is not offered

        # The details: everything needed to show up, the workplace photo, a map.
        await press(user, "1. Metallbauer/in · Metallbau Weser GmbH")
        details = user.last
        assert details.kind == "photo"
        shown = strip_isolates(details.text)
        for part in ("Industriestraße 5, 26655 Westerstede", map_link("Industriestraße 5, 26655 Westerstede"),
                     "Pforte, Halle 2", "Frau Meyer", "Ausweis, Brotdose", "Sicherheitsschuhe (S3)", "العربية"):
            assert part in shown, part
        assert t(flow.DURATION).format(hours="6") in shown

        # The calendar: free days marked, month and weekday names in German.
        await press(user, t(flow.BOOK_A_DAY))
        calendar = dialog_message(user)
        assert t(flow.CHOOSE_DAY) in strip_isolates(calendar.text)
        assert f"🗓 {format_date(first_day, 'LLLL y', locale='de')}" in calendar.flat_buttons
        assert "Mo." in calendar.flat_buttons and f"✅{first_day.day}" in calendar.flat_buttons
        await press_day(user, first_day)
        times = dialog_message(user)
        assert "🕘 08:00 – 14:00 · 👥 2" in times.flat_buttons
        await press(user, "🕘 08:00 – 14:00 · 👥 2")
        confirm = strip_isolates(dialog_message(user).text)
        assert format_date(first_day, "long", locale="de") in confirm and "08:00 – 14:00" in confirm
        assert "Industriestraße 5" in confirm and "Ausweis, Brotdose" in confirm

        await press(user, t(flow.BOOK))
        booked = strip_isolates(dialog_message(user).text)
        assert t(flow.BOOKED_TEXT) in booked and "Industriestraße 5" in booked and t(flow.REMINDERS) in booked
        event = ics_event(user)
        assert event.decoded("dtstart") == berlin(first_day, 8) and event.decoded("dtstart").utcoffset() == timedelta(0)
        assert "Industriestraße 5" in str(event.get("location"))
        (booking,) = await bookings_of(h, person_id)
        assert booking.slot_id == first_slot and booking.status == "booked"
        reminders = await pending(h, f"booking:{booking.id}:reminder:")
        assert sorted(r.due_at for r in reminders) == [berlin(first_day, 8) - timedelta(hours=24),
                                                       berlin(first_day, 8) - timedelta(hours=2)]

        # My appointments → change the day: the calendar of the same offer, a new time, the reminders move.
        await press(user, t(flow.MY_APPOINTMENTS))
        mine = dialog_message(user)
        assert "Metallbau Weser GmbH: Metallbauer/in" in strip_isolates(mine.text)
        await press(user, next(b for b in mine.flat_buttons if b.startswith("1. 📅")))
        await press(user, t(flow.CHANGE_DAY))
        await press_day(user, second_day)
        await press(user, "🕘 09:00 – 15:00 · 👥 2")
        await press(user, t(flow.CHANGE_TO))
        assert t(flow.CHANGED_TEXT) in strip_isolates(dialog_message(user).text)
        assert ics_event(user).decoded("dtstart") == berlin(second_day, 9)
        old, new = await bookings_of(h, person_id)
        assert (old.status, new.status, new.slot_id) == ("cancelled", "booked", second_slot)
        assert await pending(h, f"booking:{old.id}:") == []
        assert sorted(r.due_at for r in await pending(h, f"booking:{new.id}:reminder:")) == [
            berlin(second_day, 9) - timedelta(hours=24), berlin(second_day, 9) - timedelta(hours=2)]

        # Cancel, after a confirmation; the reminders go with it; the old confirm button then does nothing.
        await press(user, t(flow.MY_APPOINTMENTS))
        await press(user, next(b for b in dialog_message(user).flat_buttons if b.startswith("1. 📅")))
        await press(user, t(flow.CANCEL_DAY))
        assert t(flow.CANCEL_QUESTION) in strip_isolates(dialog_message(user).text)
        question = dialog_message(user)
        yes = question.data_for(t(flow.YES_CANCEL))
        await press(user, t(flow.YES_CANCEL))
        after = strip_isolates(dialog_message(user).text)
        assert t(flow.CANCELLED) in after and t(flow.NO_APPOINTMENTS) in after
        (_old, new) = await bookings_of(h, person_id)
        assert new.status == "cancelled"
        assert await pending(h, f"booking:{new.id}:reminder:") == []
        assert await tap_data(user, yes, question.message_id) == t(STALE)
        async with h.rt.sessionmaker() as session:
            slots = (await session.exec(select(HospitationSlot).order_by(col(HospitationSlot.id)))).all()
        assert [s.booked for s in slots] == [0, 0]


async def test_a_full_time_in_arabic_and_a_call_for_someone_without_a_fitting_offer(sqlite_url: str) -> None:
    day = soon(4)
    async with running_bot(sqlite_url) as h:
        i18n: I18n = h.rt.dp["i18n"]
        de, ar = translator(i18n, "de"), translator(i18n, "ar")
        await participant(h, 9201, "de", name="Amal")
        arabic_id = await participant(h, 9202, "ar", name="Samir")
        nobody_id = await participant(h, 9203, "ar", no_field, name="Lina")
        async with unit_of_work(h.rt.sessionmaker) as session:
            coordinator = Person(telegram_user_id=9299, chat_id=9299, language="de", roles=["coordinator"],
                                 first_name="Jana")
            session.add(coordinator)
        await seed_offer(h, [(day, 10, 16, 1)])
        amal = h.emu.user(9201, "Amal", language_code="de")
        samir = h.emu.user(9202, "Samir", language_code="ar")

        async def to_confirm(user: ScriptedUser, t: Any, locale: str) -> None:
            await say(user, "/menu")
            await step(user, t("🏭 Offers for me"))
            await press(user, "1. Metallbauer/in · Metallbau Weser GmbH")
            await press(user, t(flow.BOOK_A_DAY))
            buttons = dialog_message(user).flat_buttons
            assert f"🗓 {format_date(day, 'LLLL y', locale=locale)}" in buttons
            assert get_day_names("short", context="stand-alone", locale=locale)[0] in buttons  # Monday
            await press(user, f"✅{day.day}")
            start = format_time(berlin(day, 10), "short", tzinfo=BERLIN, locale=locale)
            end = format_time(berlin(day, 16), "short", tzinfo=BERLIN, locale=locale)
            await press(user, f"🕘 {start} – {end} · 👥 1")

        await to_confirm(amal, de, "de")
        await to_confirm(samir, ar, "ar")
        await press(amal, de(flow.BOOK))
        assert de(flow.BOOKED_TEXT) in strip_isolates(dialog_message(amal).text)
        await press(samir, ar(flow.BOOK))  # the one place went to Amal a moment ago
        full = strip_isolates(dialog_message(samir).text)
        assert ar(flow.FULL) in full
        assert await bookings_of(h, arabic_id) == []

        # No clear field: what happens next, and a call the coordinators get as a task (once a day).
        lina = h.emu.user(9203, "Lina", language_code="ar")
        await say(lina, "/menu")
        await step(lina, ar("🏭 Offers for me"))
        shown = strip_isolates(dialog_message(lina).text)
        assert ar(flow.NO_FIELD) in shown and ar(flow.TEAM_WILL_CALL) in shown
        await press(lina, ar(flow.ASK_CALL))
        await press(lina, ar(flow.ASK_CALL))
        assert ar(flow.CALL_ASKED) in strip_isolates(dialog_message(lina).text)
        async with h.rt.sessionmaker() as session:
            calls = (await session.exec(select(OutboxMessage).where(OutboxMessage.template == NOTICE_CALL))).all()
            events = (await session.exec(select(PathEvent).where(PathEvent.person_id == nobody_id))).all()
        (call,) = calls
        assert call.person_id == coordinator.id and call.args is not None
        assert call.args["phone"] == "+4917612345678" and call.args["name"].startswith("Lina")
        assert call.args["language"] == "العربية"
        assert [e.stage for e in events] == ["call_requested"]


async def test_asking_for_a_call_reaches_every_coordinator_once_a_day_with_the_phone_only_by_consent(
    migrated_url: str,
) -> None:
    engine = create_engine(migrated_url)
    sessions = create_sessionmaker(engine)
    late = datetime(2026, 12, 7, 23, 30, tzinfo=ZoneInfo("UTC"))  # Monday in UTC, Tuesday 00:30 in Berlin
    try:
        async with unit_of_work(sessions) as session:
            people = [Person(telegram_user_id=i, chat_id=i, language="fa", roles=["participant"], first_name=n)
                      for i, n in ((1, "Reza"), (2, "Mina"))]
            staff = [Person(telegram_user_id=i, chat_id=i, language="de", roles=["coordinator"]) for i in (8, 9)]
            session.add_all([*people, *staff])
            await session.flush()
            for person, contact in zip(people, (True, False), strict=True):
                session.add(ParticipantProfile(person_id=person.id or 0, region="ammerland", phone="+4915112345678"))
                session.add(ConsentRecord(person_id=person.id or 0, purpose=Purpose.CONTACT.value,
                                          version=PRIVACY_VERSION, accepted=contact))
        async with unit_of_work(sessions) as session:
            reza, mina = [await session.get(Person, p.id) for p in people]
            assert reza is not None and mina is not None
            assert await request_call(session, reza, now=late) is True
            # A new day in UTC, the same Tuesday in Berlin: already asked today.
            assert await request_call(session, reza, now=late + timedelta(minutes=40)) is False
            assert await request_call(session, mina, now=late) is True
            assert await request_call(session, reza, now=late + timedelta(hours=24)) is True  # Wednesday
        async with sessions() as session:
            rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
            events = (await session.exec(select(PathEvent))).all()
        assert [(r.person_id, r.args and r.args["phone"]) for r in rows] == [
            (staff[0].id, "+4915112345678"), (staff[1].id, "+4915112345678"),  # Reza agreed to be contacted
            (staff[0].id, "—"), (staff[1].id, "—"),  # Mina did not: no phone number
            (staff[0].id, "+4915112345678"), (staff[1].id, "+4915112345678"),  # Reza again, the next day
        ]
        assert all(r.template == NOTICE_CALL and r.args and r.args["language"] == "فارسی" for r in rows)
        assert len(events) == 3
    finally:
        await engine.dispose()
