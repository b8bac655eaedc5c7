"""Consent per purpose and version, the data export, erasure and retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.text import N_
from storage.erasure import erase_person_rows
from storage.models import ConsentRecord, ErasureEvent, ParticipantProfile, Person, Role
from storage.types import utcnow

log = logging.getLogger(__name__)

# The version of the privacy notice (docs/privacy.md). A new version asks everyone again.
PRIVACY_VERSION = "2026-11-25"


class Purpose(StrEnum):
    STORE = "store_answers"  # required: without it nothing personal is kept
    SHARE = "share_with_companies"
    CONTACT = "contact_events"


PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.STORE: N_("💾 Store my answers"),
    Purpose.SHARE: N_("🏭 Show my profile to pilot companies"),
    Purpose.CONTACT: N_("📅 Tell me about events"),
}


NOTICE = N_(
    "📄 Privacy notice (as of {version})\n\n"
    "Who: the pro:connect team of the skilled-workers alliance, sub-region North, is responsible "
    "for your data.\n\n"
    "What: your first name, region, German level, phone number (if you give it), your answers "
    "in this chat and your Telegram user ID.\n\n"
    "Why: to find a job, an internship or an apprenticeship for you, and to invite you to "
    "events. We only do what you agree to.\n\n"
    "How long: when you have not written to us for {months} months, we delete everything.\n\n"
    "Your rights: see your data (/mydata), change your choices (/privacy), delete everything "
    "(/delete). You can also ask the programme team."
)


class ErasureReason(StrEnum):
    REQUEST = "request"  # /delete
    DECLINED = "declined"  # said no to storing answers
    WITHDRAWN = "withdrawn"  # withdrew the storage consent; erased by the retention job
    INACTIVE = "inactive"  # no contact for longer than the retention period


async def current_consents(session: AsyncSession, person_id: int) -> dict[Purpose, bool]:
    """The latest decision per purpose under the current notice version; undecided purposes are absent."""
    result = await session.exec(
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id, ConsentRecord.version == PRIVACY_VERSION)
        .order_by(col(ConsentRecord.decided_at), col(ConsentRecord.id))
    )
    decided: dict[Purpose, bool] = {}
    for record in result.all():
        if record.purpose in Purpose.__members__.values():
            decided[Purpose(record.purpose)] = record.accepted
    return decided


async def record_consent(session: AsyncSession, person: Person, purpose: Purpose, accepted: bool) -> None:
    """Append the decision with time and version; a withdrawal also closes the earlier acceptance."""
    assert person.id is not None
    now = utcnow()
    if not accepted:
        result = await session.exec(
            select(ConsentRecord).where(
                ConsentRecord.person_id == person.id,
                ConsentRecord.purpose == purpose.value,
                col(ConsentRecord.accepted).is_(True),
                col(ConsentRecord.withdrawn_at).is_(None),
            )
        )
        for earlier in result.all():
            earlier.withdrawn_at = now
            session.add(earlier)
    session.add(
        ConsentRecord(person_id=person.id, purpose=purpose.value, version=PRIVACY_VERSION, accepted=accepted,
                      decided_at=now)
    )
    await session.flush()


async def erase_person(session: AsyncSession, person: Person, reason: ErasureReason) -> None:
    """Erase everything about the person; keep only an event with the reason and no identifying field."""
    assert person.id is not None
    was_participant = person.has_role(Role.PARTICIPANT)
    had_data = bool(person.first_name or person.roles or await current_consents(session, person.id))
    await erase_person_rows(session, person.id)
    if had_data:  # a bare record (ids only, e.g. from a double tap after erasure) is not worth counting
        session.add(ErasureEvent(reason=reason.value, was_participant=was_participant))
    await session.flush()
    session.expunge_all()  # the erased objects must not be written back by anyone holding them


async def export_person(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything stored about the person, as plain JSON-ready data (``/mydata``)."""
    assert person.id is not None
    profile = (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == person.id))
    ).first()
    consents = (
        await session.exec(
            select(ConsentRecord).where(ConsentRecord.person_id == person.id).order_by(col(ConsentRecord.id))
        )
    ).all()

    def ts(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "person": {
            "telegram_user_id": person.telegram_user_id,
            "first_name": person.first_name,
            "language": person.language,
            "roles": list(person.roles),
            "created_at": ts(person.created_at),
            "last_seen_at": ts(person.last_seen_at),
        },
        "participant_profile": None
        if profile is None
        else {
            "region": profile.region,
            "german_level": profile.german_level,
            "phone": profile.phone,
            "registered_at": ts(profile.registered_at),
        },
        "consents": [
            {
                "purpose": c.purpose,
                "accepted": c.accepted,
                "version": c.version,
                "decided_at": ts(c.decided_at),
                "withdrawn_at": ts(c.withdrawn_at),
            }
            for c in consents
        ],
    }


@dataclass(frozen=True)
class RetentionResult:
    withdrawn: int
    inactive: int


async def enforce_retention(session: AsyncSession, *, inactive_days: int, now: datetime | None = None) -> RetentionResult:
    """Erase people who withdrew the storage consent, and participants silent for ``inactive_days``.

    Coordinators are never erased by inactivity. Logs counts only, never who.
    """
    now = now or utcnow()
    withdrawn_ids: set[int] = set()
    latest = (
        select(ConsentRecord.person_id, func.max(ConsentRecord.id).label("last_id"))
        .where(ConsentRecord.purpose == Purpose.STORE.value)
        .group_by(col(ConsentRecord.person_id))
        .subquery()
    )
    rows = await session.exec(
        select(ConsentRecord.person_id).join(latest, col(ConsentRecord.id) == latest.c.last_id).where(
            col(ConsentRecord.accepted).is_(False)
        )
    )
    withdrawn_ids.update(rows.all())
    cutoff = now - timedelta(days=inactive_days)
    stale = await session.exec(
        select(Person).where(col(Person.last_seen_at) < cutoff)
    )
    inactive = [p for p in stale.all() if not p.has_role(Role.COORDINATOR) and p.id not in withdrawn_ids]
    for person_id in withdrawn_ids:
        await erase_person_rows(session, person_id)
        session.add(ErasureEvent(reason=ErasureReason.WITHDRAWN.value, was_participant=True))
    for person in inactive:
        assert person.id is not None
        await erase_person_rows(session, person.id)
        session.add(ErasureEvent(reason=ErasureReason.INACTIVE.value,
                                 was_participant=person.has_role(Role.PARTICIPANT)))
    await session.flush()
    session.expunge_all()
    result = RetentionResult(withdrawn=len(withdrawn_ids), inactive=len(inactive))
    log.info("retention: erased %d after withdrawal, %d inactive", result.withdrawn, result.inactive)
    return result
