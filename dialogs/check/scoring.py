"""Scoring of the competence and inclination check: a pure function from answers to a profile.

The formula (also in content.yaml and docs/check.md), per occupational field f:

    W  worked answer value (no 0, a little 0.5, a lot 1)
    T  mean value of the answered task questions (never 0, sometimes 0.5, often 1); 0 if none answered
    Y  years answer value (0, 0.3, 0.6, 1)
    R  training value (started 0.5, finished 1) if the training was in f, else 0
    E  = min(1, 0.2·W + 0.5·T + 0.3·Y + 0.5·R)                         experience, 0..1
    I  = Σ weight·value / Σ weight over f's interest items (like 1, not sure 0, dislike −1; missing 0)
    score = round_half_up(100 · (0.6·E + 0.4·max(0, I)))                 0..100

Coefficients come from the content's ``scoring`` section, so they are versioned with the questions.
Arithmetic is exact (fractions), so a hand calculation gives the same integer. Only answers to questions
on the person's path count (content.active_answers): unknown ids, invalid values and answers to
questions that are no longer asked are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from dialogs.check.content import (
    CEFR_LEVELS,
    DETAILS_SECTION,
    FIELDS_SECTION,
    INTERESTS_SECTION,
    SKIP,
    Answer,
    CheckContent,
    FieldSpec,
)

__all__ = ["PROFILE_SCHEMA", "FieldScore", "Note", "Profile", "Reason", "render_bar", "score"]

#: Version of the dict layout written by Profile.to_dict (not of the content).
PROFILE_SCHEMA = 1

# Ids of the content the scoring reads by name; tests/test_check_content.py pins that they exist.
TRAINING, TRAINING_FIELD = "edu.training", "edu.training_field"
SHIFTS, PHYSICAL, LICENCE, TRANSPORT = "work.shifts", "work.physical", "work.licence", "work.transport"
NO_OWN_TRANSPORT = ("none", "public")

_BAR_FULL = "▓"
_BAR_EMPTY = "░"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a field is a top field.

    ``kind`` is one of trained, training_started, worked, often_done, sometimes_done, likes (each has a
    lead phrase in content ``reasons``); ``item`` the id of the question or item behind it; ``text`` the
    msgid of that item (task, interest) or of the chosen answer (worked, training) at scoring time, so
    the reason can be shown even after the item left the content.
    """

    kind: str
    item: str
    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """A condition that may get in the way of a top field; ``msgid`` is the sentence to show.

    ``params`` carries what the note is about: the German level the field needs, or the licence option
    ids of which the person holds none.
    """

    kind: str
    field: str
    msgid: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldScore:
    """Score of one field; ``name`` (msgid) and ``emoji`` as they were when the profile was made."""

    field: str
    name: str
    emoji: str
    score: int
    experience: int
    interest: int


