"""Privacy rules at service level on SQLite and PostgreSQL: a new notice version, erasure events, names.

Each test pins one rule that a hand mutation of the service once broke without any test noticing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.errors import InvalidAnswer
from dialogs.onboarding.service import (
    Step,
    clean_name,
    get_profile,
    next_step,
    save_german_level,
    save_name,
    save_phone,
    save_region,
)
from dialogs.overview.service import overview
from dialogs.people import set_language, touch_person
from dialogs.privacy.service import (
    PRIVACY_VERSION,
    ErasureReason,
    Purpose,
    current_consents,
    erase_person,
    record_consent,
)
from storage.db import create_engine, create_sessionmaker
from storage.models import ConsentRecord, ErasureEvent, Person
from storage.uow import unit_of_work

NEW_VERSION = "2099-01-01"

# Every module that reads PRIVACY_VERSION when called: the service itself, and those that imported the
# name (the overview's count of people sharing, the notice shown in onboarding and in /privacy).
VERSION_READERS = (
    "dialogs.privacy.service",
    "dialogs.overview.service",
    "dialogs.onboarding.flow",
    "dialogs.privacy.router",
)


@pytest.fixture
async def sessionmaker(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------- a new privacy-notice version


async def test_a_new_notice_version_asks_everyone_again_and_keeps_their_answers(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with unit_of_work(sessionmaker) as session:
        person = await touch_person(session, telegram_user_id=4101, chat_id=4101)
        await set_language(session, person, "fa")
        await record_consent(session, person, Purpose.STORE, True)
        await record_consent(session, person, Purpose.SHARE, True)
        await record_consent(session, person, Purpose.CONTACT, False)
        await save_name(session, person, "Zahra")
        await save_region(session, person, "ammerland")
        await save_german_level(session, person, "A2")
        await save_phone(session, person, None)
        assert await next_step(session, person) == Step.DONE
        person_id = person.id
    assert person_id is not None
    async with sessionmaker() as session:
        registered = await get_profile(session, await _person(session, person_id))
        assert registered is not None and registered.registered_at is not None
        registered_at = registered.registered_at
        assert (await overview(session)).sharing == 1

    for module in VERSION_READERS:
        monkeypatch.setattr(f"{module}.PRIVACY_VERSION", NEW_VERSION)  # raising=True: each must read it

    async with unit_of_work(sessionmaker) as session:
        person = await _person(session, person_id)
        # The three decisions were made under the old notice: none of them counts any more.
        assert await current_consents(session, person_id) == {}
        assert await next_step(session, person) == Step.CONSENT_STORE
        assert (await overview(session)).sharing == 0

        await record_consent(session, person, Purpose.STORE, True)
        assert await next_step(session, person) == Step.CONSENT_SHARE
        await record_consent(session, person, Purpose.SHARE, False)
        assert await next_step(session, person) == Step.CONSENT_CONTACT
        await record_consent(session, person, Purpose.CONTACT, True)
        # Name, region, German level and phone step were answered before: registered again at once.
        assert await next_step(session, person) == Step.DONE

    async with sessionmaker() as session:
        person = await _person(session, person_id)
        assert await current_consents(session, person_id) == {
            Purpose.STORE: True, Purpose.SHARE: False, Purpose.CONTACT: True,
        }
        assert await next_step(session, person) == Step.DONE
        assert person.first_name == "Zahra"
        profile = await get_profile(session, person)
        assert profile is not None
        assert (profile.region, profile.german_level, profile.registered_at) == ("ammerland", "A2", registered_at)
        assert (await overview(session)).sharing == 0
        records = (await session.exec(
            select(ConsentRecord).where(ConsentRecord.person_id == person_id).order_by(col(ConsentRecord.id))
        )).all()
        assert [(r.version, r.purpose, r.accepted) for r in records] == [
            (PRIVACY_VERSION, "store_answers", True),
            (PRIVACY_VERSION, "share_with_companies", True),
            (PRIVACY_VERSION, "contact_events", False),
            (NEW_VERSION, "store_answers", True),
            (NEW_VERSION, "share_with_companies", False),
            (NEW_VERSION, "contact_events", True),
        ]


async def _person(session: AsyncSession, person_id: int) -> Person:
    person = await session.get(Person, person_id)
    assert person is not None
    return person


# ------------------------------------------------------------------------------------ erasure events


async def _events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[str, bool]]:
    async with sessionmaker() as session:
        rows = (await session.exec(select(ErasureEvent).order_by(col(ErasureEvent.id)))).all()
        return [(e.reason, e.was_participant) for e in rows]


async def test_erasure_events_count_people_with_data_and_never_bare_records(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # First contact, then /delete: ids only, nothing to count.
    async with unit_of_work(sessionmaker) as session:
        bare = await touch_person(session, telegram_user_id=4201, chat_id=4201)
        await erase_person(session, bare, ErasureReason.REQUEST)
    assert await _events(sessionmaker) == []

    # Chose a language, then "No" to storing answers: still nothing personal, nothing to count.
    async with unit_of_work(sessionmaker) as session:
        declining = await touch_person(session, telegram_user_id=4202, chat_id=4202)
        await set_language(session, declining, "ar")
        await erase_person(session, declining, ErasureReason.DECLINED)
    assert await _events(sessionmaker) == []

    # A registered participant: exactly one event, as a participant.
    async with unit_of_work(sessionmaker) as session:
        participant = await touch_person(session, telegram_user_id=4203, chat_id=4203)
        await set_language(session, participant, "uk")
        await record_consent(session, participant, Purpose.STORE, True)
        await save_name(session, participant, "Олена")
        await save_region(session, participant, "delmenhorst")
        await save_german_level(session, participant, "B1")
        await save_phone(session, participant, None)
        await erase_person(session, participant, ErasureReason.REQUEST)
    assert await _events(sessionmaker) == [("request", True)]

    # The double tap: the next update makes a bare record again, and erasing that counts nothing more.
    async with unit_of_work(sessionmaker) as session:
        again = await touch_person(session, telegram_user_id=4203, chat_id=4203)
        await erase_person(session, again, ErasureReason.REQUEST)
    assert await _events(sessionmaker) == [("request", True)]

    # Consents but no name and no role yet (left during onboarding): counted, not as a participant.
    async with unit_of_work(sessionmaker) as session:
        consented = await touch_person(session, telegram_user_id=4204, chat_id=4204)
        await set_language(session, consented, "so")
        await record_consent(session, consented, Purpose.STORE, True)
        await record_consent(session, consented, Purpose.SHARE, True)
        assert not consented.first_name and not consented.roles
        await erase_person(session, consented, ErasureReason.REQUEST)
    assert await _events(sessionmaker) == [("request", True), ("request", False)]

    # A role alone (a configured coordinator, no name, no consents) is data.
    async with unit_of_work(sessionmaker) as session:
        coordinator = await touch_person(
            session, telegram_user_id=4205, chat_id=4205, coordinator_ids=frozenset({4205})
        )
        assert coordinator.roles and not coordinator.first_name
        assert coordinator.id is not None and await current_consents(session, coordinator.id) == {}
        await erase_person(session, coordinator, ErasureReason.REQUEST)
    assert await _events(sessionmaker) == [("request", True), ("request", False), ("request", False)]

    # A name alone (no role, no consent) is data too.
    async with unit_of_work(sessionmaker) as session:
        named = Person(telegram_user_id=4206, chat_id=4206, language="ti", first_name="Selam", roles=[])
        session.add(named)
        await session.flush()
        await erase_person(session, named, ErasureReason.DECLINED)
    assert await _events(sessionmaker) == [
        ("request", True), ("request", False), ("request", False), ("declined", False),
    ]

    async with sessionmaker() as session:
        assert (await session.exec(select(Person))).all() == []
        assert (await session.exec(select(ConsentRecord))).all() == []


# --------------------------------------------------------------------------- names start with a letter

ZWNJ, ZWJ = "\u200c", "\u200d"


@pytest.mark.parametrize(
    "raw",
    [
        "-Amira",
        "'Ali",
        " .Jo",  # ".Jo" after trimming
        "1Anna",
        f"{ZWJ}Zara",
        f"{ZWNJ}مهرانگیز",
        "\u0301Anna",  # a combining accent is a name character, but not a first one
        "’Neil",
    ],
)
def test_a_name_must_start_with_a_letter(raw: str) -> None:
    with pytest.raises(InvalidAnswer):
        clean_name(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Zahra-Marie", "Zahra-Marie"),
        ("O'Neil", "O'Neil"),
        ("  Mohammad   Ali ", "Mohammad Ali"),
        ("زهرا", "زهرا"),
        (f"ژیلا{ZWNJ} ", f"ژیلا{ZWNJ}"),
        (f"مهر{ZWNJ}انگیز", f"مهر{ZWNJ}انگیز"),
        (f"نیک{ZWNJ}نام", f"نیک{ZWNJ}نام"),
        ("Олена", "Олена"),
        ("Jose\u0301", "José"),  # NFC: the accent joins its letter
    ],
)
def test_names_in_any_script_are_accepted(raw: str, expected: str) -> None:
    name = clean_name(raw)
    assert name == expected
    assert unicodedata.category(name[0]).startswith("L")
