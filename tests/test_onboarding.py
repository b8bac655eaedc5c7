"""Participant onboarding through the real bot and the emulator: languages, consent, data rights."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from aiogram.utils.i18n import I18n
from sqlalchemy import select

from dialogs.languages import CODES, LANGUAGES
from dialogs.text import strip_isolates
from emulator import BotAPIEmulator
from storage.db import create_engine
from storage.models import SQLModel
from tests.harness import Harness, running_bot
from tests.onboard import onboard, say, step, tap_data, translator

SCRIPT = {
    "ar": r"[\u0600-\u06FF]", "fa": r"[\u0600-\u06FF]", "ps": r"[\u0600-\u06FF]",
    "uk": r"[\u0400-\u04FF]", "ru": r"[\u0400-\u04FF]", "ti": r"[\u1200-\u139F]",
}


def i18n_of(h: Harness) -> I18n:
    i18n: I18n = h.rt.dp["i18n"]
    return i18n


def _english_and_german(i18n: I18n) -> tuple[set[str], set[str]]:
    """Every English source text and every German translation: what a fallback would show."""
    catalog = i18n.locales["de"]
    english: set[str] = set()
    german: set[str] = set()
    for msgid, msgstr in catalog._catalog.items():  # type: ignore[attr-defined]
        if isinstance(msgid, str) and msgid and len(msgid) > 12:
            english.add(msgid)
            german.add(msgstr)
    return english, german


async def test_onboarding_in_every_language(sqlite_url: str) -> None:
    """Twelve people at once, one per language: every message after the picker in their own language."""
    async with running_bot(sqlite_url) as h:
        i18n = i18n_of(h)
        english, german = _english_and_german(i18n)

        async def one(n: int, code: str) -> None:
            user = h.emu.user(7000 + n, "Tester", language_code=None)
            await onboard(user, i18n, code, name=f"Name{'abcdefghijkl'[n]}")
            texts = [strip_isolates(m.text) for m in user.history if m.text]
            assert user.last.has_button(translator(i18n, code)("🔒 Privacy")), (code, user.last)
            for text in texts[1:]:  # the first message is the picker, shown before a language is known
                if code != "en":
                    assert text not in english, (code, text)
                if code != "de":
                    assert text not in german, (code, text)
                if code in SCRIPT:
                    assert re.search(SCRIPT[code], text), (code, text)

        await asyncio.gather(*(one(n, lang.code) for n, lang in enumerate(LANGUAGES)))


async def _mydata(h: Harness, user_id: int) -> dict[str, object]:
    user = h.emu.user(user_id)
    await say(user, "/mydata")
    document = next(m for m in reversed(user.messages) if m.kind == "document")
    assert document.file_name == "pro-connect-my-data.json"
    assert document.document_bytes is not None
    data: dict[str, object] = json.loads(document.document_bytes)
    return data


async def test_mydata_returns_exactly_what_was_given(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        user = h.emu.user(7100, "Tg", language_code="en")
        await onboard(user, i18n_of(h), "en", name="Mohammad Reza", region="🏘️ Delmenhorst",
                      level="B1 · most situations at work", phone="+49 176 1234 5678", share=False)
        data = await _mydata(h, 7100)
        assert data["person"] == {**data["person"], "first_name": "Mohammad Reza", "language": "en",  # type: ignore[dict-item]
                                  "telegram_user_id": 7100, "roles": ["participant"]}
        assert data["participant_profile"] == {**data["participant_profile"],  # type: ignore[dict-item]
                                               "region": "delmenhorst", "german_level": "B1",
                                               "phone": "+4917612345678"}
        decisions = {(c["purpose"], c["accepted"]) for c in data["consents"]}  # type: ignore[attr-defined]
        assert decisions == {("store_answers", True), ("share_with_companies", False), ("contact_events", True)}
        summary = user.messages[-2].text
        assert "Mohammad Reza" in summary and "Delmenhorst" in summary and "+4917612345678" in summary


async def _values_everywhere(database_url: str) -> list[tuple[str, str, object]]:
    """Every string and integer value of every table, to look for what must be gone."""
    engine = create_engine(database_url)
    found: list[tuple[str, str, object]] = []
    try:
        async with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                rows = (await conn.execute(select(table))).mappings().all()
                for row in rows:
                    for column in table.columns:
                        value = row[column.name]
                        if isinstance(value, dict | list):  # JSON columns: look inside them too
                            value = json.dumps(value, ensure_ascii=False)
                        found.append((table.name, column.name, value))
    finally:
        await engine.dispose()
    return found


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_delete_leaves_no_trace(database_url: str) -> None:
    async with running_bot(database_url) as h:
        i18n = i18n_of(h)
        keep = h.emu.user(7201, "Other", language_code="en")
        await onboard(keep, i18n, "en", name="Keeper", phone="0176 99999999")
        user = h.emu.user(7200, "Tg", language_code="fa")
        await onboard(user, i18n, "fa", name="Zahra", phone="0176 55555555")
        t = translator(i18n, "fa")
        await say(user, "/delete")
        await step(user, t("🗑️ Yes, delete everything"))
        assert user.last.edited and "/start" in user.last.text
    values = await _values_everywhere(database_url)
    for table, column, value in values:
        assert value != 7200 and not (isinstance(value, str) and "7200" in value), (table, column)
        assert not (isinstance(value, str) and ("Zahra" in value or "55555555" in value)), (table, column)
    assert any(v == 7201 for _t, _c, v in values), "the other participant must be untouched"
    assert any(t == "erasure_event" and c == "reason" and v == "request" for t, c, v in values)


async def test_declining_storage_keeps_nothing(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        t = translator(i18n_of(h), "ar")
        user = h.emu.user(7300, "Tg", language_code="ar")
        await say(user, "/start")
        await step(user, "العربية")
        await step(user, t("▶️ Continue"))
        await step(user, t("❌ No"))
        assert "/start" in user.last.text
    assert all(v != 7300 for _t, _c, v in await _values_everywhere(sqlite_url))


BAD_INPUTS = ("photo", "sticker", "voice", "long")


async def _send_bad(user: object, kind: str) -> None:
    from emulator import ScriptedUser

    assert isinstance(user, ScriptedUser)
    if kind == "photo":
        await user.send_photo()
    elif kind == "sticker":
        await user.send_sticker()
    elif kind == "voice":
        await user.send_voice()
    else:
        await user.send("x" * 5000)
    await user.settled()


async def test_bad_input_at_every_step_gets_an_answer_and_the_flow_continues(sqlite_url: str) -> None:
    """Photos, stickers, voice notes and 5,000 characters at each step: a polite answer, nothing lost."""
    async with running_bot(sqlite_url) as h:
        i18n = i18n_of(h)
        t = translator(i18n, "uk")
        user = h.emu.user(7400, "Tg", language_code="uk")
        script = [
            ("button", "/start"), ("press", "Українська"), ("press", t("▶️ Continue")),
            ("press", t("✅ Yes, I agree")), ("press", t("✅ Yes")), ("press", t("✅ Yes")),
            ("type", "Олена"), ("press", t("🌳 Ammerland")), ("press", t("A1 · a few words")),
            ("type", "0176 12345678"),
        ]
        await say(user, "/start")
        for action, value in script[1:]:
            for kind in BAD_INPUTS:
                before = len(user.history)
                await _send_bad(user, kind)
                new = user.history[before:]
                assert new, f"no answer to a {kind} before {value!r}"
                for message in new:
                    assert re.search(SCRIPT["uk"], message.text), (kind, value, message.text)
            if action == "press":
                await step(user, value)
            else:
                await say(user, value)
        assert user.last.has_button(t("🔒 Privacy"))
        data = await _mydata(h, 7400)
        assert data["person"]["first_name"] == "Олена"  # type: ignore[index]


async def test_resume_after_restart_where_left_off(sqlite_url: str) -> None:
    emu = await BotAPIEmulator().__aenter__()
    async with running_bot(sqlite_url, emu=emu) as h:
        t = translator(i18n_of(h), "ti")
        user = h.emu.user(7500, "Tg", language_code="ti")
        await say(user, "/start")
        await step(user, "ትግርኛ")
        await step(user, t("▶️ Continue"))
        await step(user, t("✅ Yes, I agree"))
        await step(user, t("✅ Yes"))
        await step(user, t("❌ No"))
        await say(user, "ሰላም")
        stale_region_button = user.last
    # A restart loses every dialog (memory storage); the answers are in the database.
    async with emu, running_bot(sqlite_url, emu=emu) as h:
        i18n = i18n_of(h)
        t = translator(i18n, "ti")
        user = h.emu.user(7500, "Tg", language_code="ti")
        # The old window's button no longer belongs to a live dialog: a clear answer, and the step again.
        user.take_new()
        answer = await tap_data(user, stale_region_button.button_data[0][0], stale_region_button.message_id)
        assert answer == t("This button is no longer valid. Please use the newest message.")
        resumed = await user.wait_message()  # opened in the background by the dialog manager
        assert resumed.has_button(t("🌳 Ammerland")) and resumed.message_id > stale_region_button.message_id
        await say(user, "/start")
        assert user.last.has_button(t("🌳 Ammerland"))  # region is the next step, not the start
        await step(user, t("🌳 Ammerland"))
        await step(user, t("C1 · easily, without searching for words"))
        await step(user, t("⏭️ Skip"))
        assert user.last.has_button(t("🔒 Privacy"))


async def test_cancel_keeps_answers_and_start_resumes(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        t = translator(i18n_of(h), "tr")
        user = h.emu.user(7600, "Tg", language_code="tr")
        await say(user, "/start")
        await step(user, "Türkçe")
        await step(user, t("▶️ Continue"))
        await step(user, t("✅ Yes, I agree"))
        await say(user, "/cancel")
        assert user.last.text == t("⏹️ Stopped. Your answers so far are saved. Send /start to continue.")
        await say(user, "/start")
        assert user.last.has_button(t("✅ Yes")) and "🏭" in user.last.text  # the sharing question, next


async def test_roles_are_checked_on_every_button(sqlite_url: str) -> None:
    coordinator_id = 7701
    async with running_bot(sqlite_url, coordinator_ids=str(coordinator_id)) as h:
        i18n = i18n_of(h)
        participant = h.emu.user(7700, "P", language_code="en")
        await onboard(participant, i18n, "en")
        assert not participant.last.has_button("📊 Overview")
        assert await tap_data(participant, "menu:overview") == "🚫 This is not available for you."
        assert await tap_data(participant, "garbage-from-nowhere") == (
            "This button is no longer valid. Please use the newest message."
        )

        coordinator = h.emu.user(coordinator_id, "C", language_code="de")
        await say(coordinator, "/start")
        await step(coordinator, "Deutsch")
        t = translator(i18n, "de")
        assert coordinator.last.has_button(t("📊 Overview"))
        await step(coordinator, t("📊 Overview"))
        assert t("Registered participants: {count}").split("{")[0] in coordinator.last.text
        assert "1" in coordinator.last.text


async def test_double_tap_records_one_answer(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        t = translator(i18n_of(h), "en")
        user = h.emu.user(7800, "Tg", language_code="en")
        await say(user, "/start")
        await step(user, "English")
        await step(user, t("▶️ Continue"))
        window = user.last
        data = window.data_for(t("✅ Yes, I agree"))
        await user.press_data(data, window.message_id)
        await user.press_data(data, window.message_id)
        await user.settled()
        assert user.last.has_button(t("✅ Yes"))
        exported = await _mydata(h, 7800)
        stores = [c for c in exported["consents"] if c["purpose"] == "store_answers"]  # type: ignore[attr-defined]
        assert len(stores) == 1


@pytest.mark.parametrize("code", CODES)
def test_language_buttons_fit(code: str) -> None:
    """Buttons people tap are short enough for a small phone (Telegram cuts long labels)."""
    from pathlib import Path

    i18n = I18n(path=Path(__file__).resolve().parent.parent / "locales", default_locale="de")
    t = translator(i18n, code)
    from dialogs.onboarding.service import GERMAN_LABELS, REGION_LABELS

    for label in [*REGION_LABELS.values(), *GERMAN_LABELS.values(), "✅ Yes, I agree", "⏭️ Skip"]:
        assert len(t(label)) <= 48, (code, t(label))


async def test_commands_of_other_roles_get_an_answer(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        t = translator(i18n_of(h), "so")
        user = h.emu.user(7900, "Tg", language_code="so")
        await say(user, "/start")
        await step(user, "Soomaali")
        await say(user, "/check")  # not registered yet: told so, and shown the step they are at
        texts = [m.text for m in user.history[-3:]]
        assert t("📝 First, please finish your registration. It takes only a few steps.") in texts
        assert user.last.has_button(t("▶️ Continue"))
        await say(user, "/profiles")
        assert user.last.text == t("🚫 This is not available for you.")
