"""The shared relational schema. Every change here goes with an Alembic migration."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow

# Named constraints, so that migrations can drop and alter them on every backend (SQLite batch mode
# needs the names to rebuild a table).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(StrEnum):
    PARTICIPANT = "participant"
    COMPANY = "company"
    COORDINATOR = "coordinator"


class Person(SQLModel, table=True):
    """Someone who talks to the bot: a participant, company staff, a coordinator, or several."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, nullable=True)
    )
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    language: str | None = Field(default=None, max_length=8)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_name: str | None = Field(default=None, max_length=128)
    blocked: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    def add_role(self, role: Role) -> None:
        if role.value not in self.roles:
            self.roles = sorted([*self.roles, role.value])


class Region(StrEnum):
    AMMERLAND = "ammerland"
    LANDKREIS_OLDENBURG = "landkreis_oldenburg"
    STADT_OLDENBURG = "stadt_oldenburg"
    DELMENHORST = "delmenhorst"
    ELSEWHERE = "elsewhere"


class GermanLevel(StrEnum):
    NONE = "none"
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class ParticipantProfile(SQLModel, table=True):
    """What a participant tells us at registration. Saved answer by answer, so nothing is lost."""

    __tablename__ = "participant_profile"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE", unique=True)
    region: str | None = Field(default=None, max_length=32)
    german_level: str | None = Field(default=None, max_length=8)
    phone: str | None = Field(default=None, max_length=32)  # E.164
    registered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ErasureEvent(SQLModel, table=True):
    """That someone's data was erased, and why: kept for the statistics, with nothing that identifies them."""

    __tablename__ = "erasure_event"

    id: int | None = Field(default=None, primary_key=True)
    erased_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    reason: str = Field(max_length=32)
    was_participant: bool = False


class ConsentRecord(SQLModel, table=True):
    """One decision of a person about one purpose, under one version of the privacy notice."""

    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_person_purpose", "person_id", "purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    purpose: str = Field(max_length=64)
    version: str = Field(max_length=32)
    accepted: bool
    decided_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


__all__ = [
    "ConsentRecord", "ErasureEvent", "GermanLevel", "ParticipantProfile", "Person", "Region", "Role", "SQLModel",
]
