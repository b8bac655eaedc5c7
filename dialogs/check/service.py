"""The check as a service: runs stored answer by answer, scoring at the end, matching to offers.

Every answer is stored the moment it is given (flushed here, committed by the caller's unit of work). Which question comes next is derived from the stored
answers (``CheckContent.next_question``), never from dialog state, so a person who leaves for days, or a
bot restart that loses every dialog, continues exactly where they were.

A run is an :class:`~storage.check.Assessment` row. A person has at most one run in progress; a
completed run is never changed: revising answers copies them into a new run, so a result once shown
(and sent as PDF to a company) stays as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.check.content import SKIP, Answer, CheckContent, Question
from dialogs.check.scoring import Profile, render_bar, score
from dialogs.errors import InvalidAnswer
from dialogs.privacy.service import Purpose, current_consents
from dialogs.text import N_
from storage.check import Assessment, AssessmentStatus
from storage.companies import Company, HospitationOffer
from storage.models import ParticipantProfile, Person, Region
from storage.types import utcnow

__all__ = [
    "FREE_TEXT_MAX",
    "LANGUAGES_QUESTION",
    "ProfileSheet",
    "RankedOffer",
    "anonymous_code",
    "answer_labels",
    "answer_question",
    "current_run",
    "finish",
    "get_run",
    "in_progress",
    "latest_completed",
    "list_completed",
    "previous_question",
    "profile_lines",
    "rank_offers",
    "reason_lines",
    "restart",
    "revise",
    "save_free_text",
    "sheet_for",
    "start_or_resume",
    "stored_profile",
]

#: Most characters of the free-text answer; longer is refused with a message, not cut silently.
FREE_TEXT_MAX = 1000
LANGUAGES_QUESTION = "lang.spoken"

Gettext = Callable[[str], str]


# --------------------------------------------------------------------------------------------- runs


async def in_progress(session: AsyncSession, person_id: int) -> Assessment | None:
    result = await session.exec(
        select(Assessment)
        .where(Assessment.person_id == person_id, Assessment.status == AssessmentStatus.IN_PROGRESS.value)
        .order_by(col(Assessment.id).desc())
    )
    return result.first()


async def latest_completed(session: AsyncSession, person_id: int) -> Assessment | None:
    result = await session.exec(
        select(Assessment)
        .where(Assessment.person_id == person_id, Assessment.status == AssessmentStatus.COMPLETED.value)
        .order_by(col(Assessment.completed_at).desc(), col(Assessment.id).desc())
    )
    return result.first()


async def get_run(session: AsyncSession, assessment_id: int) -> Assessment | None:
    return await session.get(Assessment, assessment_id)


def _new_run(person_id: int, content: CheckContent, answers: dict[str, Answer] | None = None) -> Assessment:
    now = utcnow()
    return Assessment(
        person_id=person_id,
        content_id=content.id,
        content_version=content.version,
        answers=dict(answers or {}),
        started_at=now,
        updated_at=now,
    )


async def start_or_resume(session: AsyncSession, person: Person, content: CheckContent) -> Assessment:
    """The person's run in progress, or a new empty one."""
    assert person.id is not None
    run = await in_progress(session, person.id)
    if run is None:
        run = _new_run(person.id, content)
        session.add(run)
        await session.flush()
    return run


async def current_run(session: AsyncSession, person: Person, content: CheckContent) -> Assessment:
    """The run in progress to show, or an empty one that is not stored: for windows, which only read."""
    assert person.id is not None
    return await in_progress(session, person.id) or _new_run(person.id, content)


async def revise(session: AsyncSession, person: Person, content: CheckContent) -> Assessment:
    """A run to change answers in: the one in progress, else a copy of the latest completed run."""
    assert person.id is not None
    run = await in_progress(session, person.id)
    if run is not None:
        return run
    done = await latest_completed(session, person.id)
    run = _new_run(person.id, content, dict(done.answers) if done else None)
    if done is not None:
        run.free_text, run.free_text_de = done.free_text, done.free_text_de
    session.add(run)
    await session.flush()
    return run


async def restart(session: AsyncSession, person: Person, content: CheckContent) -> Assessment:
    """Drop the answers of the run in progress and start empty; completed runs are kept."""
    assert person.id is not None
    await session.exec(
        delete(Assessment).where(
            col(Assessment.person_id) == person.id,
            col(Assessment.status) == AssessmentStatus.IN_PROGRESS.value,
        )
    )
    run = _new_run(person.id, content)
    session.add(run)
    await session.flush()
    return run


