"""Figures for coordinators: counts only, never who."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.privacy.service import PRIVACY_VERSION, Purpose
from storage.models import ConsentRecord, ErasureEvent, ParticipantProfile, Person


@dataclass(frozen=True)
class Overview:
    people: int
    registered: int
    registering: int
    sharing: int
    erased: int
    by_region: dict[str, int]


async def overview(session: AsyncSession) -> Overview:
    people = (await session.exec(select(func.count()).select_from(Person))).one()
    registered = (
        await session.exec(
            select(func.count()).select_from(ParticipantProfile).where(
                col(ParticipantProfile.registered_at).is_not(None)
            )
        )
    ).one()
    # Current decision per person = their newest record for the purpose under the current notice.
    latest = (
        select(func.max(ConsentRecord.id))
        .where(ConsentRecord.purpose == Purpose.SHARE.value, ConsentRecord.version == PRIVACY_VERSION)
        .group_by(col(ConsentRecord.person_id))
    )
    sharing = (
        await session.exec(
            select(func.count()).select_from(ConsentRecord).where(
                col(ConsentRecord.id).in_(latest), col(ConsentRecord.accepted).is_(True)
            )
        )
    ).one()
    started = (
        await session.exec(
            select(func.count(func.distinct(ConsentRecord.person_id))).where(
                ConsentRecord.purpose == Purpose.STORE.value, col(ConsentRecord.accepted).is_(True)
            )
        )
    ).one()
    erased = (await session.exec(select(func.count()).select_from(ErasureEvent))).one()
    rows = await session.exec(
        select(ParticipantProfile.region, func.count())
        .where(col(ParticipantProfile.registered_at).is_not(None))
        .group_by(col(ParticipantProfile.region))
    )
    return Overview(
        people=people,
        registered=registered,
        registering=max(0, started - registered),
        sharing=sharing,
        erased=erased,
        by_region={region or "—": count for region, count in rows.all()},
    )
