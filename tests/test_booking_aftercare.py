"""Around and after a booked day, through the real bot: the reminder's answer, attendance, feedback, the match.

The bot runs on the real clock; the test books with an explicit ``now`` far enough back that the outbox rows
it wants to see are due at once (e.g. a slot 23 h ahead booked "25 h before its start": the 24 h reminder is
due), then wakes the delivery worker. Two service tests (SQLite and PostgreSQL) race both sides of a booking
against each other, where the bot cannot time them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.booking import aftercare
from dialogs.booking.aftercare import Result
from dialogs.booking.router import (
    ALREADY_CAME,
    ASK_PARTICIPANT_INTERNSHIP,
    CANCELLED_BY_REPLY,
    COMING_NOTED,
    NOT_FOR_YOU,
    OFFERS_INTERNSHIP,
    RECORDED_CAME,
    SAVED,
    TOO_LATE_TO_CANCEL,
    WANTS_INTERNSHIP,
)
from dialogs.booking.service import (
    ASK_ATTENDANCE,
    ASK_COMPANY_INTERNSHIP,
    ASK_RATING,
    CAME,
    COMING,
    NO,
    NOT_COMING,
    NOTICE_LATE_CANCEL,
    NOTICE_MATCH,
    REMINDER_2H,
    REMINDER_24H,
    YES,
    Outcome,
    Policy,
    book,
    free_slots,
)
from dialogs.privacy.service import Purpose, record_consent
from dialogs.text import format_day, format_when, strip_isolates
from emulator import ScriptedUser
from emulator.models import BotMessage
from storage.booking import Booking, BookingStatus, CompanyMember, HospitationSlot, PathEvent, PathStage
from storage.companies import Company, HospitationOffer
from storage.db import create_engine, create_sessionmaker
from storage.models import Person, Role
from storage.outbox import OutboxMessage
from storage.types import utcnow
from storage.uow import unit_of_work
from tests.harness import Harness, running_bot
from tests.onboard import tap_data, translator

PARTICIPANT, MEMBER, MEMBER_2, OTHER_MEMBER, COORDINATOR = 7101, 7102, 7103, 7104, 7105
BERLIN = ZoneInfo("Europe/Berlin")
COMPANY = "Tischlerei Lange"
ADDRESS, MEETING_POINT, BRING = "Hauptstraße 1, 26122 Oldenburg", "Werkstatttor", "Sicherheitsschuhe"
NAME = "Olena"
POLICY = Policy()  # the settings' defaults: 12 h cutoff, Berlin


@dataclass
class World:
    booking_id: int
    slot_id: int
    offer_id: int


def clean(text: str) -> str:
    return strip_isolates(text)


async def make_world(
    sessionmaker: async_sessionmaker[AsyncSession], *, start: datetime, booked_at: datetime, language: str = "uk",
    participant: int = PARTICIPANT,
) -> World:
    """Two companies, members of each, a coordinator, a participant who shares their first name, and their
    booking of one slot (made at ``booked_at``; the booking service schedules the reminders and questions)."""
    async with unit_of_work(sessionmaker) as session:
        company = (await session.exec(select(Company).where(Company.name == COMPANY))).first()
        if company is None:
            company = Company(name=COMPANY, town="Oldenburg", region="stadt_oldenburg", languages=["de"])
            other = Company(name="Gärtnerei Nord", town="Rastede", region="ammerland", languages=["de"])
            session.add_all([company, other])
            await session.flush()
            staff = [
                await person_row(session, tid, language="de", first_name=first, role=role)
                for tid, first, role in ((MEMBER, "Jens", Role.COMPANY), (MEMBER_2, "Anke", Role.COMPANY),
                                         (OTHER_MEMBER, "Tom", Role.COMPANY), (COORDINATOR, "Kim", Role.COORDINATOR))
            ]
            session.add_all([CompanyMember(person_id=staff[0].id or 0, company_id=company.id or 0),
                             CompanyMember(person_id=staff[1].id or 0, company_id=company.id or 0),
                             CompanyMember(person_id=staff[2].id or 0, company_id=other.id or 0)])
        offer = HospitationOffer(company_id=company.id or 0, title="Tischler/in", field="wood", town="Oldenburg",
                                 address=ADDRESS, meeting_point=MEETING_POINT, what_to_bring=BRING)
        session.add(offer)
        await session.flush()
        slot = HospitationSlot(offer_id=offer.id or 0, starts_at=start, ends_at=start + timedelta(hours=3), capacity=2)
        session.add(slot)
        person = await person_row(session, participant, language=language, first_name=NAME, role=Role.PARTICIPANT)
        await record_consent(session, person, Purpose.STORE, True)
        await record_consent(session, person, Purpose.SHARE, True)
        outcome, booking = await book(session, person, slot.id or 0, now=booked_at, policy=POLICY)
        assert outcome is Outcome.BOOKED and booking is not None
        return World(booking.id or 0, slot.id or 0, offer.id or 0)


async def person_row(session: AsyncSession, telegram_user_id: int, *, language: str, first_name: str,
                     role: Role) -> Person:
    """The person behind a Telegram user: the one the bot made when they wrote /start, or a new one."""
    person = (await session.exec(select(Person).where(Person.telegram_user_id == telegram_user_id))).first()
    if person is None:
        person = Person(telegram_user_id=telegram_user_id, chat_id=telegram_user_id)
    person.language, person.first_name = language, first_name
    person.add_role(role)
    session.add(person)
    await session.flush()
    return person


async def started(*users: ScriptedUser) -> None:
    """Each user has written to the bot (Telegram lets a bot write only to people who did)."""
    for user in users:
        await user.send("/start")
    for user in users:
        await user.settled()
        user.take_new()


def staff(h: Harness) -> tuple[ScriptedUser, ScriptedUser, ScriptedUser]:
    """The company's two members and the coordinator, as Telegram users."""
    return (h.emu.user(MEMBER, "Jens", language_code="de"), h.emu.user(MEMBER_2, "Anke", language_code="de"),
            h.emu.user(COORDINATOR, "Kim", language_code="de"))


