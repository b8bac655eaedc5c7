"""Scripted participants: the onboarding steps as a person taps and types them, in any language."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import I18n

from dialogs.languages import BY_CODE
from emulator import ScriptedUser


def translator(i18n: I18n, code: str) -> Callable[[str], str]:
    def t(msgid: str) -> str:
        return i18n.gettext(msgid, locale=code)

    return t


async def _answered(user: ScriptedUser) -> None:
    """Wait until the bot has handled everything this user sent (the harness reports each handled update),
    and check that it answered: a handler that fails silently is a bug a person would notice."""
    await user.settled(timeout=30)
    assert user.take_new(), f"the bot did not answer user {user.id}"


async def step(user: ScriptedUser, button: str) -> None:
    """Press a button and wait for the bot's answer to it."""
    user.take_new()
    await user.press(button)
    await _answered(user)


async def say(user: ScriptedUser, text: str) -> None:
    """Send a text and wait for the bot's answer to it."""
    user.take_new()
    await user.send(text)
    await _answered(user)


async def onboard(
    user: ScriptedUser,
    i18n: I18n,
    code: str,
    *,
    name: str = "Amira",
    region: str = "🌳 Ammerland",
    level: str = "A2 · simple everyday talk",
    phone: str | None = "0176 12345678",
    share: bool = True,
    contact: bool = True,
) -> None:
    """From /start to the main menu, by buttons and two typed answers."""
    t = translator(i18n, code)
    await say(user, "/start")
    await step(user, BY_CODE[code].native_name)
    await step(user, t("▶️ Continue"))
    await step(user, t("✅ Yes, I agree"))
    await step(user, t("✅ Yes") if share else t("❌ No"))
    await step(user, t("✅ Yes") if contact else t("❌ No"))
    await say(user, name)
    await step(user, t(region))
    await step(user, t(level))
    if phone is None:
        await step(user, t("⏭️ Skip"))
    else:
        await say(user, phone)


async def tap_data(user: ScriptedUser, data: str | None, message_id: int | None = None) -> str:
    """Send a callback (forged or stale) and return the bot's answer to exactly that callback."""
    query_id = await user.press_data(data, message_id)
    await user.settled(timeout=30)
    for answer in user.emu.callback_answers:
        if answer.callback_query_id == query_id:
            return answer.text
    raise AssertionError(f"no answer to callback {data!r}")
