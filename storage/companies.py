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
    """A company's offer of job-shadowing in one occupational field (a field id of the check content).

    Everything a person needs to show up is here; texts are German, as the company writes them (the bot
    shows them as they are, with the address as a map link).
    """

    __tablename__ = "hospitation_offer"

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=200)
    field: str = Field(max_length=32, index=True)
    town: str = Field(max_length=100)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    address: str | None = Field(default=None, max_length=300)
    meeting_point: str | None = Field(default=None, max_length=300)
    contact_name: str | None = Field(default=None, max_length=120)
    what_to_bring: str | None = Field(default=None, max_length=500)
    #: Work clothes or safety shoes the person needs (or "provided by us").
    clothing: str | None = Field(default=None, max_length=300)
    #: How one gets there: "public" (bus or train), "bicycle", "car", "none" (on foot): the check's answers.
    reachable_by: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Minutes by bus or train from the town centre (None: unknown).
    transit_minutes: int | None = Field(default=None)
    shifts: bool = Field(default=False)  # early, late or night work
    heavy_work: bool = Field(default=False)
    #: Driving licences or permits the work needs (the check's ids: "B", "C", "CE", "T", "forklift").
    licences: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    duration_hours: float | None = Field(default=None)
    #: A photo of the workplace: a path relative to the media folder, or a Telegram file id.
    photo: str | None = Field(default=None, max_length=300)


__all__ = ["Company", "HospitationOffer"]
