"""Registration of a participant (service: no aiogram): which step comes next, and the validated answers of each step.

The next step is derived from what is stored, never from dialog state, so a person who comes back after
days (or after a restart that lost every dialog) continues exactly where they left off.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.errors import InvalidAnswer
from dialogs.privacy.service import Purpose, current_consents
from dialogs.text import N_
from storage.models import GermanLevel, ParticipantProfile, Person, Region, Role
from storage.types import utcnow

NAME_MAX = 64
PHONE_MAX = 32


class Step(StrEnum):
    LANGUAGE = "language"
    CONSENT_STORE = "consent_store"
    CONSENT_SHARE = "consent_share"
    CONSENT_CONTACT = "consent_contact"
    NAME = "name"
    REGION = "region"
    GERMAN = "german"
    PHONE = "phone"
    DONE = "done"


STEPS_WITH_PROGRESS = (
    Step.CONSENT_STORE, Step.CONSENT_SHARE, Step.CONSENT_CONTACT, Step.NAME, Step.REGION, Step.GERMAN, Step.PHONE,
)

REGION_LABELS: dict[Region, str] = {
    Region.AMMERLAND: N_("🌳 Ammerland"),
    Region.LANDKREIS_OLDENBURG: N_("🌾 Landkreis Oldenburg"),
    Region.STADT_OLDENBURG: N_("🏙️ City of Oldenburg"),
    Region.DELMENHORST: N_("🏘️ Delmenhorst"),
    Region.ELSEWHERE: N_("🗺️ Somewhere else"),
}

# Plain descriptions of the CEFR levels (docs/sources.md, "German levels").
GERMAN_LABELS: dict[GermanLevel, str] = {
    GermanLevel.NONE: N_("🔇 No German yet"),
    GermanLevel.A1: N_("A1 · a few words"),
    GermanLevel.A2: N_("A2 · simple everyday talk"),
    GermanLevel.B1: N_("B1 · most situations at work"),
    GermanLevel.B2: N_("B2 · longer talks and texts"),
    GermanLevel.C1: N_("C1 · easily, without searching for words"),
    GermanLevel.C2: N_("C2 · almost everything"),
}

GERMAN_DESCRIPTIONS: dict[GermanLevel, str] = {
    GermanLevel.NONE: N_("I do not speak German yet."),
    GermanLevel.A1: N_("I understand and use very simple words and sentences, if people speak slowly."),
    GermanLevel.A2: N_("I can talk about simple everyday things like family, shopping and work."),
    GermanLevel.B1: N_("I manage most everyday and work situations and can tell about my experiences."),
    GermanLevel.B2: N_("I can follow longer talks and texts and discuss my work fluently."),
    GermanLevel.C1: N_("I speak easily without searching for words and understand difficult texts."),
    GermanLevel.C2: N_("I understand almost everything and express myself very precisely."),
}


@dataclass(frozen=True)
class Progress:
    step: Step
    number: int  # 1-based position among the steps with progress
    total: int


async def get_profile(session: AsyncSession, person: Person) -> ParticipantProfile | None:
    return (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == person.id))
    ).first()


async def _profile(session: AsyncSession, person: Person) -> ParticipantProfile:
    profile = await get_profile(session, person)
    if profile is None:
        assert person.id is not None
        profile = ParticipantProfile(person_id=person.id)
        session.add(profile)
    return profile


async def next_step(session: AsyncSession, person: Person) -> Step:
    if not person.language:
        return Step.LANGUAGE
    assert person.id is not None
    consents = await current_consents(session, person.id)
    if consents.get(Purpose.STORE) is not True:
        return Step.CONSENT_STORE
    if Purpose.SHARE not in consents:
        return Step.CONSENT_SHARE
    if Purpose.CONTACT not in consents:
        return Step.CONSENT_CONTACT
    if not person.first_name:
        return Step.NAME
    profile = await get_profile(session, person)
    if profile is None or not profile.region:
        return Step.REGION
    if not profile.german_level:
        return Step.GERMAN
    if profile.registered_at is None:
        return Step.PHONE
    return Step.DONE


def progress(step: Step) -> Progress:
    if step not in STEPS_WITH_PROGRESS:
        return Progress(step, len(STEPS_WITH_PROGRESS), len(STEPS_WITH_PROGRESS))
    return Progress(step, STEPS_WITH_PROGRESS.index(step) + 1, len(STEPS_WITH_PROGRESS))


_NAME_PUNCTUATION = frozenset(" .'-ʼ’\u200c\u200d")  # ZWNJ/ZWJ appear in Persian and Pashto names


def _is_name_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" or ch in _NAME_PUNCTUATION


def clean_name(raw: str | None) -> str:
    """A first name as people write it: any script, spaces, hyphens, apostrophes; no digits or links."""
    name = unicodedata.normalize("NFC", " ".join((raw or "").split()))
    if not name:
        raise InvalidAnswer(N_("Please type your first name."))
    if len(name) > NAME_MAX:
        raise InvalidAnswer(N_("That is too long for a name. Please type only your first name."))
    if not all(_is_name_char(ch) for ch in name) or not unicodedata.category(name[0]).startswith("L"):
        raise InvalidAnswer(N_("A name has only letters. Please type your first name again."))
    return name


def clean_phone(raw: str | None) -> str:
    """A phone number in E.164; German numbers may be typed without +49."""
    text = (raw or "").strip()
    if not text or len(text) > PHONE_MAX:
        raise InvalidAnswer(N_("This is not a phone number. Example: {example}"), example="0176 12345678")
    try:
        number = phonenumbers.parse(text, "DE")
    except phonenumbers.NumberParseException:
        raise InvalidAnswer(N_("This is not a phone number. Example: {example}"), example="0176 12345678") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAnswer(N_("This is not a phone number. Example: {example}"), example="0176 12345678")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def save_name(session: AsyncSession, person: Person, raw: str | None) -> str:
    name = clean_name(raw)
    person.first_name = name
    person.add_role(Role.PARTICIPANT)
    person.updated_at = utcnow()
    session.add(person)
    await session.flush()
    return name


async def save_region(session: AsyncSession, person: Person, value: str) -> None:
    region = Region(value)  # ValueError for a forged value; the caller answers "no longer valid"
    profile = await _profile(session, person)
    profile.region = region.value
    profile.updated_at = utcnow()
    await session.flush()


async def save_german_level(session: AsyncSession, person: Person, value: str) -> None:
    level = GermanLevel(value)
    profile = await _profile(session, person)
    profile.german_level = level.value
    profile.updated_at = utcnow()
    await session.flush()


async def save_phone(session: AsyncSession, person: Person, raw: str | None) -> str | None:
    """Store a validated phone, or none when ``raw`` is None (skipped); either way registration is complete."""
    phone = None if raw is None else clean_phone(raw)
    profile = await _profile(session, person)
    profile.phone = phone
    now = utcnow()
    if profile.registered_at is None:
        profile.registered_at = now
    profile.updated_at = now
    await session.flush()
    return phone
