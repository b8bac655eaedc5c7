"""/mydata gives everything stored about the person: every row of every table that references them, found
through the schema (as erasure finds them), and a short summary in their language."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Table
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

import storage
from dialogs.check import load_content
from dialogs.check.service import answer_question, finish, revise, save_free_text, start_or_resume
from dialogs.onboarding.service import save_german_level, save_name, save_phone, save_region
from dialogs.outbox import schedule
from dialogs.privacy.service import Purpose, export_person, export_section, record_consent
from dialogs.text import format_day, strip_isolates
from storage.check import Assessment, AssessmentStatus
from storage.db import create_engine, create_sessionmaker
from storage.erasure import tables_referencing_person
from storage.models import Person
from tests.harness import running_bot
from tests.onboard import onboard, say, translator

CONTENT = load_content()

# Every table module, also those no feature imports yet: the schema as the migrations know it.
for module in pkgutil.iter_modules(storage.__path__):
    if not module.ispkg:
        importlib.import_module(f"storage.{module.name}")


def _exported_columns(table: Table) -> set[str]:
    """The columns a section must show: all but primary keys and the references to the person."""
    return {
        c.name for c in table.columns
        if not c.primary_key and not any(fk.column.table.name == "person" for fk in c.foreign_keys)
    }


@pytest.fixture
async def session(migrated_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(migrated_url)
    try:
        async with create_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()


async def participant(session: AsyncSession, tg_id: int, name: str) -> tuple[Person, Assessment]:
    """Registration and the check, answer by answer through the services, as the bot stores them."""
    person = Person(telegram_user_id=tg_id, chat_id=tg_id, language="ar", roles=[])
    session.add(person)
    await session.flush()
    for purpose in Purpose:
        await record_consent(session, person, purpose, True)
    await save_name(session, person, name)
    await save_region(session, person, "delmenhorst")
    await save_german_level(session, person, "A2")
    await save_phone(session, person, "0176 12345678")
    run = await start_or_resume(session, person, CONTENT)
    while (q := CONTENT.next_question(run.answers)) is not None:
        await answer_question(session, run, CONTENT, q.id, [q.options[0].id] if q.kind == "multi" else q.options[-1].id)
    await save_free_text(session, run, "أصلح الدراجات")
    run.free_text_de = "Ich repariere Fahrräder"  # as the translation service will fill it in
    await finish(session, run, CONTENT, "A2")
    await schedule(session, person=person, text=f"Hello {name}, see you on Monday", key=f"test:{tg_id}")
    return person, run


async def test_the_export_has_every_table_that_references_the_person(session: AsyncSession) -> None:
    person, run = await participant(session, 1, "Amira")
    other, _ = await participant(session, 2, "Olena")
    again = await revise(session, person, CONTENT)  # a second run, in progress, copied from the first
    await session.commit()

    exported = await export_person(session, person)
    json.dumps(exported)  # plain JSON, nothing else

    referencing = tables_referencing_person()
    assert {t.name for t, _c, _k in referencing} >= {"participant_profile", "consent_record", "assessment",
                                                    "outbox_message"}
    # Every table with a foreign key to person has its section, with all its columns (ids left out): a table
    # added later is in the export without anyone remembering to add it.
    assert set(exported) == {"person"} | {export_section(t.name) for t, _c, _k in referencing}
    person_table: Table = Person.__table__  # type: ignore[attr-defined]
    assert set(exported["person"]) == _exported_columns(person_table)
    for table, _column, _keep in referencing:
        section = exported[export_section(table.name)]
        for row in section if isinstance(section, list) else [section]:
            assert set(row) == _exported_columns(table), table.name

    for name in ("participant_profile", "consents", "assessment", "outbox_message"):
        assert exported[name], f"nothing of {name} exported"
    assert exported["person"]["first_name"] == "Amira" and exported["person"]["telegram_user_id"] == 1
    assert exported["participant_profile"]["phone"] == "+4917612345678"
    assert len(exported["consents"]) == 3

    # The check: both runs, with answers, scores, free text and its German, version, status and dates.
    runs = exported["assessment"]
    assert [r["status"] for r in runs] == [AssessmentStatus.COMPLETED.value, AssessmentStatus.IN_PROGRESS.value]
    done = runs[0]
    assert done["answers"] == run.answers and len(done["answers"]) >= 36
    assert done["profile"] == run.profile and done["profile"]["fields"]
    assert (done["free_text"], done["free_text_de"]) == ("أصلح الدراجات", "Ich repariere Fahrräder")
    assert (done["content_id"], done["content_version"]) == (CONTENT.id, CONTENT.version)
    assert run.completed_at is not None
    assert datetime.fromisoformat(done["completed_at"]) == run.completed_at
    assert runs[1]["answers"] == again.answers and runs[1]["completed_at"] is None

    # Messages the bot keeps for the person hold texts about them: in the file too.
    assert [m["text"] for m in exported["outbox_message"]] == ["Hello Amira, see you on Monday"]

    # Nothing of anyone else.
    assert "Olena" not in json.dumps(exported, ensure_ascii=False)
    assert other.id is not None and (await export_person(session, other))["person"]["first_name"] == "Olena"


async def test_a_person_with_nothing_but_ids(session: AsyncSession) -> None:
    person = Person(telegram_user_id=3, chat_id=3, roles=[])
    session.add(person)
    await session.commit()
    exported = await export_person(session, person)
    assert exported["participant_profile"] is None and exported["assessment"] == [] and exported["consents"] == []


async def test_mydata_names_things_and_mentions_the_check(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        i18n = h.rt.dp["i18n"]
        t = translator(i18n, "en")
        user = h.emu.user(8901, "Tg", language_code="en")
        await onboard(user, i18n, "en", name="Amal", region="🌳 Ammerland", level="A2 · simple everyday talk")
        await say(user, "/mydata")
        summary = strip_isolates(user.messages[-2].text)
        assert "Language: English" in summary and "🌳 Ammerland" in summary and "A2 · simple everyday talk" in summary
        assert "🧭" not in summary  # no check yet: no line about it

        async with h.rt.sessionmaker() as session:
            person = (await session.exec(select(Person).where(Person.telegram_user_id == user.id))).one()
            run = await start_or_resume(session, person, CONTENT)
            while (q := CONTENT.next_question(run.answers)) is not None:
                await answer_question(session, run, CONTENT, q.id, [q.options[0].id] if q.kind == "multi"
                                      else q.options[0].id)
            await finish(session, run, CONTENT, "A2")
            await session.commit()
            assert run.completed_at is not None
            day = format_day(run.completed_at, "en")
            answers = dict(run.answers)

        await say(user, "/mydata")
        summary = strip_isolates(user.messages[-2].text)
        assert t("🧭 Competence check: finished on {date}").format(date=day) in summary
        document = user.messages[-1]
        assert document.kind == "document" and document.document_bytes is not None
        data: dict[str, Any] = json.loads(document.document_bytes)
        assert data["assessment"][0]["answers"] == answers and data["assessment"][0]["profile"]["fields"]

