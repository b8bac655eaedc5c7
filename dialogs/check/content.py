"""Content of the competence and inclination check: schema, loading, question order.

The content is data (``content.yaml`` beside this module); this module validates it and answers the one
question a user interface needs: given the answers so far, which questions are asked, in which order.
Nothing here knows about Telegram.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from dialogs.languages import CODES
from storage.models import GermanLevel

__all__ = [
    "CEFR_LEVELS",
    "DEFAULT_CONTENT_PATH",
    "DETAILS_SECTION",
    "FIELDS_SECTION",
    "INTERESTS_SECTION",
    "LANGUAGES",
    "SKIP",
    "Answer",
    "Answers",
    "CheckContent",
    "ContentError",
    "FieldSpec",
    "InterestSpec",
    "Option",
    "Question",
    "QuestionSpec",
    "TaskSpec",
    "load_content",
    "parse_content",
]

DEFAULT_CONTENT_PATH = Path(__file__).with_name("content.yaml")

#: Value a UI stores for a question the person skipped: counts as answered, scores as no answer.
SKIP = "_skip"

#: Interface languages (dialogs/languages.py); audio prompts may be given for these.
LANGUAGES = frozenset(CODES)

#: The CEFR levels a field can ask for, lowest first (GermanLevel without "none").
CEFR_LEVELS: tuple[str, ...] = tuple(level.value for level in GermanLevel if level is not GermanLevel.NONE)

# Sections whose questions are generated from fields and interests rather than listed in `questions`.
INTERESTS_SECTION = "interests"
FIELDS_SECTION = "fields"
DETAILS_SECTION = "details"
_GENERATED_SECTIONS = frozenset({INTERESTS_SECTION, FIELDS_SECTION, DETAILS_SECTION})

Answer = str | Sequence[str]
Answers = Mapping[str, Answer]

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Msgid = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1)]


class ContentError(ValueError):
    """The content file breaks the schema or refers to something that does not exist."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Media(_Model):
    """Optional picture and recorded prompt per language, paths relative to the content directory."""

    image: str | None = None
    audio: dict[str, str] = Field(default_factory=dict)

    @field_validator("image")
    @classmethod
    def _relative_image(cls, value: str | None) -> str | None:
        if value is not None:
            _check_relative(value)
        return value

    @field_validator("audio")
    @classmethod
    def _audio_languages(cls, value: dict[str, str]) -> dict[str, str]:
        for lang, path in value.items():
            if lang not in LANGUAGES:
                raise ValueError(f"audio for unknown language {lang!r}")
            _check_relative(path)
        return value


def _check_relative(path: str) -> None:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts:
        raise ValueError(f"media path must be relative to the content directory: {path!r}")


class Text(_Model):
    text: Msgid


class Option(_Media):
    id: Id
    text: Msgid
    emoji: str | None = None
    #: Number used by the scoring (frequency, interest, …); 0 where an option is not scored.
    value: float = 0.0

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.startswith("_"):
            raise ValueError(f"option ids must not start with '_': {value!r}")
        return value


class Section(_Model):
    id: Id
    title: Msgid


class FlowStep(_Media):
    """A prompt shared by many questions; its image/audio serve the questions that have none of their own."""

    prompt: Msgid
    scale: Id


class Flow(_Model):
    max_detailed_fields: int = Field(ge=0)
    interest: FlowStep
    worked: FlowStep
    years: FlowStep
    task: FlowStep


class TaskSpec(_Media):
    id: Id
    text: Msgid
    emoji: str | None = None


class FieldSpec(_Media):
    id: Id
    name: Msgid
    hint: Msgid
    emoji: str
    german: str
    shifts: bool
    heavy_work: bool
    rural: bool
    licences: tuple[Id, ...] = ()
    tasks: tuple[TaskSpec, ...] = Field(min_length=5, max_length=8)

    @field_validator("german")
    @classmethod
    def _cefr_level(cls, value: str) -> str:
        if value not in CEFR_LEVELS:
            raise ValueError(f"a CEFR level ({', '.join(CEFR_LEVELS)}), not {value!r}")
        return value

    @property
    def worked_id(self) -> str:
        return f"{self.id}.worked"

    @property
    def years_id(self) -> str:
        return f"{self.id}.years"


