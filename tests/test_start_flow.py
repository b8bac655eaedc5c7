"""/start → language → every later message in that language, through the real bot and dispatcher."""

from __future__ import annotations

import pytest

from dialogs.languages import LANGUAGES
from tests.harness import running_bot

NATIVE_NAMES = [lang.native_name for lang in LANGUAGES]


async def test_start_offers_twelve_languages_and_answers_in_arabic(sqlite_url: str) -> None:
    async with running_bot(sqlite_url) as h:
        user = h.emu.user(5001, "Amal", language_code=None)
        await user.send("/start")
        picker = await user.wait_message()
        assert picker.flat_buttons == NATIVE_NAMES
        await user.press("العربية")
        replies = await user.wait_messages(3)
        confirmation = next(m for m in replies if not m.edited)
        assert "العربية" in confirmation.text
        assert "اللغة" in confirmation.text  # "Language" in Arabic
        await user.send("/help")
        (help_message,) = await user.wait_messages(1)
        assert any("\u0600" <= ch <= "\u06ff" for ch in help_message.text)
        assert "Help" not in help_message.text


@pytest.mark.parametrize("code", ["uk", "ti"])
async def test_language_command_switches(sqlite_url: str, code: str) -> None:
    lang = next(lang for lang in LANGUAGES if lang.code == code)
    async with running_bot(sqlite_url) as h:
        user = h.emu.user(5002, "Olena", language_code="de")
        await user.send("/language")
        picker = await user.wait_message()
        assert "Sprache" in picker.text  # the guess from the Telegram app's language
        await user.press(lang.native_name)
        await user.settled()
        await user.send("/help")
        await user.settled()
        assert user.last.text.splitlines()[0] == h.rt.dp["i18n"].gettext("❓ Help", locale=code)
        assert user.last.text.splitlines()[0] != "❓ Help"  # a translation, not the English source
