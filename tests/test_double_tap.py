"""Every press answers only what it was shown for: a double tap, or a button of an older window, never
answers a question the person has not seen (dialogs/widgets.py: Screen), through the real bot."""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import I18n
from sqlmodel import col, select

from dialogs.check import SKIP, Question, load_content
from dialogs.check.service import answer_question
from dialogs.registry import FEATURES
from dialogs.text import strip_isolates
from dialogs.widgets import CALLBACK_DATA_MAX, STALE, STAMP_LEN, STAMP_SEP, Screen
from emulator import ScriptedUser
from storage.check import Assessment
from storage.models import ConsentRecord, ParticipantProfile, Person
from storage.uow import unit_of_work
from tests.harness import Harness, running_bot
from tests.onboard import onboard, say, step, translator

CONTENT = load_content()
FIRST = CONTENT.next_question({})
assert FIRST is not None


def answers_to(h: Harness, query_ids: list[str]) -> list[str]:
    by_id = {a.callback_query_id: a.text for a in h.emu.callback_answers}
    return [by_id[q] for q in query_ids]


async def stored_answers(h: Harness, tg_id: int) -> dict[str, Any]:
    async with h.rt.sessionmaker() as session:
        person = (await session.exec(select(Person).where(Person.telegram_user_id == tg_id))).one()
        runs = (await session.exec(select(Assessment).where(Assessment.person_id == person.id))).all()
        assert len(runs) == 1
        return dict(runs[0].answers)


def option_label_of(question: Question, option_id: str) -> str:
    option = question.option(option_id)
    assert option is not None
    return f"{option.emoji} {option.text}" if option.emoji else option.text


def option_label(option_id: str) -> str:
    assert FIRST is not None
    return option_label_of(FIRST, option_id)


def progress(user: ScriptedUser) -> str:
    return strip_isolates(user.last.text).split(" · ")[0]


async def test_a_double_tap_in_the_check_answers_one_question(sqlite_url: str) -> None:
    assert FIRST is not None
    async with running_bot(sqlite_url) as h:
        i18n: I18n = h.rt.dp["i18n"]
        user = h.emu.user(8801, "Amal", language_code="en")
        await onboard(user, i18n, "en", name="Amal", phone=None)
        stale = translator(i18n, "en")(STALE)
        await step(user, "🧭 Competence check")
        _, total = CONTENT.progress({})
        assert progress(user) == f"🧭 1 / {total}"
        first = user.last
        like = FIRST.options[0]
        data = first.data_for(option_label(like.id))
        skip = first.data_for("⏭️ Skip")
        assert data is not None and skip is not None

        # Two taps on the same button, the second before the bot has answered the first.
        taps = [await user.press_data(data, first.message_id), await user.press_data(data, first.message_id)]
        await user.settled()
        assert await stored_answers(h, user.id) == {FIRST.id: like.id}
        assert progress(user) == f"🧭 2 / {total}" and user.last.message_id == first.message_id
        assert sorted(answers_to(h, taps)) == ["", stale]  # the one that came second, whichever it was

        # The first question's buttons, pressed again later: nothing is answered, nothing is redrawn.
        second = user.last
        user.take_new()
        late = [await user.press_data(first.data_for(option_label(FIRST.options[-1].id)), first.message_id),
                await user.press_data(skip, first.message_id)]
        await user.settled()
        assert answers_to(h, late) == [stale, stale]
        assert await stored_answers(h, user.id) == {FIRST.id: like.id}
        assert user.take_new() == [] and user.last == second

        # Back, tapped twice: one step back, to the first question, and nothing answered on the way.
        back = second.data_for("⬅️ Back")
        assert back is not None
        taps = [await user.press_data(back, second.message_id), await user.press_data(back, second.message_id)]
        await user.settled()
        assert progress(user) == f"🧭 1 / {total}"
        assert sorted(answers_to(h, taps)) == ["", stale]
        assert await stored_answers(h, user.id) == {FIRST.id: like.id}

        # Skip on the question shown still works, and a double tap of it skips one question only.
        skip = user.last.data_for("⏭️ Skip")
        assert skip is not None
        message_id = user.last.message_id
        taps = [await user.press_data(skip, message_id), await user.press_data(skip, message_id)]
        await user.settled()
        assert sorted(answers_to(h, taps)) == ["", stale]
        assert await stored_answers(h, user.id) == {FIRST.id: "_skip"}
        assert progress(user) == f"🧭 2 / {total}"

        # The stored answers moved on without this window (another device, a coordinator's correction): its
        # buttons still name the question it shows, which is no longer the one to answer; refused, redrawn.
        shown = user.last
        pressed = CONTENT.next_question({FIRST.id: "_skip"})
        assert pressed is not None
        async with unit_of_work(h.rt.sessionmaker) as session:
            run = (await session.exec(select(Assessment))).one()
            await answer_question(session, run, CONTENT, pressed.id, SKIP)
        data = shown.data_for(option_label_of(pressed, pressed.options[0].id))
        assert data is not None
        late = [await user.press_data(data, shown.message_id)]
        await user.settled()
        assert answers_to(h, late) == [stale]
        assert await stored_answers(h, user.id) == {FIRST.id: "_skip", pressed.id: "_skip"}
        assert progress(user) == f"🧭 3 / {total}"


