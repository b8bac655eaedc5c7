"""The feature contract, exercised from outside ``bot/``: a tiny feature defined here, registered in a test
app, gets its menu entry for the right role, resumes after a stale button, and its unit of work is one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery
from aiogram_dialog import Dialog, DialogManager, Window
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const
from sqlmodel import select

from dialogs import outbox
from dialogs.feature import Feature, MenuEntry, Resume, ResumeContext, Tap
from dialogs.privacy.service import Purpose, record_consent
from dialogs.registry import FEATURES
from dialogs.text import strip_isolates
from storage.models import ConsentRecord, Person, Role
from storage.outbox import OutboxMessage
from storage.uow import unit_of_work
from tests.harness import running_bot
from tests.onboard import say, step, tap_data, translator

COORDINATOR = 9001
PARTICIPANT = 9002


class ExerciseSG(StatesGroup):
    main = State()


opened: set[int] = set()  # who opened the exercise: its resume hook sends them back there


class ServiceFailed(Exception):
    pass


async def _open(tap: Tap) -> None:
    assert tap.person.telegram_user_id is not None
    opened.add(tap.person.telegram_user_id)
    await tap.manager.start(ExerciseSG.main)


async def _resume(ctx: ResumeContext) -> Resume | None:
    return Resume(state=ExerciseSG.main) if ctx.person.telegram_user_id in opened else None


async def _noted(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await query.answer("noted")


async def _schedule_then(tap: Tap, *, fail: bool) -> None:
    """A service that stores a domain row and the outbox row it schedules, then (maybe) fails."""
    await record_consent(tap.session, tap.person, Purpose.CONTACT, True)
    await outbox.schedule(tap.session, person=tap.person, text="a notice", key=outbox.make_key("exercise", fail))
    if fail:
        raise ServiceFailed


async def _fails(tap: Tap) -> None:
    await _schedule_then(tap, fail=True)


async def _succeeds(tap: Tap) -> None:
    await _schedule_then(tap, fail=False)


exercise = Feature(
    name="exercise",
    dialogs=(Dialog(Window(Const("🧪 Exercise window"), Button(Const("Note"), id="note", on_click=_noted),
                           state=ExerciseSG.main)),),
    menu=(
        MenuEntry("exercise", "🧪 Exercise", _open, roles=frozenset({Role.COORDINATOR})),
        MenuEntry("fails", "💥 Fails", _fails, roles=frozenset({Role.COORDINATOR})),
        MenuEntry("succeeds", "✅ Succeeds", _succeeds, roles=frozenset({Role.COORDINATOR})),
    ),
    resume=_resume,
    templates=("🧪 Your exercise starts at {when}.",),
)
FEATURES_WITH_EXERCISE = (*FEATURES, exercise)


@pytest.fixture(autouse=True)
def nobody_opened_it() -> None:
    opened.clear()


async def _to_menu(user: Any) -> None:
    await say(user, "/start")
    await step(user, "Deutsch")


async def test_a_new_feature_gets_its_menu_entry_and_resumes_after_a_stale_button(sqlite_url: str) -> None:
    async with running_bot(sqlite_url, features=FEATURES_WITH_EXERCISE, coordinator_ids=str(COORDINATOR)) as h:
        emu = h.emu
        t = translator(h.rt.dp["i18n"], "de")
        coordinator = emu.user(COORDINATOR, "Kim", language_code="de")
        await _to_menu(coordinator)
        assert "🧪 Exercise" in coordinator.last.flat_buttons

        participant = emu.user(PARTICIPANT, "Amira", language_code="de")
        await say(participant, "/start")
        await step(participant, "Deutsch")
        assert "🧪 Exercise" not in participant.last.text
        # The participant forges the coordinator's menu button: refused, nothing opened.
        answer = await tap_data(participant, "menu:exercise")
        assert answer == t("🚫 This is not available for you.") != "🚫 This is not available for you."
        assert PARTICIPANT not in opened

        await step(coordinator, "🧪 Exercise")
        window = coordinator.last
        assert window.text == "🧪 Exercise window"

    # A restart forgets every dialog (memory storage): the old window's button is stale, and the feature's
    # own resume hook, asked by the runtime, opens the exercise again below.
    async with emu, running_bot(sqlite_url, emu=emu, features=FEATURES_WITH_EXERCISE,
                                coordinator_ids=str(COORDINATOR)):
        coordinator.take_new()
        answer = await tap_data(coordinator, window.data_for("Note"), window.message_id)
        assert answer == t("This button is no longer valid. Please use the newest message.")
        reopened = await coordinator.wait_message()
        assert reopened.text == "🧪 Exercise window" and reopened.message_id != window.message_id


async def test_a_failing_service_leaves_neither_the_domain_row_nor_its_outbox_row(sqlite_url: str) -> None:
    async with running_bot(sqlite_url, features=FEATURES_WITH_EXERCISE, coordinator_ids=str(COORDINATOR)) as h:
        coordinator = h.emu.user(COORDINATOR, "Kim", language_code="de")
        await _to_menu(coordinator)
        menu = coordinator.last

        await coordinator.press("💥 Fails")
        await coordinator.wait_callback_answer()
        await coordinator.settled()
        async with h.rt.sessionmaker() as session:
            assert (await session.exec(select(ConsentRecord))).all() == []
            assert (await session.exec(select(OutboxMessage))).all() == []

        # The same service without the failure: both rows are committed together, and the notice, due now,
        # goes out at once (the unit of work wakes the worker after committing).
        coordinator.take_new()
        await coordinator.press_data("menu:succeeds", menu.message_id)
        notice = await coordinator.wait_message()
        assert notice.text == "a notice"
        async with h.rt.sessionmaker() as session:
            person = (await session.exec(select(Person).where(Person.telegram_user_id == COORDINATOR))).one()
            consents = (await session.exec(select(ConsentRecord))).all()
            assert [(c.person_id, c.purpose) for c in consents] == [(person.id, Purpose.CONTACT.value)]
            assert len((await session.exec(select(OutboxMessage))).all()) == 1


async def test_outbox_templates_go_out_only_when_a_feature_declares_them(sqlite_url: str) -> None:
    """A declared template is rendered and sent; any other would reach the person untranslated, so it fails."""
    async with running_bot(sqlite_url, features=FEATURES_WITH_EXERCISE, coordinator_ids=str(COORDINATOR)) as h:
        coordinator = h.emu.user(COORDINATOR, "Kim", language_code="de")
        await _to_menu(coordinator)
        coordinator.take_new()
        async with unit_of_work(h.rt.sessionmaker) as session:
            person = (await session.exec(select(Person).where(Person.telegram_user_id == COORDINATOR))).one()
            await outbox.schedule(session, person=person, template="🧪 Your exercise starts at {when}.",
                                  args={"when": "10:00"}, key="exercise:declared")
            await outbox.schedule(session, person=person, template="Not declared {x}", args={"x": 1},
                                  key="exercise:undeclared")
        assert h.rt.delivery is not None
        h.rt.delivery.wake()
        sent = await coordinator.wait_message()
        assert strip_isolates(sent.text) == "🧪 Your exercise starts at 10:00."
        for _ in range(250):  # the worker writes outcomes every 100 ms
            if h.rt.delivery.idle:
                break
            await asyncio.sleep(0.02)
        async with h.rt.sessionmaker() as session:
            rows = {r.idempotency_key: r for r in (await session.exec(select(OutboxMessage))).all()}
        assert rows["exercise:declared"].status == "sent"
        assert rows["exercise:undeclared"].status == "failed"
        assert "not declared by any feature" in (rows["exercise:undeclared"].last_error or "")