async def booking_of(h: Harness, world: World) -> Booking:
    async with h.rt.sessionmaker() as session:
        booking = await session.get(Booking, world.booking_id)
        assert booking is not None
        return booking


async def stages(sessionmaker: async_sessionmaker[AsyncSession], booking_id: int) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.exec(select(PathEvent).where(PathEvent.booking_id == booking_id).order_by(col(PathEvent.id)))
        return [e.stage for e in rows.all()]


async def rows_of(sessionmaker: async_sessionmaker[AsyncSession], template: str) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.exec(select(OutboxMessage).where(OutboxMessage.template == template))).all())


async def arrives(user: ScriptedUser, text: str, timeout: float = 15) -> BotMessage:  # noqa: ASYNC109
    """The message in the chat that reads ``text`` (isolation marks aside), waiting for it if need be."""
    deadline = time.monotonic() + timeout
    while True:
        for message in user.messages:
            if clean(message.text) == text:
                return message
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no message {text!r} for user {user.id}; it has {[m.text for m in user.messages]}"
        await user.wait_message(timeout=remaining)


def fill(t: Callable[[str], str], msgid: str, **values: str) -> str:
    return t(msgid).format(**values)


def sent(user: ScriptedUser) -> list[str]:
    """Texts of the new messages (not edits) since the last look."""
    return [clean(m.text) for m in user.take_new() if not m.edited]


def message(user: ScriptedUser, message_id: int) -> BotMessage:
    return next(m for m in user.messages if m.message_id == message_id)