async def test_a_double_tap_in_registration_answers_one_step(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        t = translator(h.rt.dp["i18n"], "en")
        user = h.emu.user(8802, "Tg", language_code="en")
        await say(user, "/start")
        await step(user, "English")
        await step(user, t("▶️ Continue"))
        await step(user, t("✅ Yes, I agree"))

        # Sharing, tapped twice: the second tap must not answer the next question (events).
        share = user.last
        data = share.data_for(t("✅ Yes"))
        assert data is not None and "🏭" in share.text
        taps = [await user.press_data(data, share.message_id), await user.press_data(data, share.message_id)]
        await user.settled()
        assert sorted(answers_to(h, taps)) == ["", t(STALE)]
        assert "📅" in user.last.text and user.last.has_button(t("✅ Yes"))
        async with h.rt.sessionmaker() as session:
            decided = (await session.exec(select(ConsentRecord.purpose).order_by(col(ConsentRecord.id)))).all()
        assert decided == ["store_answers", "share_with_companies"]

        await step(user, t("❌ No"))
        await say(user, "Amira")
        regions = user.last
        ammerland, delmenhorst = regions.data_for(t("🌳 Ammerland")), regions.data_for(t("🏘️ Delmenhorst"))
        assert ammerland is not None and delmenhorst is not None
        taps = [await user.press_data(ammerland, regions.message_id),
                await user.press_data(ammerland, regions.message_id)]
        await user.settled()
        assert sorted(answers_to(h, taps)) == ["", t(STALE)]
        assert "🗣️" in user.last.text  # the German question, unanswered

        # An old region button after moving on: refused, the region stays, the German question stays.
        german = user.last
        late = await user.press_data(delmenhorst, regions.message_id)
        await user.settled()
        assert answers_to(h, [late]) == [t(STALE)]
        assert user.last == german
        async with h.rt.sessionmaker() as session:
            profile = (await session.exec(select(ParticipantProfile))).one()
        assert (profile.region, profile.german_level) == ("ammerland", None)


def test_every_window_of_every_feature_stamps_its_buttons() -> None:
    """A feature that builds a plain aiogram-dialog Window would let double taps through again."""
    plain = [
        f"{feature.name}: {window.get_state()}"
        for feature in FEATURES
        for dialog in feature.dialogs
        for window in dialog.windows.values()
        if not isinstance(window, Screen)
    ]
    assert plain == []


def test_the_check_buttons_fit_telegrams_callback_data_budget() -> None:
    """Intent id (at most 6 characters), separator, stamp, separator, widget id and item id: ≤ 64 bytes."""
    widget_data = [f"opt:{o.id}" for q in CONTENT.all_questions for o in q.options]
    widget_data += [f"edit:{q.id}" for q in CONTENT.all_questions]
    widget_data += [f"sections:{s.id}" for s in CONTENT.sections]
    longest = max(len(f"{'x' * 6}\x1d{'s' * STAMP_LEN}{STAMP_SEP}{d}".encode()) for d in widget_data)
    assert longest <= CALLBACK_DATA_MAX
