"""Pilot companies and the hospitation (job-shadowing) offers they make; the minimum matching needs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field

from storage.models import SQLModel  # the shared metadata, with its constraint naming convention
from storage.types import UTCDateTime, utcnow


class Company(SQLModel, table=True):
    """A pilot company. ``region`` uses the values of ``storage.models.Region``."""

    __tablename__ = "company"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    town: str = Field(max_length=100)
    region: str = Field(max_length=32)
    #: Languages spoken by staff (interface language codes: "de", "ar", "ru", …), a help for a newcomer.
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class HospitationOffer(SQLModel, table=True):
    """A company's offer of job-shadowing in one occupational field (a field id of the check content)."""

    __tablename__ = "hospitation_offer"

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=200)
    field: str = Field(max_length=32, index=True)
    town: str = Field(max_length=100)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


__all__ = ["Company", "HospitationOffer"]