class InterestSpec(_Media):
    id: Id
    emoji: str
    text: Msgid
    fields: dict[Id, float] = Field(min_length=1)

    @field_validator("fields")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        if any(weight <= 0 for weight in value.values()):
            raise ValueError("interest weights must be positive")
        return value


class QuestionSpec(_Media):
    id: Id
    section: Id
    text: Msgid
    emoji: str | None = None
    kind: Literal["single", "multi"] = "single"
    scale: Id | None = None
    options: tuple[Option, ...] = ()
    options_from: Literal["fields"] | None = None
    #: Options of a multi-choice question that cannot be combined with others ("no licence").
    exclusive: tuple[Id, ...] = ()
    #: Ask only when each named earlier question was answered with one of the listed options.
    when: dict[Id, tuple[Id, ...]] = Field(default_factory=dict)


class Weights(_Model):
    experience: float = Field(ge=0, le=1)
    interest: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> Weights:
        # Keeps every score inside 0..100 without clipping.
        if self.experience + self.interest > 1 + 1e-9:
            raise ValueError("weights.experience + weights.interest must not exceed 1")
        return self


class ExperienceWeights(_Model):
    worked: float = Field(ge=0)
    tasks: float = Field(ge=0)
    years: float = Field(ge=0)
    training: float = Field(ge=0)


class ScoringParams(_Model):
    weights: Weights
    experience: ExperienceWeights
    top_threshold: int = Field(ge=0, le=100)
    top_count: int = Field(ge=0)
    max_reason_items: int = Field(ge=1)


class Notes(_Model):
    german: Text
    shifts: Text
    heavy_work: Text
    transport: Text
    licence: Text


class ReasonTexts(_Model):
    trained: Text
    training_started: Text
    worked: Text
    often_done: Text
    sometimes_done: Text
    likes: Text