async def test_a_reminder_answered_in_time_notes_coming_and_then_cancels_and_frees_the_place(sqlite_url: str) -> None:
    async with running_bot(sqlite_url, coordinator_ids=str(COORDINATOR)) as h:
        uk = translator(h.rt.dp["i18n"], "uk")
        de = translator(h.rt.dp["i18n"], "de")
        participant = h.emu.user(PARTICIPANT, NAME, language_code="uk")
        stranger = h.emu.user(OTHER_MEMBER, "Tom", language_code="de")
        await started(participant, stranger, *staff(h))
        start = utcnow() + timedelta(hours=23)  # its 24 h reminder is due now, cancelling still allowed
        world = await make_world(h.rt.sessionmaker, start=start, booked_at=start - timedelta(hours=25))
        assert h.rt.delivery is not None
        h.rt.delivery.wake()

        reminder = await participant.wait_message()
        local = start.astimezone(BERLIN).strftime("%H:%M")
        assert clean(reminder.text) == fill(uk, REMINDER_24H, time=local, company=COMPANY,
                                            address=f"{ADDRESS}, {MEETING_POINT}", bring=BRING)
        assert reminder.flat_buttons == [uk(COMING), uk(NOT_COMING)]
        assert reminder.data_for(uk(NOT_COMING)) == f"bkr:{world.booking_id}:no"

        # The callback carries an id, not authority: someone else's "I cannot come" changes nothing.
        assert await tap_data(stranger, f"bkr:{world.booking_id}:no") == de(NOT_FOR_YOU)
        assert (await booking_of(h, world)).status == BookingStatus.BOOKED.value

        participant.take_new()
        await participant.press(uk(COMING))
        await participant.settled()
        assert sent(participant) == [uk(COMING_NOTED)]
        assert (await booking_of(h, world)).reply == "coming"
        assert message(participant, reminder.message_id).flat_buttons == [uk(NOT_COMING)]  # can still say no

        await participant.press(uk(NOT_COMING))
        await participant.settled()
        day = format_day(start, "uk")
        assert sent(participant) == [fill(uk, CANCELLED_BY_REPLY, company=COMPANY, day=day)]
        assert message(participant, reminder.message_id).flat_buttons == []
        booking = await booking_of(h, world)
        assert (booking.status, booking.reply) == (BookingStatus.CANCELLED.value, "not_coming")
        async with h.rt.sessionmaker() as session:
            slot = await session.get(HospitationSlot, world.slot_id)
            assert slot is not None and slot.booked == 0
            free = await free_slots(session, world.offer_id, now=utcnow(), policy=POLICY)
            assert [s.id for s in free] == [world.slot_id]  # someone else can book the place
        assert [r.status for r in await rows_of(h.rt.sessionmaker, REMINDER_2H)] == ["cancelled"]

        # A double tap: the same answer, nothing new.
        assert await tap_data(participant, f"bkr:{world.booking_id}:no", reminder.message_id) == uk(SAVED)
        assert sent(participant) == []


async def test_i_cannot_come_after_the_cutoff_becomes_one_note_to_the_coordinators(sqlite_url: str) -> None:
    async with running_bot(sqlite_url, coordinator_ids=str(COORDINATOR)) as h:
        fa = translator(h.rt.dp["i18n"], "fa")
        de = translator(h.rt.dp["i18n"], "de")
        participant = h.emu.user(PARTICIPANT, NAME, language_code="fa")
        coordinator = h.emu.user(COORDINATOR, "Kim", language_code="de")
        await started(participant, h.emu.user(OTHER_MEMBER, "Tom", language_code="de"), *staff(h))
        start = utcnow() + timedelta(hours=1, minutes=59)  # its 2 h reminder is due; past the 12 h cutoff
        world = await make_world(h.rt.sessionmaker, start=start, booked_at=start - timedelta(hours=13), language="fa")
        assert h.rt.delivery is not None
        h.rt.delivery.wake()
        reminder = await participant.wait_message()
        assert clean(reminder.text).startswith(fa(REMINDER_2H).split("{")[0])
        await coordinator.wait_message()  # the booking's notice

        participant.take_new()
        await participant.press(fa(NOT_COMING))
        await participant.settled()
        assert sent(participant) == [fill(fa, TOO_LATE_TO_CANCEL, company=COMPANY)]
        when = start.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
        await arrives(coordinator, fill(de, NOTICE_LATE_CANCEL, name=NAME, when=when, offer=f"Tischler/in ({COMPANY})"))
        booking = await booking_of(h, world)
        assert (booking.status, booking.reply) == (BookingStatus.BOOKED.value, "not_coming")  # the company expects someone

        assert await tap_data(participant, f"bkr:{world.booking_id}:no", reminder.message_id) == fa(SAVED)
        assert len(await rows_of(h.rt.sessionmaker, NOTICE_LATE_CANCEL)) == 1


