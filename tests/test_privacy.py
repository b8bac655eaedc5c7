"""Consent records, export and retention on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from dialogs.onboarding.service import save_name, save_phone, save_region
from dialogs.privacy.jobs import retention_job
from dialogs.privacy.service import Purpose, current_consents, export_person, record_consent
from storage.db import create_engine, create_sessionmaker
from storage.models import ConsentRecord, ErasureEvent, Person, Role
from storage.types import utcnow
from storage.uow import unit_of_work


async def test_consent_history_and_retention(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    sessionmaker = create_sessionmaker(engine)
    now = utcnow()
    try:
        async with unit_of_work(sessionmaker) as session:
            people = {}
            for key, tg_id in (("active", 1), ("silent", 2), ("withdrew", 3), ("coordinator", 4)):
                person = Person(telegram_user_id=tg_id, chat_id=tg_id, language="ar", roles=[],
                                last_seen_at=now - timedelta(days=400 if key in ("silent", "coordinator") else 1))
                if key == "coordinator":
                    person.add_role(Role.COORDINATOR)
                session.add(person)
                await session.commit()
                await record_consent(session, person, Purpose.STORE, True)
                await save_name(session, person, "Name" + "abcd"[tg_id - 1])
                await save_region(session, person, "ammerland")
                await save_phone(session, person, "0176 1234567" + str(tg_id))
                people[key] = person
            await record_consent(session, people["withdrew"], Purpose.SHARE, True)
            await record_consent(session, people["withdrew"], Purpose.STORE, False)
            assert people["withdrew"].id is not None
            assert await current_consents(session, people["withdrew"].id) == {
                Purpose.STORE: False, Purpose.SHARE: True
            }
            withdrawn_rows = (await session.exec(select(ConsentRecord).where(
                ConsentRecord.person_id == people["withdrew"].id, ConsentRecord.purpose == "store_answers"
            ))).all()
            assert [r.accepted for r in withdrawn_rows] == [True, False]
            assert withdrawn_rows[0].withdrawn_at is not None

            exported = await export_person(session, people["active"])
            assert exported["person"]["first_name"] == "Namea"
            assert exported["participant_profile"]["phone"] == "+491761234567" + "1"

        result = await retention_job(sessionmaker, retention_months=12)
        assert (result.withdrawn, result.inactive) == (1, 1)
        async with sessionmaker() as session:
            left = sorted(p.telegram_user_id or 0 for p in (await session.exec(select(Person))).all())
            assert left == [1, 4]  # the active participant and the coordinator
            reasons = sorted(e.reason for e in (await session.exec(select(ErasureEvent))).all())
            assert reasons == ["inactive", "withdrawn"]
            assert not (await session.exec(select(ConsentRecord).where(ConsentRecord.person_id.in_(  # type: ignore[union-attr]
                [people["silent"].id, people["withdrew"].id]
            )))).all()
        # Running again erases nothing more.
        assert await retention_job(sessionmaker, retention_months=12) == type(result)(0, 0)
    finally:
        await engine.dispose()


async def test_erasure_removes_pending_messages_too(migrated_url: str) -> None:
    """An outbox row holds the chat id (the Telegram id) and often a name: it must go with the person."""
    from dialogs import outbox
    from dialogs.privacy.service import ErasureReason, erase_person
    from storage.outbox import OutboxMessage

    engine = create_engine(migrated_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            person = Person(telegram_user_id=555, chat_id=555, language="so", roles=[])
            session.add(person)
            await session.commit()
            await outbox.schedule(session, person=person, text="Salaan Hodan", key="x:1")
            await session.commit()
            await erase_person(session, person, ErasureReason.REQUEST)
            assert (await session.exec(select(OutboxMessage))).all() == []
    finally:
        await engine.dispose()
