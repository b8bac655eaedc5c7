"""Production modes: Redis for dialog state across restarts, and webhooks with the secret header."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp import web

from bot.config import Settings, load_settings
from bot.runtime import runtime
from bot.webhook import build_app
from dialogs.languages import LANGUAGES
from emulator import BotAPIEmulator
from tests.harness import TOKEN, running_bot
from tests.onboard import say, step, tap_data, translator


async def test_redis_keeps_dialogs_across_a_restart(sqlite_url: str, redis_url: str) -> None:
    """With REDIS_URL a restart loses nothing: the old window's buttons still work."""
    async with BotAPIEmulator() as emu:
        async with running_bot(sqlite_url, emu=emu, redis_url=redis_url) as h:
            t = translator(h.rt.dp["i18n"], "en")
            user = emu.user(8100, "R", language_code="en")
            await say(user, "/start")
            await step(user, "English")
            await step(user, t("▶️ Continue"))
            window = user.last
        async with running_bot(sqlite_url, emu=emu, redis_url=redis_url):
            answer = await tap_data(user, window.data_for(t("📄 Read more")), window.message_id)
            assert answer == ""  # a normal press, not "no longer valid"
            assert "as of" in user.last.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_webhook_mode_checks_the_secret(sqlite_url: str) -> None:
    async with BotAPIEmulator() as emu:
        port = _free_port()
        settings: Settings = load_settings(
            Settings, bot_token=TOKEN, telegram_api_url=emu.base_url, database_url=sqlite_url,
            webhook_url=f"http://127.0.0.1:{port}", webhook_secret="s3cret-header", webhook_port=port,
        )
        async with runtime(settings) as rt:
            runner = web.AppRunner(build_app(rt))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                await rt.bot.set_webhook(f"http://127.0.0.1:{port}{settings.webhook_path}",
                                         secret_token="s3cret-header")
                user = emu.user(8200, "W", language_code=None)
                await user.send("/start")
                picker = await user.wait_message()
                assert picker.flat_buttons == [lang.native_name for lang in LANGUAGES]

                async with aiohttp.ClientSession() as client:
                    url = f"http://127.0.0.1:{port}{settings.webhook_path}"
                    async with client.post(url, json={"update_id": 1}) as response:
                        assert response.status == 401
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert (await response.json()) == {"ok": True}
            finally:
                await runner.cleanup()


async def test_a_reply_survives_a_failing_connection(sqlite_url: str) -> None:
    """Two 502s in a row on the reply: the person still gets it, once."""
    async with running_bot(sqlite_url) as h:
        user = h.emu.user(8300, "N", language_code="en")
        h.emu.faults.server_errors(2, status=502)
        await user.send("/start")
        picker = await user.wait_message(timeout=20)
        assert len(picker.flat_buttons) == len(LANGUAGES)
        await user.settled(timeout=20)
        assert len(user.history) == 1
