"""Reasons of the check for tasks done only "sometimes", by hand: scoring, rendering, stored on both backends.

``scoring._reasons`` names the tasks a person did "often"; only when there is none it falls back to the
tasks done "sometimes", under their own kind ``sometimes_done``. ``service.reason_lines`` puts the lead
phrase of the kind before them, and nothing when the content has no phrase for a stored kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from fractions import Fraction as F
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.check import SKIP, Question, load_content, score
from dialogs.check.content import Answer
from dialogs.check.scoring import FieldScore, Profile, Reason
from dialogs.check.service import (
    answer_question,
    finish,
    get_run,
    profile_lines,
    reason_lines,
    start_or_resume,
    stored_profile,
)
from storage.db import create_engine, create_sessionmaker
from storage.models import Person

CONTENT = load_content()

# Metal: worked a lot for more than 3 years, did four tasks sometimes and none often.
# Electrical: worked a lot for more than 3 years, laid cables often and connected sockets sometimes.
# Every interest "not sure", no other field, no condition that adds a note.
TASKS: dict[str, Answer] = {
    "metal.cut": "sometimes",
    "metal.drill": "never",
    "metal.weld": "sometimes",
    "metal.measure": "sometimes",
    "metal.frame": "sometimes",  # the 4th: over max_reason_items (3)
    "metal.lathe": "never",
    "metal.drawing": SKIP,
    "electrical.cables": "often",
    "electrical.socket": "sometimes",  # an "often" exists: the "sometimes" tasks are not reasons
    "electrical.lamp": "never",
    "electrical.fault": "never",
    "electrical.tester": "never",
    "electrical.fusebox": "never",
    "electrical.solder": "never",
}
ANSWERS: dict[str, Answer] = {
    **{i.id: "not_sure" for i in CONTENT.interests},
    **{f.worked_id: "no" for f in CONTENT.fields},
    "metal.worked": "a_lot",
    "electrical.worked": "a_lot",
    "metal.years": "gt3",
    "electrical.years": "gt3",
    **TASKS,
    "edu.school": "9_12",
    "edu.training": "none",
    "lang.spoken": ["fa"],
    "work.shifts": "yes",
    "work.physical": "yes",
    "work.licence": ["B"],
    "work.transport": "car",
    "work.start": "now",
}

WORKED = Reason("worked", "metal.years", "More than 3 years")
METAL_REASONS = (
    WORKED,
    Reason("sometimes_done", "metal.cut", "I have cut or sawn metal."),
    Reason("sometimes_done", "metal.weld", "I have welded metal."),
    Reason("sometimes_done", "metal.measure", "I have measured parts with a caliper."),
)
ELECTRICAL_REASONS = (
    Reason("worked", "electrical.years", "More than 3 years"),
    Reason("often_done", "electrical.cables", "I have laid cables in a building."),
)
METAL_LINES = [
    "You have worked in this field: More than 3 years",
    "You have sometimes done this: I have cut or sawn metal.; I have welded metal.; "
    "I have measured parts with a caliper.",
]
ELECTRICAL_LINES = [
    "You have worked in this field: More than 3 years",
    "You have often done this: I have laid cables in a building.",
]


def identity(text: str) -> str:
    return text


def test_hand_calculation_of_the_sometimes_profile() -> None:
    # E = min(1, 0.2·W + 0.5·T + 0.3·Y), I = 0 (every interest "not sure"), score = 100·0.6·E
    # metal: W = 1, Y = 1, T = (0.5 + 0 + 0.5 + 0.5 + 0.5 + 0) / 6 = 1/3 (drawing skipped)
    e_metal = F("0.2") + F("0.5") * F(1, 3) + F("0.3")
    assert e_metal == F(2, 3) and 100 * F("0.6") * e_metal == 40  # E 66.7 → 67
    # electrical: W = 1, Y = 1, T = (1 + 0.5) / 7 = 3/14
    e_electrical = F("0.2") + F("0.5") * F(3, 14) + F("0.3")
    assert e_electrical == F(17, 28) and 100 * F("0.6") * e_electrical == F(255, 7)  # 36.43 → 36, E 60.7 → 61
    profile = score(ANSWERS, CONTENT)
    assert profile.field_score("metal") == FieldScore("metal", "Metal", "🔩", 40, 67, 0)
    assert profile.field_score("electrical") == FieldScore("electrical", "Electrical work", "⚡", 36, 61, 0)
    assert {f: s for f, s in profile.scores.items() if s} == {"metal": 40, "electrical": 36}
    assert profile.top_fields == ("metal", "electrical")  # both above 30, best first
    assert profile.notes == ()


def test_only_sometimes_done_tasks_become_sometimes_reasons() -> None:
    profile = score(ANSWERS, CONTENT)
    assert profile.reasons == (("metal", METAL_REASONS), ("electrical", ELECTRICAL_REASONS))
    assert reason_lines(profile, "metal", CONTENT, identity) == METAL_LINES
    assert reason_lines(profile, "electrical", CONTENT, identity) == ELECTRICAL_LINES


def test_one_often_replaces_every_sometimes() -> None:
    profile = score({**ANSWERS, "metal.frame": "often"}, CONTENT)
    assert profile.reasons_for("metal") == (
        WORKED, Reason("often_done", "metal.frame", "I have built a gate or frame from steel."),
    )


def test_no_task_done_gives_no_task_reason() -> None:
    never = {t.id: "never" for t in CONTENT.field("metal").tasks}
    profile = score({**ANSWERS, **never, "interest.machines": "like"}, CONTENT)
    # metal: E = 0.2 + 0 + 0.3 = 0.5; I = machines 3×1 / (machines 3 + build 2 + repair 1 + measure 2) = 3/8
    # score = 100 × (0.6 × 0.5 + 0.4 × 3/8) = 30 + 15 = 45
    assert profile.score_of("metal") == 45 and "metal" in profile.top_fields
    assert profile.reasons_for("metal") == (WORKED, Reason("likes", "interest.machines", "Working with machines"))


def test_a_kind_without_a_lead_phrase_shows_its_items_alone() -> None:
    """A stored profile may carry a kind the current content has no phrase for: the items, no lead."""
    profile = Profile.from_dict({
        "content_id": CONTENT.id,
        "content_version": CONTENT.version,
        "fields": [{"field": "metal", "name": "Metal", "emoji": "🔩", "score": 40}],
        "top_fields": ["metal"],
        "reasons": {"metal": [
            {"kind": "sometimes_done", "item": "metal.cut", "text": "I have cut or sawn metal."},
            {"kind": "watched", "item": "metal.old", "text": "I have watched welding."},
            {"kind": "watched", "item": "metal.old2", "text": "I have watched milling."},
        ]},
    })
    marked = reason_lines(profile, "metal", CONTENT, lambda s: f"<{s}>")
    assert marked == [
        "<You have sometimes done this:> <I have cut or sawn metal.>",
        "<I have watched welding.>; <I have watched milling.>",
    ]


def choose(q: Question) -> Any:
    return ANSWERS[q.id]


@pytest.fixture
async def session(migrated_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(migrated_url)
    try:
        async with create_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()


async def test_sometimes_reasons_survive_storing_and_render_in_the_profile(session: AsyncSession) -> None:
    person = Person(telegram_user_id=4301, chat_id=4301, language="fa", first_name="Reza", roles=[])
    session.add(person)
    await session.commit()
    run = await start_or_resume(session, person, CONTENT)
    while (q := CONTENT.next_question(run.answers)) is not None:
        await answer_question(session, run, CONTENT, q.id, choose(q))
    assert run.answers == ANSWERS
    await finish(session, run, CONTENT, None)
    await session.commit()
    assert run.id is not None
    run_id = run.id

    session.expunge_all()
    stored = await get_run(session, run_id)
    assert stored is not None
    profile = stored_profile(stored)
    assert profile is not None
    assert profile.reasons_for("metal") == METAL_REASONS
    lines = profile_lines(profile, CONTENT, identity)
    start = lines.index("1. 🔩 Metal")
    assert lines[start:] == [
        "1. 🔩 Metal",
        *(f"• {line}" for line in METAL_LINES),
        "",
        "2. ⚡ Electrical work",
        *(f"• {line}" for line in ELECTRICAL_LINES),
    ]
