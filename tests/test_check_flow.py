"""The check through the real bot polling the emulator: by buttons, interrupted, resumed after a restart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aiogram.utils.i18n import I18n
from pypdf import PdfReader
from sqlmodel import select

from dialogs.check import SKIP, Question, load_content, score
from dialogs.check.content import CheckContent, parse_content
from dialogs.check.demo_offers import seed_demo_offers
from dialogs.check.scoring import render_bar
from dialogs.check.service import anonymous_code, stored_profile
from dialogs.text import strip_isolates
from emulator import ScriptedUser
from emulator.users import TINY_JPEG, TINY_OGG
from storage.check import Assessment, AssessmentStatus
from storage.models import Person
from storage.uow import unit_of_work
from tests.harness import Harness, running_bot
from tests.onboard import onboard, say, step

CONTENT = load_content()


def plan(q: Question) -> Any:
    """A participant who worked a lot with metal and likes machines; the first option elsewhere."""
    wanted: dict[str, Any] = {
        "interest.machines": "like",
        "interest.build": "like",
        "metal.worked": "a_lot",
        "metal.years": "y1_3",
        "lang.spoken": ["ar", "en"],
        "work.licence": ["B"],
    }
    if q.id in wanted:
        return wanted[q.id]
    if q.section == "details":
        return "often"
    return [q.options[0].id] if q.kind == "multi" else q.options[0].id


async def stored(h: Harness, tg_id: int) -> tuple[Person, list[Assessment]]:
    async with h.rt.sessionmaker() as session:
        person = (await session.exec(select(Person).where(Person.telegram_user_id == tg_id))).one()
        runs = (await session.exec(select(Assessment).where(Assessment.person_id == person.id))).all()
        return person, list(runs)


async def answers_of(h: Harness, tg_id: int) -> dict[str, Any]:
    _person, runs = await stored(h, tg_id)
    open_runs = [r for r in runs if r.status == AssessmentStatus.IN_PROGRESS.value]
    return dict(open_runs[0].answers) if open_runs else {}


def label(q: Question, option_id: str) -> str:
    option = q.option(option_id)
    assert option is not None
    return f"{option.emoji} {option.text}" if option.emoji else option.text


async def settle(user: ScriptedUser) -> None:
    """Wait until the bot has handled what the user just did."""
    await user.settled(timeout=30)


async def tap(user: ScriptedUser, text: str) -> None:
    await step(user, text)


async def send(user: ScriptedUser, text: str) -> None:
    await say(user, text)


async def tap_row(user: ScriptedUser, row: int) -> None:
    """Press the first button of a keyboard row by its callback data: no text needed (any language)."""
    user.take_new()
    await user.press_data(user.last.button_data[row][0], user.last.message_id)
    await settle(user)


async def tap_widget(user: ScriptedUser, widget_id: str) -> None:
    """Press the dialog button with this widget id (its callback data ends with it)."""
    data = next(d for row in user.last.button_data for d in row if d and d.split("\x1d")[-1] == widget_id)
    user.take_new()
    await user.press_data(data, user.last.message_id)
    await settle(user)


async def answer_by_text(h: Harness, user: ScriptedUser, content: CheckContent, count: int | None = None) -> int:
    """Answer the shown questions by their English button texts, following ``plan``; returns how many."""
    done = 0
    while count is None or done < count:
        answers = await answers_of(h, user.id)
        q = content.next_question(answers)
        if q is None:
            break
        answered, total = content.progress(answers)
        assert f"🧭 {answered + 1} / {total}" in strip_isolates(user.last.text)
        value = plan(q)
        if isinstance(value, list):
            for option_id in value:
                await tap(user, "⬜ " + label(q, option_id))
            await tap(user, "✔️ Done")
        else:
            await tap(user, label(q, value))
        done += 1
    return done


async def test_check_by_buttons_interrupted_restarted_and_finished(sqlite_url: str, tmp_path: Path) -> None:
    async with running_bot(sqlite_url) as h:
        i18n: I18n = h.rt.dp["i18n"]
        user = h.emu.user(8101, "Amal", language_code="en")
        await onboard(user, i18n, "en", name="Amal", phone=None)
        assert user.last.has_button("🧭 Competence check")
        await tap(user, "🧭 Competence check")
        assert "🧭 1 / 36" in strip_isolates(user.last.text) and "Working with machines" in user.last.text

        # Anything but a button press gets a polite answer, and the question comes again below it.
        for bad in (user.send_photo, user.send_sticker, user.send_voice, lambda: user.send("x" * 5000)):
            user.take_new()
            await bad()
            got = await user.wait_messages(2)
            await user.settled()
            texts = [m.text for m in [*got, *user.take_new()]]
            assert "👇 Please answer with the buttons." in texts
            assert "Working with machines" in user.last.text
        assert await answers_of(h, user.id) == {}

        await answer_by_text(h, user, CONTENT, 3)
        await tap(user, "⬅️ Back")  # back to the third question, its answer ticked
        assert "✓ " in " ".join(user.last.flat_buttons)
        await tap(user, "👎 I don't like it")
        await tap(user, "⏭️ Skip")
        answers = await answers_of(h, user.id)
        third, fourth = (q.id for q in CONTENT.questions_for({})[2:4])
        assert answers[third] == "dislike" and answers[fourth] == SKIP
        await answer_by_text(h, user, CONTENT, 16)
        await tap(user, "⏸️ Continue later")
        halfway = await answers_of(h, user.id)
        assert len(halfway) == 20

    # A new bot process on the same database: every dialog state is gone, the answers are not.
    async with running_bot(sqlite_url) as h:
        user = h.emu.user(8101, "Amal", language_code="en")
        await send(user, "/check")
        assert f"🧭 21 / {CONTENT.progress(halfway)[1]}" in strip_isolates(user.last.text)
        await answer_by_text(h, user, CONTENT)

        assert "anything else you can do" in user.last.text
        await send(user, "I can bake bread.")
        await tap(user, "📊 Show my result")
        _person, runs = await stored(h, user.id)
        (run,) = runs
        assert run.status == AssessmentStatus.COMPLETED.value and run.free_text == "I can bake bread."
        profile = stored_profile(run)
        assert profile == score(run.answers, CONTENT, german_level="A2")
        result = strip_isolates(user.last.text)
        assert "Thank you! Here is your result." in result and "These fields fit you best:" in result
        metal = profile.field_score("metal") if profile else None
        assert metal is not None and f"🔩 {render_bar(metal.score)} {metal.score} Metal" in result
        assert "You have often done this:" in result

        await tap(user, "📄 My result as PDF")
        document = next(m for m in reversed(user.messages) if m.document_bytes)
        text = PdfReader(io.BytesIO(document.document_bytes or b"")).pages[0].extract_text()
        assert "Metal" in " ".join(text.split()) and "Amal" in text  # shared: Amal agreed in onboarding

        # Change one answer from the summary: a new run, the first result stays as it was.
        await tap(user, "✏️ Change my answers")
        await tap_widget(user, "sections:conditions")
        await tap_widget(user, "edit:work.shifts")
        assert "Can you work early in the morning" in user.last.text
        await tap(user, "❌ No")
        assert user.last.has_button("⬅️ Back") and "work.shifts" in str(user.last.button_data)  # the section again
        await tap(user, "⬅️ Back")
        await tap(user, "📊 Show my result")
        _person, runs = await stored(h, user.id)
        assert [r.status for r in runs] == ["completed", "completed"] and runs[0].profile == run.profile
        assert runs[1].answers == {**run.answers, "work.shifts": "no"}

        # A newer content version: the stored profile still shows as it was made.
        data = CONTENT.model_dump(exclude={"base_dir"})
        newer = parse_content({**data, "version": CONTENT.version + 1})
        h.rt.dp["check_content"] = newer
        await send(user, "/check")
        assert "Thank you! Here is your result." in user.last.text and "Metal" in user.last.text


async def test_check_in_arabic_by_callback_data_with_a_picture(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "machines.jpg").write_bytes(TINY_JPEG)
    data = CONTENT.model_dump(exclude={"base_dir"})
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "build.ogg").write_bytes(TINY_OGG)
    first, second, *rest = data["interests"]
    data["interests"] = [{**first, "image": "img/machines.jpg"}, {**second, "audio": {"ar": "audio/build.ogg"}}, *rest]
    content = parse_content(data, base_dir=tmp_path)

    async with running_bot(sqlite_url, coordinator_ids="8199") as h:
        h.rt.dp["check_content"] = content
        i18n: I18n = h.rt.dp["i18n"]
        user = h.emu.user(8102, "Amira", language_code="ar")
        await onboard(user, i18n, "ar", share=False)
        await send(user, "/check")
        assert user.last.kind == "photo"  # the first item carries a picture
        count = 0
        while (q := content.next_question(await answers_of(h, user.id))) is not None:
            assert f"{content.progress(await answers_of(h, user.id))[0] + 1} / " in strip_isolates(user.last.text)
            await tap_row(user, 0)  # the first option
            if q.kind == "multi":
                await tap_row(user, len(q.options))  # "Done", right below the options
            count += 1
            if count == 1:  # the second item's recorded prompt in Arabic, right above its question
                *_, voice, window = user.messages
                assert voice.kind == "voice" and "2 / 36" in strip_isolates(window.text)
        assert count == 36
        await tap_row(user, 0)  # free text: skip
        await tap_widget(user, "finish")  # "Show my result"
        _person, runs = await stored(h, user.id)
        (run,) = runs
        assert run.status == AssessmentStatus.COMPLETED.value
        profile = stored_profile(run)
        assert profile == score(run.answers, content, german_level="A2")
        assert profile is not None
        for fs in profile.fields:  # a bar per field (texts await their Arabic translation; bars do not)
            assert f"{render_bar(fs.score)} {fs.score}" in strip_isolates(user.last.text)
        await tap_widget(user, "pdf")
        document = next(m for m in reversed(user.messages) if m.document_bytes)
        assert document.document_bytes and document.document_bytes.startswith(b"%PDF")
        assert "Amira" not in (PdfReader(io.BytesIO(document.document_bytes)).pages[0].extract_text())

        # The participant cannot list profiles; a coordinator gets the German PDF (code, no name) and offers.
        await send(user, "/profiles")
        assert "Finished checks" not in user.last.text
        async with unit_of_work(h.rt.sessionmaker) as session:
            await seed_demo_offers(session)
        coordinator = h.emu.user(8199, "Kim", language_code="de")
        await send(coordinator, "/profiles")
        code = anonymous_code(run.person_id)
        assert coordinator.last.flat_buttons[0].startswith(code)
        coordinator.take_new()
        await coordinator.press(coordinator.last.flat_buttons[0])
        got = await coordinator.wait_messages(2)
        await coordinator.settled()
        pdf = next(m for m in got if m.document_bytes)
        text = PdfReader(io.BytesIO(pdf.document_bytes or b"")).pages[0].extract_text()
        assert code in text and "Amira" not in text
        offers = coordinator.last.text
        assert "(Demo)" in offers
