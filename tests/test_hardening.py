"""Hostile and unlucky cases through the real bot: groups, bots, forged values, odd text, revoked rights,
a database that stops answering. Each reproduces what a tester saw go wrong."""

from __future__ import annotations

import logging

import pytest
from aiogram.utils.i18n import I18n
from sqlmodel import select

from bot.errors import SORRY, TECHNICAL_PROBLEM
from bot.guards import PRIVATE_ONLY, normalise_text
from dialogs import outbox
from storage.models import Person, Role
from storage.uow import unit_of_work
from tests.conftest import _pg_admin
from tests.harness import Harness, running_bot
from tests.onboard import onboard, say, step, tap_data, translator

GROUP = -100_555


def i18n_of(h: Harness) -> I18n:
    i18n: I18n = h.rt.dp["i18n"]
    return i18n


async def person_of(h: Harness, telegram_user_id: int) -> Person | None:
    async with h.rt.sessionmaker() as session:
        return (await session.exec(select(Person).where(Person.telegram_user_id == telegram_user_id))).first()


async def test_a_group_gets_one_line_and_no_personal_data(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        i18n = i18n_of(h)
        amira = h.emu.user(9101, "Amira", language_code="ar", phone="+4917612345678")
        await onboard(amira, i18n, "ar", name="Amira", phone="0176 12345678")
        h.emu.group(GROUP, "Kurs A", type="supergroup")
        bystander = h.emu.user(9102, "Olena", language_code="uk")

        await amira.send_in_group(GROUP, "/mydata")
        await bystander.send_in_group(GROUP, "Hello everyone, who brings coffee?")  # chatter: no answer
        await bystander.send_in_group(GROUP, "/start@proconnect_test_bot")
        await amira.settled()
        await bystander.settled()
        in_group = h.emu.history(GROUP)
        t_ar, t_uk = translator(i18n, "ar"), translator(i18n, "uk")
        assert [m.text for m in in_group] == [t_ar(PRIVATE_ONLY), t_uk(PRIVATE_ONLY)]
        assert all(m.buttons and m.raw["reply_markup"]["inline_keyboard"][0][0]["url"].startswith("https://t.me/")
                   for m in in_group)
        # A menu button pressed in the group (an old menu, a forwarded one): an alert, nothing posted.
        await amira.press_in_group(GROUP, "menu:mydata")
        await amira.settled()
        assert len(h.emu.history(GROUP)) == 2
        assert h.emu.callback_answers[-1].text == t_ar(PRIVATE_ONLY)
        joined = " ".join(m.text for m in h.emu.history(GROUP))
        assert "Amira" not in joined and "12345678" not in joined

        # The group stored nothing: no person for the bystander, Amira's chat is still her private chat,
        # and a reminder for her goes there.
        assert await person_of(h, 9102) is None
        person = await person_of(h, 9101)
        assert person is not None and person.chat_id == 9101
        amira.take_new()
        async with unit_of_work(h.rt.sessionmaker) as session:
            await outbox.schedule(session, person=person, text="reminder", key="hardening:reminder")
        assert h.rt.delivery is not None
        h.rt.delivery.wake()
        assert (await amira.wait_message()).text == "reminder"
        assert len(h.emu.history(GROUP)) == 2


async def test_bots_and_channel_posts_are_ignored(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        h.emu.group(GROUP, "Kurs A", type="supergroup")
        anonymous_admin = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
        chat = {"id": GROUP, "type": "supergroup", "title": "Kurs A"}
        channel = {"id": -100_777, "type": "channel", "title": "News"}
        ids = [
            h.emu.updates.add({"message": {"message_id": 1, "date": 0, "chat": chat, "from": anonymous_admin,
                                           "text": "/mydata", "entities": [{"type": "bot_command", "offset": 0,
                                                                            "length": 7}]}}),
            h.emu.updates.add({"channel_post": {"message_id": 2, "date": 0, "chat": channel, "text": "/start"}}),
        ]
        for update_id in ids:
            await h.emu.updates.wait_handled([update_id], 10, who="the bot")
        assert h.emu.history(GROUP) == [] and await person_of(h, 1087968824) is None


async def test_a_forged_value_gets_an_apology_and_one_clean_log_entry(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(sqlite_url) as h:
        i18n = i18n_of(h)
        t = translator(i18n, "uk")
        user = h.emu.user(9201, "Olena", language_code="uk")
        await say(user, "/start")
        for button in ("Українська", t("▶️ Continue"), t("✅ Yes, I agree"), t("✅ Yes"), t("✅ Yes")):
            await step(user, button)
        await say(user, "Olena")
        region_window = user.last
        real = region_window.data_for(t("🌳 Ammerland"))
        assert real is not None and real.endswith("ammerland")
        forged = real.removesuffix("ammerland") + "atlantis-secret-value"
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            answer = await tap_data(user, forged, region_window.message_id)
        assert answer == t(SORRY) != SORRY
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        line = errors[0].getMessage()
        assert f"update {user.last_update_id} failed in dialogs/" in line and "ValueError" in line
        assert "atlantis-secret-value" not in line and "Olena" not in line
        # Nothing stored for the forged value; the real button still works.
        await step(user, t("🌳 Ammerland"))
        assert user.last.has_button(t("A2 · simple everyday talk"))


async def test_text_is_cleaned_at_the_boundary(sqlite_url: str) -> None:
    assert normalise_text("Am\x00i\x1bra\u0007") == "Amira"
    assert normalise_text("a\tb\nc") == "a\tb\nc"
    assert normalise_text("x" * 5000) == "x" * 4096
    assert normalise_text("Jose\u0301") == "José"
    async with running_bot(sqlite_url) as h:
        i18n = i18n_of(h)
        user = h.emu.user(9301, "Zahra", language_code="fa")
        t = translator(i18n, "fa")
        await say(user, "/start")
        for button in ("فارسی", t("▶️ Continue"), t("✅ Yes, I agree"), t("✅ Yes"), t("✅ Yes")):
            await step(user, button)
        await say(user, "Zah\x00ra\x1b")
        person = await person_of(h, 9301)
        assert person is not None and person.first_name == "Zahra"


async def test_coordinator_rights_end_when_taken_off_the_list(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(sqlite_url, coordinator_ids="9401") as h:
        kim = h.emu.user(9401, "Kim", language_code="de")
        await say(kim, "/start")
        await step(kim, "Deutsch")
        await say(kim, "/profiles")
        assert "🚫" not in kim.last.text
    emu = h.emu
    with caplog.at_level(logging.INFO, logger="bot.runtime"):
        async with emu, running_bot(sqlite_url, emu=emu, coordinator_ids="") as h:
            person = await person_of(h, 9401)
            assert person is not None and not person.has_role(Role.COORDINATOR)
            await say(kim, "/profiles")
            assert kim.last.text == translator(i18n_of(h), "de")("🚫 This is not available for you.")
    assert any("coordinator role taken from person #" in r.getMessage() for r in caplog.records)


async def test_a_database_outage_gets_a_short_answer_and_two_log_lines(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    async with running_bot(postgres_url) as h:
        i18n = i18n_of(h)
        user = h.emu.user(9501, "Olena", language_code="uk")
        await say(user, "/start")
        await step(user, "Українська")
        with caplog.at_level(logging.WARNING, logger="bot.guards"):
            await _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            await _pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            try:
                for _ in range(3):
                    await say(user, "/start")
                    assert user.last.text == translator(i18n, "uk")(TECHNICAL_PROBLEM)
            finally:
                await _pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            await say(user, "/menu")
            assert user.last.text != translator(i18n, "uk")(TECHNICAL_PROBLEM)
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.guards"]
        assert len(lines) == 2, lines
        assert lines[0].startswith("database unreachable") and lines[1].startswith("database reachable again")
        assert "3 updates" in lines[1]