async def answer_question(
    session: AsyncSession, run: Assessment, content: CheckContent, question_id: str, value: Answer
) -> None:
    """Store one answer (``SKIP`` to skip); refuses questions not on the person's path.

    A multi-choice answer is a list of option ids. Answers left off the path by this change (e.g. a field
    changed to "no") stay stored, unasked and unscored, in case the person changes it back.
    """
    if run.status != AssessmentStatus.IN_PROGRESS.value:
        raise InvalidAnswer(N_("This check is already finished."))
    on_path = {q.id: q for q in content.questions_for(run.answers)}
    question = on_path.get(question_id)
    stored: Answer = value if isinstance(value, str) else list(value)
    if question is None or not question.accepts(stored):
        raise InvalidAnswer(N_("This answer is not possible here. Please use the newest message."))
    run.answers = {**run.answers, question_id: stored}  # a new dict, so the JSON column is written
    run.content_id, run.content_version = content.id, content.version
    run.updated_at = utcnow()
    session.add(run)
    await session.flush()


async def save_free_text(session: AsyncSession, run: Assessment, text: str | None) -> None:
    """Store "anything else you can do?" as written (None clears it); German comes with translation."""
    cleaned = " ".join((text or "").split()) or None
    if cleaned is not None and len(cleaned) > FREE_TEXT_MAX:
        raise InvalidAnswer(N_("This is too long. Please write at most {max} characters."), max=FREE_TEXT_MAX)
    if cleaned != run.free_text:
        run.free_text, run.free_text_de = cleaned, None
    run.updated_at = utcnow()
    session.add(run)
    await session.flush()


async def finish(
    session: AsyncSession, run: Assessment, content: CheckContent, german_level: str | None
) -> Profile:
    """Score the answers, store the profile and close the run."""
    if content.next_question(run.answers) is not None:
        raise InvalidAnswer(N_("Some questions are not answered yet."))
    profile = score(run.answers, content, german_level=german_level)
    now = utcnow()
    run.profile = profile.to_dict()
    run.content_id, run.content_version = content.id, content.version
    run.status = AssessmentStatus.COMPLETED.value
    run.completed_at = run.updated_at = now
    session.add(run)
    await session.flush()
    return profile


def stored_profile(run: Assessment) -> Profile | None:
    return Profile.from_dict(run.profile) if run.profile else None


def previous_question(content: CheckContent, answers: dict[str, Answer], current: str | None) -> Question | None:
    """The question before ``current`` on the path (before the next unanswered one when ``current`` is None)."""
    path = content.questions_for(answers)
    if current is None:
        upcoming = content.next_question(answers)
        current = upcoming.id if upcoming is not None else None
    ids = [q.id for q in path]
    index = ids.index(current) if current in ids else len(ids)
    return path[index - 1] if index > 0 else None


# ------------------------------------------------------------------------------------------ rendering


def reason_lines(profile: Profile, field_id: str, content: CheckContent, gettext: Gettext) -> list[str]:
    """The reasons for a top field as sentences ("You have often done this: I have welded metal.") and notes.

    The lead phrases come from the current content; the items are the msgids stored in the profile, so a
    profile made with an older content version still renders.
    """
    leads = content.reasons
    grouped: dict[str, list[str]] = {}
    for reason in profile.reasons_for(field_id):
        grouped.setdefault(reason.kind, []).append(reason.text)
    lines: list[str] = []
    for kind, texts in grouped.items():
        lead_text = getattr(leads, kind, None)
        lead = gettext(lead_text.text) if lead_text is not None else ""
        if kind in ("trained", "training_started"):
            lines.append(lead)
        else:
            lines.append(f"{lead} {'; '.join(gettext(t) for t in texts if t)}".strip())
    lines.extend(gettext(note.msgid) for note in profile.notes_for(field_id))
    return lines


def profile_lines(
    profile: Profile, content: CheckContent, gettext: Gettext, *, isolate: Callable[[object], str] = str
) -> list[str]:
    """The profile for a chat message: a bar per field, best first, then the top fields with reasons."""
    lines = [
        f"{fs.emoji} {render_bar(fs.score)} {isolate(fs.score)} {gettext(fs.name)}"
        for fs in sorted(profile.fields, key=lambda f: -f.score)
    ]
    lines.append("")
    if not profile.top_fields:
        lines.append(gettext(content.texts["no_strengths"].text))
        return lines
    lines.append(gettext(content.texts["strengths"].text))
    for rank, field_id in enumerate(profile.top_fields, start=1):
        fs = profile.field_score(field_id)
        if fs is None:
            continue
        lines += ["", f"{rank}. {fs.emoji} {gettext(fs.name)}"]
        lines += [f"• {line}" for line in reason_lines(profile, field_id, content, gettext)]
    return lines


# ------------------------------------------------------------------------------------- for the PDF