@dataclass(frozen=True, slots=True)
class Question:
    """One question as a user interface shows it: one message, one answer by button(s).

    ``title`` and ``hint`` belong to the field a field question is about (shown as a heading);
    ``prompt`` is the asking sentence ("How often have you done this?") and ``text`` the item
    ("I have welded metal."); for general questions ``text`` is the question and ``prompt`` is None.
    All four are msgids.
    """

    id: str
    section: str
    kind: Literal["single", "multi"]
    text: str
    options: tuple[Option, ...]
    prompt: str | None = None
    emoji: str | None = None
    title: str | None = None
    hint: str | None = None
    field: str | None = None
    image: str | None = None
    audio: Mapping[str, str] | None = None
    exclusive: tuple[str, ...] = ()

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is a valid stored answer (``SKIP`` included)."""
        if value == SKIP:
            return True
        ids = {o.id for o in self.options}
        if self.kind == "single":
            return isinstance(value, str) and value in ids
        if isinstance(value, str) or not isinstance(value, Sequence):
            return False
        chosen = list(value)
        if not chosen or len(set(chosen)) != len(chosen) or not all(isinstance(v, str) for v in chosen):
            return False
        if not set(chosen) <= ids:
            return False
        return len(chosen) == 1 or not set(chosen) & set(self.exclusive)


class CheckContent(_Model):
    """The validated content file. Build it with :func:`load_content`."""

    version: int = Field(ge=1)
    id: Id
    texts: dict[Id, Text]
    sections: tuple[Section, ...]
    flow: Flow
    scales: dict[Id, tuple[Option, ...]]
    fields: tuple[FieldSpec, ...]
    interests: tuple[InterestSpec, ...]
    questions: tuple[QuestionSpec, ...]
    notes: Notes
    reasons: ReasonTexts
    scoring: ScoringParams
    #: Directory media paths are relative to; set by load_content, not part of the file.
    base_dir: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _references(self) -> CheckContent:
        errors: list[str] = []
        section_ids = [s.id for s in self.sections]
        if len(set(section_ids)) != len(section_ids):
            errors.append("duplicate section ids")
        missing = _GENERATED_SECTIONS - set(section_ids)
        if missing:
            errors.append(f"sections missing: {sorted(missing)}")
        for step in (self.flow.interest, self.flow.worked, self.flow.years, self.flow.task):
            if step.scale not in self.scales:
                errors.append(f"flow uses unknown scale {step.scale!r}")
        for scale_id, options in self.scales.items():
            errors.extend(_duplicates(f"scale {scale_id}", [o.id for o in options]))
        field_ids = {f.id for f in self.fields}
        all_ids: list[str] = []
        for f in self.fields:
            all_ids += [f.id, f.worked_id, f.years_id, *(t.id for t in f.tasks)]
            errors.extend(
                f"task {t.id} must start with {f.id}." for t in f.tasks if not t.id.startswith(f"{f.id}.")
            )
        linked: set[str] = set()
        for interest in self.interests:
            all_ids.append(interest.id)
            unknown = set(interest.fields) - field_ids
            if unknown:
                errors.append(f"{interest.id} links unknown fields {sorted(unknown)}")
            linked |= set(interest.fields)
        errors.extend(f"field {f} has no interest item" for f in sorted(field_ids - linked))
        all_ids += [q.id for q in self.questions]
        # Walk the general questions in the order they are asked (sections first, then file order):
        # a condition may only look back, so the path never depends on later answers.
        asked_before: dict[str, tuple[str, ...]] = {}
        for section in self.sections:
            if section.id == INTERESTS_SECTION:
                scale = self.scales.get(self.flow.interest.scale, ())
                asked_before.update((i.id, tuple(o.id for o in scale)) for i in self.interests)
            elif section.id == FIELDS_SECTION:
                scale = self.scales.get(self.flow.worked.scale, ())
                asked_before.update((f.worked_id, tuple(o.id for o in scale)) for f in self.fields)
            for q in self.questions:
                if q.section == section.id:
                    errors.extend(self._question_errors(q, asked_before))
                    asked_before[q.id] = tuple(o.id for o in self._question_options(q))
        errors.extend(
            f"{q.id}: section {q.section!r} is not a section for listed questions"
            for q in self.questions
            if q.section not in section_ids or q.section in _GENERATED_SECTIONS
        )
        errors.extend(_duplicates("content", all_ids))
        if errors:
            raise ContentError("; ".join(errors))
        return self

    def _question_errors(self, q: QuestionSpec, asked_before: Mapping[str, tuple[str, ...]]) -> list[str]:
        errors: list[str] = []
        if q.scale is not None and q.scale not in self.scales:
            errors.append(f"{q.id}: unknown scale {q.scale!r}")
        if q.scale is not None and q.options:
            errors.append(f"{q.id}: give a scale or options, not both")
        options = self._question_options(q)
        if not options:
            errors.append(f"{q.id}: no options")
        errors.extend(_duplicates(q.id, [o.id for o in options]))
        if set(q.exclusive) - {o.id for o in options}:
            errors.append(f"{q.id}: exclusive names unknown options")
        for ref, allowed in q.when.items():
            if ref not in asked_before:
                errors.append(f"{q.id}: condition on {ref!r}, which is not asked earlier")
            elif set(allowed) - set(asked_before[ref]):
                errors.append(f"{q.id}: condition on {ref!r} names unknown options")
        return errors

    def _question_options(self, q: QuestionSpec) -> tuple[Option, ...]:
        options: tuple[Option, ...] = ()
        if q.options_from == "fields":
            options = tuple(Option(id=f.id, text=f.name, emoji=f.emoji) for f in self.fields)
        if q.scale is not None:
            options += self.scales.get(q.scale, ())
        return options + q.options

    # ----------------------------------------------------------------- lookup

    def field(self, field_id: str) -> FieldSpec:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)

    @functools.cached_property
    def all_questions(self) -> tuple[Question, ...]:
        """Every question that any path can ask, in the order of the longest path's kind."""
        return tuple(self._iter_questions(None))

    @functools.cached_property
    def _question_index(self) -> dict[str, Question]:
        return {q.id: q for q in self.all_questions}

    def question(self, question_id: str) -> Question | None:
        """The question with this id, or None (e.g. an id from an older content version)."""
        return self._question_index.get(question_id)

    # ------------------------------------------------------------- branching

    def detailed_fields(self, answers: Answers) -> tuple[FieldSpec, ...]:
        """Fields whose years and tasks are asked: worked "a lot" before "a little", then file order.

        At most ``flow.max_detailed_fields``; returned in file order so the sequence of blocks stays
        put when a person edits one field's answer.
        """
        ranked: list[tuple[float, int, FieldSpec]] = []
        for index, f in enumerate(self.fields):
            value = self.answer_value(f.worked_id, answers)
            if value is not None and value > 0:
                ranked.append((-value, index, f))
        chosen = sorted(ranked, key=lambda item: (item[0], item[1]))[: self.flow.max_detailed_fields]
        return tuple(f for _, _, f in sorted(chosen, key=lambda item: item[1]))

    def questions_for(self, answers: Answers) -> list[Question]:
        """The ordered questions this person is asked, given the answers so far.

        Depends only on the set of answers, not on the order they were given. Unknown ids and invalid
        values are ignored. Answers to questions no longer on the path (a field changed to "no") stay
        stored but are not asked and not scored.
        """
        return list(self._iter_questions(answers))

    def active_answers(self, answers: Answers) -> dict[str, Answer]:
        """The valid answers to questions on this person's path, skips included."""
        active: dict[str, Answer] = {}
        for q in self.questions_for(answers):
            value = answers.get(q.id)
            if value is not None and q.accepts(value):
                active[q.id] = value if isinstance(value, str) else tuple(value)
        return active

    def next_question(self, answers: Answers) -> Question | None:
        """The first unanswered question on the path, or None when the check is complete."""
        for q in self.questions_for(answers):
            if not q.accepts(answers.get(q.id)):
                return q
        return None

    def progress(self, answers: Answers) -> tuple[int, int]:
        """(answered, total) on the current path, for a "7 / 32" display (show answered + 1)."""
        path = self.questions_for(answers)
        return sum(1 for q in path if q.accepts(answers.get(q.id))), len(path)

    def answer_value(self, question_id: str, answers: Answers) -> float | None:
        """The scale value of a single-choice answer, or None if unanswered, skipped or invalid."""
        q = self.question(question_id)
        value = answers.get(question_id)
        if q is None or not isinstance(value, str) or value == SKIP:
            return None
        option = q.option(value)
        return None if option is None else option.value

    def _iter_questions(self, answers: Answers | None) -> Iterator[Question]:
        """Questions in order; ``answers=None`` means every branch taken (the union of all paths)."""
        for section in self.sections:
            if section.id == INTERESTS_SECTION:
                yield from (self._interest_question(i) for i in self.interests)
            elif section.id == FIELDS_SECTION:
                yield from (self._worked_question(f) for f in self.fields)
            elif section.id == DETAILS_SECTION:
                detailed = self.fields if answers is None else self.detailed_fields(answers)
                for f in detailed:
                    yield self._years_question(f)
                    yield from (self._task_question(f, t) for t in f.tasks)
            else:
                for spec in self.questions:
                    if spec.section == section.id and (answers is None or self._condition_met(spec, answers)):
                        yield self._general_question(spec)

    def _condition_met(self, spec: QuestionSpec, answers: Answers) -> bool:
        return all(answers.get(ref) in allowed for ref, allowed in spec.when.items())

    def _interest_question(self, item: InterestSpec) -> Question:
        step = self.flow.interest
        return Question(
            id=item.id,
            section=INTERESTS_SECTION,
            kind="single",
            text=item.text,
            prompt=step.prompt,
            options=self.scales[step.scale],
            emoji=item.emoji,
            image=item.image,
            audio=item.audio or None,
        )

    def _worked_question(self, f: FieldSpec) -> Question:
        step = self.flow.worked
        return Question(
            id=f.worked_id,
            section=FIELDS_SECTION,
            kind="single",
            text=step.prompt,
            options=self.scales[step.scale],
            emoji=f.emoji,
            title=f.name,
            hint=f.hint,
            field=f.id,
            image=f.image,
            audio=f.audio or None,
        )

    def _years_question(self, f: FieldSpec) -> Question:
        step = self.flow.years
        return Question(
            id=f.years_id,
            section=DETAILS_SECTION,
            kind="single",
            text=step.prompt,
            options=self.scales[step.scale],
            emoji=f.emoji,
            title=f.name,
            hint=f.hint,
            field=f.id,
            image=step.image,
            audio=step.audio or None,
        )

    def _task_question(self, f: FieldSpec, task: TaskSpec) -> Question:
        step = self.flow.task
        return Question(
            id=task.id,
            section=DETAILS_SECTION,
            kind="single",
            text=task.text,
            prompt=step.prompt,
            options=self.scales[step.scale],
            emoji=task.emoji or f.emoji,
            title=f.name,
            field=f.id,
            image=task.image,
            audio=task.audio or None,
        )

    def _general_question(self, spec: QuestionSpec) -> Question:
        return Question(
            id=spec.id,
            section=spec.section,
            kind=spec.kind,
            text=spec.text,
            options=self._question_options(spec),
            emoji=spec.emoji,
            image=spec.image,
            audio=spec.audio or None,
            exclusive=spec.exclusive,
        )

    # ----------------------------------------------------------------- texts

    def iter_texts(self) -> Iterator[tuple[str, str]]:
        """Every user-visible text as (where, msgid), in file order; ``where`` is an item id path."""
        for key, text in self.texts.items():
            yield f"texts.{key}", text.text
        for section in self.sections:
            yield f"sections.{section.id}", section.title
        for name in ("interest", "worked", "years", "task"):
            yield f"flow.{name}", getattr(self.flow, name).prompt
        for scale_id, options in self.scales.items():
            yield from ((f"scales.{scale_id}.{o.id}", o.text) for o in options)
        for f in self.fields:
            yield f.id, f.name
            yield f.id, f.hint
            yield from ((t.id, t.text) for t in f.tasks)
        yield from ((i.id, i.text) for i in self.interests)
        for q in self.questions:
            yield q.id, q.text
            yield from ((f"{q.id}.{o.id}", o.text) for o in q.options)
        for name in Notes.model_fields:
            yield f"notes.{name}", getattr(self.notes, name).text
        for name in ReasonTexts.model_fields:
            yield f"reasons.{name}", getattr(self.reasons, name).text

    def msgids(self) -> frozenset[str]:
        """All msgids of the content (for catalogs and tests)."""
        return frozenset(text for _, text in self.iter_texts())

    def media_path(self, relative: str) -> Path:
        """Absolute path of an image or audio file named in the content."""
        _check_relative(relative)
        return (self.base_dir or DEFAULT_CONTENT_PATH.parent) / relative


def _duplicates(where: str, ids: Sequence[str]) -> list[str]:
    dup = sorted({i for i in ids if ids.count(i) > 1})
    return [f"{where}: duplicate ids {dup}"] if dup else []


def parse_content(data: Mapping[str, Any], base_dir: Path | None = None) -> CheckContent:
    """Validate already-parsed content data (tests use it for modified copies)."""
    try:
        return CheckContent.model_validate({**data, "base_dir": base_dir})
    except ContentError:
        raise
    except ValueError as exc:  # pydantic.ValidationError, including our ContentError wrapped by it
        raise ContentError(str(exc)) from exc


@functools.lru_cache(maxsize=8)
def _load(path: Path) -> CheckContent:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ContentError(f"{path}: not a mapping")
    return parse_content(data, base_dir=path.parent)


def load_content(path: Path | str | None = None) -> CheckContent:
    """Load and validate the content file (default: ``content.yaml`` beside this module); cached."""
    return _load(Path(path).resolve() if path is not None else DEFAULT_CONTENT_PATH)