async def test_attendance_feedback_and_a_match_reach_the_coordinator_once(sqlite_url: str) -> None:
    async with running_bot(sqlite_url, coordinator_ids=str(COORDINATOR)) as h:
        uk = translator(h.rt.dp["i18n"], "uk")
        de = translator(h.rt.dp["i18n"], "de")
        participant = h.emu.user(PARTICIPANT, NAME, language_code="uk")
        other_company = h.emu.user(OTHER_MEMBER, "Tom", language_code="de")
        member, member_2, coordinator = staff(h)
        await started(participant, other_company, member, member_2, coordinator)
        start = utcnow() - timedelta(hours=5)  # ended two hours ago: attendance and rating questions are due
        world = await make_world(h.rt.sessionmaker, start=start, booked_at=start - timedelta(hours=25))
        assert h.rt.delivery is not None
        h.rt.delivery.wake()

        when = start.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
        question = await arrives(member, fill(de, ASK_ATTENDANCE, name=NAME, when=when))
        assert question.data_for(de(CAME)) == f"bka:{world.booking_id}:yes"
        copy = await arrives(member_2, fill(de, ASK_ATTENDANCE, name=NAME, when=when))  # each member is asked
        rating = await arrives(participant, fill(uk, ASK_RATING, company=COMPANY))

        # Neither the participant nor another company's member can record attendance.
        forged = f"bka:{world.booking_id}:yes"
        assert await tap_data(participant, forged) == uk(NOT_FOR_YOU)
        assert await tap_data(other_company, forged) == de(NOT_FOR_YOU)
        assert (await booking_of(h, world)).status == BookingStatus.BOOKED.value
        assert await stages(h.rt.sessionmaker, world.booking_id) == [PathStage.HOSPITATION_BOOKED.value]
        assert await rows_of(h.rt.sessionmaker, ASK_COMPANY_INTERNSHIP) == []

        # A double tap records once.
        first = await member.press_data(forged, question.message_id)
        second = await member.press_data(forged, question.message_id)
        await member.settled()
        answers = {a.callback_query_id: clean(a.text or "") for a in h.emu.callback_answers}
        already = fill(de, ALREADY_CAME, name=NAME)
        assert sorted([answers[first], answers[second]]) == sorted(["", already])
        assert await stages(h.rt.sessionmaker, world.booking_id) == [
            PathStage.HOSPITATION_BOOKED.value, PathStage.HOSPITATION_ATTENDED.value]
        assert (await booking_of(h, world)).status == BookingStatus.ATTENDED.value
        local = format_when(start, "de", fmt="short")
        assert clean(message(member, question.message_id).text) == fill(de, RECORDED_CAME, name=NAME, when=local)
        # The second member's copy: already recorded.
        assert clean(await tap_data(member_2, copy.data_for(de(CAME)), copy.message_id)) == already

        # The company's question follows; the participant rates the day and is asked about an internship.
        offer_question = await arrives(member, fill(de, ASK_COMPANY_INTERNSHIP, name=NAME))
        await participant.press("👍")
        await participant.settled()
        asked = message(participant, rating.message_id)
        assert clean(asked.text) == fill(uk, ASK_PARTICIPANT_INTERNSHIP, company=COMPANY)
        assert asked.flat_buttons == [uk(YES), uk(NO)]
        assert (await booking_of(h, world)).participant_rating == "good"
        await participant.press(uk(YES))
        await participant.settled()
        assert clean(message(participant, rating.message_id).text) == fill(uk, WANTS_INTERNSHIP, company=COMPANY)
        assert PathStage.MATCH.value not in await stages(h.rt.sessionmaker, world.booking_id)

        # The company says yes too: a match, told to the coordinator once, whatever is tapped again.
        await member.press_data(offer_question.data_for(de(YES)), offer_question.message_id)
        await member.settled()
        assert clean(message(member, offer_question.message_id).text) == fill(de, OFFERS_INTERNSHIP, name=NAME)
        await arrives(coordinator, fill(de, NOTICE_MATCH, name=NAME, company=COMPANY, when=when))
        assert await tap_data(member, f"bkc:{world.booking_id}:yes", offer_question.message_id) == de(SAVED)
        assert await tap_data(participant, f"bki:{world.booking_id}:yes", rating.message_id) == uk(SAVED)
        booking = await booking_of(h, world)
        assert (booking.participant_wants_internship, booking.company_offers_internship) == (True, True)
        assert await stages(h.rt.sessionmaker, world.booking_id) == [
            PathStage.HOSPITATION_BOOKED.value, PathStage.HOSPITATION_ATTENDED.value, PathStage.MATCH.value]
        assert [r.person_id for r in await rows_of(h.rt.sessionmaker, NOTICE_MATCH)] == [
            (await person_id(h.rt.sessionmaker, COORDINATOR))]


async def person_id(sessionmaker: async_sessionmaker[AsyncSession], telegram_user_id: int) -> int:
    async with sessionmaker() as session:
        person = (await session.exec(select(Person).where(Person.telegram_user_id == telegram_user_id))).one()
        return person.id or 0


# ------------------------------------------------------------------ the rules under concurrency, both databases


