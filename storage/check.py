"""The competence check as stored: one row per run of the check, answers saved as they are given."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field

from storage.models import SQLModel  # the shared metadata, with its constraint naming convention
from storage.types import UTCDateTime, utcnow


class AssessmentStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Assessment(SQLModel, table=True):
    """A person's run of the check: raw answers by question id, and the profile scored at the end.

    ``content_id``/``content_version`` name the questions the answers belong to; the stored ``profile``
    (``Profile.to_dict``) stays readable after the content changes. A completed row is never changed:
    revising answers starts a new row from a copy, so earlier results stay as they were shown.
    """

    __tablename__ = "assessment"
    __table_args__ = (Index("ix_assessment_person_status", "person_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    content_id: str = Field(max_length=64)
    content_version: int
    status: str = Field(default=AssessmentStatus.IN_PROGRESS.value, max_length=16)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    profile: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: "Anything else you can do?" as the person wrote it, and in German once translated.
    free_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    free_text_de: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


__all__ = ["Assessment", "AssessmentStatus"]