@dataclass(frozen=True)
class Profile:
    """The result of a check: per-field scores, top fields with reasons, notes, and plain facts."""

    content_id: str
    content_version: int
    fields: tuple[FieldScore, ...]
    top_fields: tuple[str, ...]
    reasons: tuple[tuple[str, tuple[Reason, ...]], ...] = ()
    notes: tuple[Note, ...] = ()
    #: Answers of the general questions (school, training, languages, conditions) as option ids.
    facts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    german_level: str | None = None
    _index: dict[str, FieldScore] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update((fs.field, fs) for fs in self.fields)

    @property
    def scores(self) -> dict[str, int]:
        return {fs.field: fs.score for fs in self.fields}

    def score_of(self, field_id: str) -> int | None:
        fs = self._index.get(field_id)
        return None if fs is None else fs.score

    def field_score(self, field_id: str) -> FieldScore | None:
        return self._index.get(field_id)

    def reasons_for(self, field_id: str) -> tuple[Reason, ...]:
        return next((rs for f, rs in self.reasons if f == field_id), ())

    def notes_for(self, field_id: str) -> tuple[Note, ...]:
        return tuple(n for n in self.notes if n.field == field_id)

    def fact(self, question_id: str) -> tuple[str, ...]:
        return next((v for q, v in self.facts if q == question_id), ())

    def is_current(self, content: CheckContent) -> bool:
        """Whether the profile was made with this content file and version (else: re-score to update)."""
        return (self.content_id, self.content_version) == (content.id, content.version)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; :meth:`from_dict` reads it back without needing the content."""
        return {
            "schema": PROFILE_SCHEMA,
            "content_id": self.content_id,
            "content_version": self.content_version,
            "german_level": self.german_level,
            "fields": [
                {
                    "field": fs.field,
                    "name": fs.name,
                    "emoji": fs.emoji,
                    "score": fs.score,
                    "experience": fs.experience,
                    "interest": fs.interest,
                }
                for fs in self.fields
            ],
            "top_fields": list(self.top_fields),
            "reasons": {
                f: [{"kind": r.kind, "item": r.item, "text": r.text} for r in rs] for f, rs in self.reasons
            },
            "notes": [
                {"kind": n.kind, "field": n.field, "msgid": n.msgid, "params": list(n.params)}
                for n in self.notes
            ],
            "facts": {q: list(v) for q, v in self.facts},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Read a dict written by :meth:`to_dict` of this or an older schema; unknown keys are ignored."""
        schema = int(data.get("schema", 1))
        if schema > PROFILE_SCHEMA:
            raise ValueError(f"profile schema {schema} is newer than this code ({PROFILE_SCHEMA})")
        return cls(
            content_id=str(data.get("content_id", "")),
            content_version=int(data["content_version"]),
            german_level=data.get("german_level"),
            fields=tuple(
                FieldScore(
                    field=str(d["field"]),
                    name=str(d.get("name", d["field"])),
                    emoji=str(d.get("emoji", "")),
                    score=int(d["score"]),
                    experience=int(d.get("experience", 0)),
                    interest=int(d.get("interest", 0)),
                )
                for d in data["fields"]
            ),
            top_fields=tuple(str(f) for f in data["top_fields"]),
            reasons=tuple(
                (str(f), tuple(Reason(str(r["kind"]), str(r["item"]), str(r["text"])) for r in rs))
                for f, rs in dict(data.get("reasons", {})).items()
            ),
            notes=tuple(
                Note(
                    str(n["kind"]),
                    str(n["field"]),
                    str(n["msgid"]),
                    tuple(str(p) for p in n.get("params", ())),
                )
                for n in data.get("notes", ())
            ),
            facts=tuple((str(q), tuple(str(v) for v in vs)) for q, vs in dict(data.get("facts", {})).items()),
        )


def render_bar(score: int, width: int = 10) -> str:
    """A bar like ``▓▓▓▓▓▓░░░░`` for a 0..100 score; shade blocks are direction-neutral, fine in RTL."""
    if width < 1:
        raise ValueError("width must be at least 1")
    clamped = min(100, max(0, score))
    filled = (clamped * width + 50) // 100
    return _BAR_FULL * filled + _BAR_EMPTY * (width - filled)


def score(
    answers: Mapping[str, Answer], content: CheckContent, *, german_level: str | None = None
) -> Profile:
    """Score a person's answers against ``content``; pure and deterministic (see module docstring)."""
    active = content.active_answers(answers)
    params = content.scoring
    w_exp, w_int = _q(params.weights.experience), _q(params.weights.interest)

    def value(question_id: str) -> Fraction | None:
        v = content.answer_value(question_id, active)
        return None if v is None else _q(v)

    training = value(TRAINING) or Fraction(0)
    training_field = active.get(TRAINING_FIELD)

    exact: dict[str, Fraction] = {}
    field_scores: list[FieldScore] = []
    for f in content.fields:
        experience = _experience(f, content, active, training if training_field == f.id else Fraction(0))
        interest = max(Fraction(0), _interest(f.id, content, active))
        exact[f.id] = 100 * (w_exp * experience + w_int * interest)
        field_scores.append(
            FieldScore(
                field=f.id,
                name=f.name,
                emoji=f.emoji,
                score=_round(exact[f.id]),
                experience=_round(100 * experience),
                interest=_round(100 * interest),
            )
        )

    order = {f.id: i for i, f in enumerate(content.fields)}
    ranked = sorted(field_scores, key=lambda fs: (-fs.score, order[fs.field]))
    top = tuple(fs.field for fs in ranked if fs.score > params.top_threshold)[: params.top_count]

    return Profile(
        content_id=content.id,
        content_version=content.version,
        fields=tuple(field_scores),
        top_fields=top,
        reasons=tuple((f, _reasons(content.field(f), content, active)) for f in top),
        notes=tuple(n for f in top for n in _notes(content.field(f), content, active, german_level)),
        facts=_facts(content, active),
        german_level=german_level,
    )


def _q(number: float) -> Fraction:
    # Via str: 0.3 in the YAML means exactly 3/10, not the nearest binary float.
    return Fraction(str(number))