async def _person(sessionmaker: async_sessionmaker[AsyncSession], telegram_user_id: int) -> Person:
    async with sessionmaker() as session:
        return (await session.exec(select(Person).where(Person.telegram_user_id == telegram_user_id))).one()


async def test_both_sides_at_once_make_exactly_one_match_and_two_members_record_once(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        now = utcnow()
        worlds = []
        for day in range(5):
            start = now - timedelta(days=day + 1)
            worlds.append(await make_world(sessionmaker, start=start, booked_at=start - timedelta(days=2)))
        participant = await _person(sessionmaker, PARTICIPANT)
        member, member_2 = await _person(sessionmaker, MEMBER), await _person(sessionmaker, MEMBER_2)

        async def attend(who: Person, booking_id: int) -> Result:
            async with unit_of_work(sessionmaker) as session:
                return (await aftercare.record_attendance(session, who, booking_id, True, now=now, policy=POLICY)).result

        async def wants(booking_id: int) -> bool:
            async with unit_of_work(sessionmaker) as session:
                answer = await aftercare.participant_internship(session, participant, booking_id, True, now=now,
                                                                policy=POLICY)
                return answer.match

        async def offers(booking_id: int) -> bool:
            async with unit_of_work(sessionmaker) as session:
                answer = await aftercare.company_internship(session, member_2, booking_id, True, now=now, policy=POLICY)
                return answer.match

        for world in worlds:
            results = await asyncio.gather(attend(member, world.booking_id), attend(member_2, world.booking_id))
            assert sorted(results) == sorted([Result.SAVED, Result.ALREADY])
            matches = await asyncio.gather(wants(world.booking_id), offers(world.booking_id))
            assert sorted(matches) == [False, True]
            assert await stages(sessionmaker, world.booking_id) == [
                PathStage.HOSPITATION_BOOKED.value, PathStage.HOSPITATION_ATTENDED.value, PathStage.MATCH.value]
        # Changing one's mind back and forth makes no second match.
        async with unit_of_work(sessionmaker) as session:
            await aftercare.participant_internship(session, participant, worlds[0].booking_id, False, now=now,
                                                   policy=POLICY)
        assert not await wants(worlds[0].booking_id)
        assert (await stages(sessionmaker, worlds[0].booking_id)).count(PathStage.MATCH.value) == 1
        assert len(await rows_of(sessionmaker, NOTICE_MATCH)) == len(worlds)  # one coordinator, once per booking
    finally:
        await engine.dispose()


async def test_a_no_show_is_recorded_and_ends_the_questions(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        now = utcnow()
        start = now - timedelta(hours=4)
        world = await make_world(sessionmaker, start=start, booked_at=start - timedelta(days=2))
        member, stranger = await _person(sessionmaker, MEMBER), await _person(sessionmaker, OTHER_MEMBER)
        async with unit_of_work(sessionmaker) as session:
            # Before the start (a forged button): nothing to record yet.
            early = await aftercare.record_attendance(session, member, world.booking_id, False,
                                                      now=start - timedelta(minutes=1), policy=POLICY)
            assert early.result is Result.GONE
            refused = await aftercare.record_attendance(session, stranger, world.booking_id, False, now=now,
                                                        policy=POLICY)
            assert refused.result is Result.NOT_YOURS
            assert (await aftercare.rate(session, stranger, world.booking_id, "good", now=now)).result is Result.NOT_YOURS
            answer = await aftercare.record_attendance(session, member, world.booking_id, False, now=now, policy=POLICY)
            assert (answer.result, answer.name) == (Result.SAVED, NAME)
        assert await stages(sessionmaker, world.booking_id) == [
            PathStage.HOSPITATION_BOOKED.value, PathStage.HOSPITATION_MISSED.value]
        # No worker runs here: the rating question is still pending, and is taken back.
        assert [r.status for r in await rows_of(sessionmaker, ASK_RATING)] == ["cancelled"]
        assert await rows_of(sessionmaker, ASK_COMPANY_INTERNSHIP) == []
        async with unit_of_work(sessionmaker) as session:
            again = await aftercare.record_attendance(session, member, world.booking_id, True, now=now, policy=POLICY)
            assert again.result is Result.ALREADY
            offer = await aftercare.company_internship(session, member, world.booking_id, True, now=now, policy=POLICY)
            assert offer.result is Result.GONE  # asked only of a company whose guest came
            booking = await session.get(Booking, world.booking_id)
            assert booking is not None and booking.status == BookingStatus.NO_SHOW.value
    finally:
        await engine.dispose()
