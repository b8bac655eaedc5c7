"""The check service on real databases (SQLite and PostgreSQL): runs, answers, finishing, matching, erasure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.check import SKIP, Question, load_content, score
from dialogs.check.content import CheckContent, parse_content
from dialogs.check.demo_offers import DEMO_COMPANIES, seed_demo_offers
from dialogs.check.scoring import Profile
from dialogs.check.service import (
    anonymous_code,
    answer_question,
    finish,
    in_progress,
    latest_completed,
    list_completed,
    previous_question,
    profile_lines,
    rank_offers,
    restart,
    revise,
    save_free_text,
    sheet_for,
    start_or_resume,
    stored_profile,
)
from dialogs.errors import InvalidAnswer
from dialogs.privacy.service import ErasureReason, Purpose, erase_person, record_consent
from storage.check import Assessment, AssessmentStatus
from storage.companies import Company, HospitationOffer
from storage.db import create_engine, create_sessionmaker
from storage.models import ParticipantProfile, Person, Role

CONTENT = load_content()

Chooser = Callable[[Question], Any]


def metal_person(q: Question) -> Any:
    """Likes machines, worked a lot in metal and welded often; everything else the first option."""
    wanted = {
        "interest.machines": "like",
        "metal.worked": "a_lot",
        "metal.years": "y1_3",
        "lang.spoken": ["ar", "ru"],
        "work.licence": ["B"],
    }
    if q.id in wanted:
        return wanted[q.id]
    if q.id.startswith("metal.") and q.section == "details":
        return "often"
    return [q.options[0].id] if q.kind == "multi" else q.options[0].id


@pytest.fixture
async def session(migrated_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(migrated_url)
    try:
        async with create_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()


async def make_person(session: AsyncSession, tg_id: int = 1, *, share: bool = True, region: str = "ammerland") -> Person:
    person = Person(telegram_user_id=tg_id, chat_id=tg_id, language="en", first_name="Amal", roles=[Role.PARTICIPANT])
    session.add(person)
    await session.commit()
    assert person.id is not None
    session.add(ParticipantProfile(person_id=person.id, region=region, german_level="A2"))
    await session.commit()
    await record_consent(session, person, Purpose.STORE, True)
    await record_consent(session, person, Purpose.SHARE, share)
    return person


async def answer_all(session: AsyncSession, run: Assessment, choose: Chooser, content: CheckContent = CONTENT) -> int:
    count = 0
    while (q := content.next_question(run.answers)) is not None:
        await answer_question(session, run, content, q.id, choose(q))
        count += 1
    return count


async def test_run_is_stored_answer_by_answer_and_scored(session: AsyncSession) -> None:
    person = await make_person(session)
    run = await start_or_resume(session, person, CONTENT)
    assert await start_or_resume(session, person, CONTENT) is run  # resumed, not a second run
    asked = await answer_all(session, run, metal_person)
    assert asked == 36 + 8  # shortest path plus the metal block
    session.expunge_all()

    stored = await in_progress(session, person.id or 0)
    assert stored is not None and stored.answers == run.answers
    profile = await finish(session, stored, CONTENT, "A2")
    assert stored.status == AssessmentStatus.COMPLETED.value and stored.completed_at is not None
    assert profile == score(stored.answers, CONTENT, german_level="A2")
    assert profile.top_fields[0] == "metal"

    session.expunge_all()
    done = await latest_completed(session, person.id or 0)
    assert done is not None and stored_profile(done) == profile
    assert await in_progress(session, person.id or 0) is None


async def test_invalid_answers_are_refused(session: AsyncSession) -> None:
    person = await make_person(session)
    run = await start_or_resume(session, person, CONTENT)
    with pytest.raises(InvalidAnswer):
        await answer_question(session, run, CONTENT, "interest.machines", "often")  # not on its scale
    with pytest.raises(InvalidAnswer):
        await answer_question(session, run, CONTENT, "metal.weld", "often")  # not on the path yet
    with pytest.raises(InvalidAnswer):
        await answer_question(session, run, CONTENT, "lang.spoken", ["ar", "ar"])
    with pytest.raises(InvalidAnswer):
        await finish(session, run, CONTENT, None)
    await answer_question(session, run, CONTENT, "interest.machines", SKIP)
    assert CONTENT.progress(run.answers) == (1, 36)


async def test_back_edit_restart_and_revise(session: AsyncSession) -> None:
    person = await make_person(session)
    run = await start_or_resume(session, person, CONTENT)
    first, second = CONTENT.questions_for({})[:2]
    assert previous_question(CONTENT, run.answers, None) is None
    await answer_question(session, run, CONTENT, first.id, "like")
    back = previous_question(CONTENT, run.answers, None)
    assert back is not None and back.id == first.id
    await answer_question(session, run, CONTENT, first.id, "dislike")  # answering again overwrites
    assert run.answers[first.id] == "dislike"
    assert CONTENT.next_question(run.answers) == second

    fresh = await restart(session, person, CONTENT)
    assert fresh.answers == {}
    assert len((await session.exec(select(Assessment).where(Assessment.person_id == person.id))).all()) == 1
    await answer_all(session, fresh, metal_person)
    await save_free_text(session, fresh, "  I can  bake bread. ")
    assert fresh.free_text == "I can bake bread."
    with pytest.raises(InvalidAnswer):
        await save_free_text(session, fresh, "x" * 5000)
    before = await finish(session, fresh, CONTENT, "A2")

    # Revising copies the completed answers into a new run; the completed one stays as it was.
    again = await revise(session, person, CONTENT)
    assert again.id != fresh.id and again.answers == fresh.answers and again.free_text == fresh.free_text
    await answer_question(session, again, CONTENT, "metal.worked", "no")
    assert CONTENT.next_question(again.answers) is None  # the metal block left the path
    changed = await finish(session, again, CONTENT, "A2")
    assert (changed.score_of("metal") or 0) < (before.score_of("metal") or 0)
    assert stored_profile(fresh) == before
    rows = (await session.exec(select(Assessment).where(Assessment.person_id == person.id))).all()
    assert sorted(r.status for r in rows) == ["completed", "completed"]


async def test_old_profiles_stay_readable_after_a_content_change(session: AsyncSession) -> None:
    person = await make_person(session)
    run = await start_or_resume(session, person, CONTENT)
    await answer_all(session, run, metal_person)
    old = await finish(session, run, CONTENT, "A2")

    data = CONTENT.model_dump(exclude={"base_dir"})
    data["version"] = CONTENT.version + 1
    data["fields"] = [f for f in data["fields"] if f["id"] != "metal"]
    data["interests"] = [{**i, "fields": {k: v for k, v in i["fields"].items() if k != "metal"}} for i in data["interests"]]
    newer = parse_content(data)

    session.expunge_all()
    done = await latest_completed(session, person.id or 0)
    assert done is not None and done.content_version == CONTENT.version
    profile = stored_profile(done)
    assert profile == old and not profile.is_current(newer)
    text = "\n".join(profile_lines(profile, newer, lambda s: s))
    assert "Metal" in text and "I have welded metal." in text  # the gone field still renders from the profile
    rescored = score(done.answers, newer)
    assert rescored.score_of("metal") is None and rescored.content_version == CONTENT.version + 1


async def test_sheet_shows_the_name_only_with_the_sharing_consent(session: AsyncSession) -> None:
    sharing = await make_person(session, 1, share=True)
    private = await make_person(session, 2, share=False)
    for person in (sharing, private):
        run = await start_or_resume(session, person, CONTENT)
        await answer_all(session, run, metal_person)
        await finish(session, run, CONTENT, "A2")
    listed = {run.person_id: sheet for run, sheet in await list_completed(session)}
    assert listed[sharing.id or 0].display_name == "Amal" and listed[sharing.id or 0].named
    code = anonymous_code(private.id or 0)
    assert listed[private.id or 0].display_name == code and code.startswith("PC-") and len(code) == 7

    await record_consent(session, sharing, Purpose.SHARE, False)  # withdrawn: anonymous from now on
    run = await latest_completed(session, sharing.id or 0)
    assert run is not None
    assert (await sheet_for(session, run)).display_name == anonymous_code(sharing.id or 0)


async def test_offers_are_ranked_by_field_region_and_language(session: AsyncSession) -> None:
    added = await seed_demo_offers(session)
    assert added == len(DEMO_COMPANIES) + sum(len(c.offers) for c in DEMO_COMPANIES)
    assert await seed_demo_offers(session) == 0  # idempotent
    assert len((await session.exec(select(Company))).all()) == len(DEMO_COMPANIES)

    person = await make_person(session, region="landkreis_oldenburg")
    run = await start_or_resume(session, person, CONTENT)
    await answer_all(session, run, metal_person)
    profile = await finish(session, run, CONTENT, "A2")
    ranked = await rank_offers(session, profile, person)
    best = ranked[0]
    assert best.offer.field == "metal" and best.company.name == "Maschinenbau Hunte (Demo)"
    assert best.same_region and best.shared_languages == ("ru",)
    assert best.fit == min(100, round(0.7 * (profile.score_of("metal") or 0) + 20 + 10))
    assert [r.fit for r in ranked] == sorted((r.fit for r in ranked), reverse=True)
    assert all(r.field_score > 0 for r in ranked)

    offer = best.offer
    offer.active = False
    session.add(offer)
    await session.commit()
    assert all(r.offer.id != offer.id for r in await rank_offers(session, profile, person))
    assert isinstance(Profile.from_dict(profile.to_dict()), Profile)


async def test_erasure_removes_the_runs(session: AsyncSession) -> None:
    person = await make_person(session)
    run = await start_or_resume(session, person, CONTENT)
    await answer_all(session, run, metal_person)
    await finish(session, run, CONTENT, None)
    await erase_person(session, person, ErasureReason.REQUEST)
    assert (await session.exec(select(Assessment))).all() == []
    await seed_demo_offers(session)
    assert (await session.exec(select(HospitationOffer))).first() is not None