def _round(x: Fraction) -> int:
    """Round half up (exact), so 12.5 → 13 as a hand calculation expects."""
    return int((x + Fraction(1, 2)) // 1)


def _experience(
    f: FieldSpec, content: CheckContent, active: Mapping[str, Answer], training: Fraction
) -> Fraction:
    coeff = content.scoring.experience
    worked = _value(content, f.worked_id, active)
    years = _value(content, f.years_id, active)
    task_values = [v for v in (content.answer_value(t.id, active) for t in f.tasks) if v is not None]
    tasks = sum((_q(v) for v in task_values), Fraction(0)) / len(task_values) if task_values else Fraction(0)
    total = _q(coeff.worked) * worked + _q(coeff.tasks) * tasks + _q(coeff.years) * years
    return min(Fraction(1), total + _q(coeff.training) * training)


def _interest(field_id: str, content: CheckContent, active: Mapping[str, Answer]) -> Fraction:
    weighted = Fraction(0)
    total = Fraction(0)
    for item in content.interests:
        weight = item.fields.get(field_id)
        if weight is None:
            continue
        total += _q(weight)
        weighted += _q(weight) * _value(content, item.id, active)
    return weighted / total if total else Fraction(0)


def _value(content: CheckContent, question_id: str, active: Mapping[str, Answer]) -> Fraction:
    v = content.answer_value(question_id, active)
    return Fraction(0) if v is None else _q(v)


def _option_text(content: CheckContent, question_id: str, active: Mapping[str, Answer]) -> str:
    q = content.question(question_id)
    answer = active.get(question_id)
    option = q.option(answer) if q is not None and isinstance(answer, str) else None
    return option.text if option is not None else ""


def _reasons(f: FieldSpec, content: CheckContent, active: Mapping[str, Answer]) -> tuple[Reason, ...]:
    limit = content.scoring.max_reason_items
    reasons: list[Reason] = []
    if active.get(TRAINING_FIELD) == f.id and active.get(TRAINING) in ("started", "finished"):
        kind = "trained" if active[TRAINING] == "finished" else "training_started"
        reasons.append(Reason(kind, TRAINING, _option_text(content, TRAINING, active)))
    if _value(content, f.worked_id, active) > 0:
        # Years say more than "a lot", when they were asked and answered.
        item = f.years_id if _value(content, f.years_id, active) > 0 else f.worked_id
        reasons.append(Reason("worked", item, _option_text(content, item, active)))
    often = [t for t in f.tasks if active.get(t.id) == "often"]
    sometimes = [t for t in f.tasks if active.get(t.id) == "sometimes"]
    done, kind = (often, "often_done") if often else (sometimes, "sometimes_done")
    reasons.extend(Reason(kind, t.id, t.text) for t in done[:limit])
    liked = [
        (-_q(item.fields[f.id]), index, item)
        for index, item in enumerate(content.interests)
        if f.id in item.fields and active.get(item.id) == "like"
    ]
    reasons.extend(
        Reason("likes", item.id, item.text) for _, _, item in sorted(liked, key=lambda x: x[:2])[:limit]
    )
    return tuple(reasons)


def _notes(
    f: FieldSpec, content: CheckContent, active: Mapping[str, Answer], german_level: str | None
) -> list[Note]:
    texts = content.notes
    notes: list[Note] = []
    have = _cefr_rank(german_level)
    if have is not None and have < CEFR_LEVELS.index(f.german):
        notes.append(Note("german", f.id, texts.german.text, (f.german,)))
    if f.shifts and active.get(SHIFTS) == "no":
        notes.append(Note("shifts", f.id, texts.shifts.text))
    if f.heavy_work and active.get(PHYSICAL) == "no":
        notes.append(Note("heavy_work", f.id, texts.heavy_work.text))
    if f.rural and active.get(TRANSPORT) in NO_OWN_TRANSPORT:
        notes.append(Note("transport", f.id, texts.transport.text))
    licences = active.get(LICENCE)
    if f.licences and licences is not None and licences != SKIP and not set(f.licences) & set(licences):
        notes.append(Note("licence", f.id, texts.licence.text, f.licences))
    return notes


def _cefr_rank(level: str | None) -> int | None:
    """Rank of a CEFR level ("B1", "a2", "B1.2"); "none"/"A0" ranks below A1; anything else is unknown."""
    if level is None:
        return None
    code = level.strip().upper()
    if code in ("NONE", "A0", "0"):
        return -1
    code = code[:2]
    return CEFR_LEVELS.index(code) if code in CEFR_LEVELS else None


def _facts(content: CheckContent, active: Mapping[str, Answer]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    generated = {INTERESTS_SECTION, FIELDS_SECTION, DETAILS_SECTION}
    facts: list[tuple[str, tuple[str, ...]]] = []
    for q in content.questions_for(active):
        answer = active.get(q.id)
        if q.section in generated or answer is None or answer == SKIP:
            continue
        facts.append((q.id, (answer,) if isinstance(answer, str) else tuple(answer)))
    return tuple(facts)