def anonymous_code(person_id: int) -> str:
    """A stable code like ``PC-7F3A`` for a person who did not agree to share their name."""
    digest = hashlib.sha256(f"pro:connect/person/{person_id}".encode()).hexdigest()
    return f"PC-{digest[:4].upper()}"


@dataclass(frozen=True)
class ProfileSheet:
    """What the one-page PDF shows; ``display_name`` is the name or the anonymous code, per consent."""

    assessment_id: int
    display_name: str
    named: bool
    region: str | None
    german_level: str | None
    completed_at: datetime | None
    profile: Profile
    free_text: str | None
    free_text_de: str | None


async def sheet_for(session: AsyncSession, run: Assessment) -> ProfileSheet:
    """The data of a completed run's PDF; the name only while the person's sharing consent holds."""
    profile = stored_profile(run)
    if profile is None or run.id is None:
        raise InvalidAnswer(N_("Some questions are not answered yet."))
    person = await session.get(Person, run.person_id)
    consents = await current_consents(session, run.person_id)
    named = person is not None and bool(person.first_name) and consents.get(Purpose.SHARE) is True
    registration = (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == run.person_id))
    ).first()
    return ProfileSheet(
        assessment_id=run.id,
        display_name=(person.first_name or "") if named and person else anonymous_code(run.person_id),
        named=named,
        region=registration.region if registration else None,
        german_level=registration.german_level if registration else profile.german_level,
        completed_at=run.completed_at,
        profile=profile,
        free_text=run.free_text,
        free_text_de=run.free_text_de,
    )


async def list_completed(session: AsyncSession, limit: int = 50) -> list[tuple[Assessment, ProfileSheet]]:
    """The latest completed run of each person, newest first, with its sheet (for coordinators)."""
    result = await session.exec(
        select(Assessment)
        .where(Assessment.status == AssessmentStatus.COMPLETED.value)
        .order_by(col(Assessment.completed_at).desc(), col(Assessment.id).desc())
    )
    seen: set[int] = set()
    runs: list[tuple[Assessment, ProfileSheet]] = []
    for run in result.all():
        if run.person_id in seen:
            continue
        seen.add(run.person_id)
        runs.append((run, await sheet_for(session, run)))
        if len(runs) >= limit:
            break
    return runs


# ------------------------------------------------------------------------------------------ matching

#: Weights of the fit: the field score counts most; being near and sharing a language help.
FIT_FIELD, FIT_REGION, FIT_LANGUAGE = 0.7, 20, 10


@dataclass(frozen=True)
class RankedOffer:
    offer: HospitationOffer
    company: Company
    fit: int  # 0..100
    field_score: int
    same_region: bool
    shared_languages: tuple[str, ...]


async def rank_offers(
    session: AsyncSession, profile: Profile, person: Person, *, limit: int = 10
) -> list[RankedOffer]:
    """Active hospitation offers ranked by fit for this profile and person.

    fit = 0.7 × the profile's score in the offer's field + 20 if the company is in the person's region
    + 10 if staff speak a language of the person other than German. Offers in fields scoring 0 are left
    out. Ties: higher field score, then offer id.
    """
    registration = (
        await session.exec(select(ParticipantProfile).where(ParticipantProfile.person_id == person.id))
    ).first()
    region = registration.region if registration else None
    spoken = set(profile.fact(LANGUAGES_QUESTION)) - {"de", "other", SKIP}
    rows = await session.exec(
        select(HospitationOffer, Company)
        .join(Company, col(Company.id) == col(HospitationOffer.company_id))
        .where(col(HospitationOffer.active).is_(True))
    )
    ranked: list[RankedOffer] = []
    for offer, company in rows.all():
        field_score = profile.score_of(offer.field) or 0
        if field_score <= 0:
            continue
        same_region = region is not None and region != Region.ELSEWHERE.value and company.region == region
        shared = tuple(sorted(spoken & set(company.languages)))
        fit = round(FIT_FIELD * field_score + (FIT_REGION if same_region else 0) + (FIT_LANGUAGE if shared else 0))
        ranked.append(RankedOffer(offer, company, min(100, fit), field_score, same_region, shared))
    ranked.sort(key=lambda r: (-r.fit, -r.field_score, r.offer.id or 0))
    return ranked[:limit]


def answer_labels(question: Question, value: Answer | None, gettext: Gettext) -> str:
    """The chosen option(s) of a question as the person reads them ("—" if unanswered, "⏭️" if skipped)."""
    if value is None:
        return "—"
    if value == SKIP:
        return "⏭️"
    ids: Sequence[str] = [value] if isinstance(value, str) else list(value)
    labels = []
    for option_id in ids:
        option = question.option(option_id)
        if option is not None:
            labels.append(f"{option.emoji} {gettext(option.text)}".strip() if option.emoji else gettext(option.text))
    return ", ".join(labels) or "—"

