"""Webhook mode as an operator runs it: bodies that are not updates, health probes, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings, load_settings
from bot.runtime import runtime
from bot.webhook import UPDATES, build_app
from dialogs import outbox
from dialogs.languages import LANGUAGES
from emulator import BotAPIEmulator
from storage import outbox as store
from storage.db import create_engine, create_sessionmaker
from storage.migrate import downgrade, upgrade
from tests.harness import TOKEN, report_handled_updates

SECRET = "s3cret-header"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(
    emu: BotAPIEmulator, database_url: str, **overrides: Any
) -> AsyncIterator[tuple[str, web.Application]]:
    """The runtime and the webhook application on a free port; yields the server's base URL and the app."""
    port = _free_port()
    settings: Settings = load_settings(
        Settings, bot_token=TOKEN, telegram_api_url=emu.base_url, database_url=database_url,
        webhook_url=f"http://127.0.0.1:{port}", webhook_secret=SECRET, webhook_port=port, **overrides,
    )
    async with runtime(settings) as rt:
        report_handled_updates(rt.dp, emu)
        app = build_app(rt)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await rt.bot.set_webhook(f"http://127.0.0.1:{port}{settings.webhook_path}", secret_token=SECRET)
            yield f"http://127.0.0.1:{port}", app
        finally:
            await runner.cleanup()


async def test_bodies_that_are_not_updates_get_400_and_no_traceback(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with BotAPIEmulator() as emu, serving(emu, sqlite_url, delivery_enabled=False) as (base, _app):
        hook = f"{base}/telegram/webhook"
        async with aiohttp.ClientSession() as client:

            async def post(body: str, headers: dict[str, str] = HEADERS) -> int:
                async with client.post(
                    hook, data=body, headers={"Content-Type": "application/json", **headers}
                ) as response:
                    return response.status

            assert await post("{not json") == 400
            assert await post("[]") == 400
            assert await post('{"update_id": "abc"}') == 400
            assert await post('{"message": {"text": "no update id"}}') == 400
            # A type a newer Bot API may send: acknowledged (or Telegram would send it again and again).
            assert await post('{"update_id": 5, "some_future_type": {"secret_detail": "x"}}') == 200
            assert await post('{"update_id": 6}', headers={}) == 401
            assert await post('{"update_id": 6}', headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 401

        # A real update after all that is still answered.
        user = emu.user(8400, "W", language_code=None)
        await user.send("/start")
        await user.settled(timeout=20)
        assert user.last.flat_buttons == [lang.native_name for lang in LANGUAGES]

    gc.collect()  # a background task that failed is reported when it is collected
    output = caplog.text + "".join(capfd.readouterr())
    assert "Traceback" not in output
    assert "Task exception was never retrieved" not in output
    assert "secret_detail" not in output and "some_future_type" not in output
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_liveness_and_readiness(tmp_path: Path) -> None:
    folder = tmp_path / "volume"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'bot.sqlite3'}"
    async with BotAPIEmulator() as emu, serving(emu, url, delivery_enabled=False) as (base, app):
        async with aiohttp.ClientSession() as client:

            async def probe(path: str) -> tuple[int, dict[str, Any]]:
                async with client.get(base + path) as response:
                    return response.status, await response.json()

            assert await probe("/healthz") == (200, {"ok": True})
            status, body = await probe("/readyz")
            assert (status, body["ok"]) == (200, True)

            await downgrade(url, "-1")  # someone rolled the schema back under the running bot
            status, body = await probe("/readyz")
            assert (status, body["ok"]) == (503, False)
            assert "schema" in body["reason"] and "migrate" in body["reason"]
            assert await probe("/healthz") == (200, {"ok": True})  # alive, just not ready

            await upgrade(url)
            assert (await probe("/readyz"))[0] == 200

            shutil.rmtree(folder)  # the volume is gone
            status, body = await probe("/readyz")
            assert (status, body["ok"]) == (503, False)
            assert "database" in body["reason"]
            assert await probe("/healthz") == (200, {"ok": True})

            # Stopping: not ready, and a new update is refused so that Telegram delivers it again later.
            assert await app[UPDATES].drain()
            assert await probe("/readyz") == (503, {"ok": False, "reason": "shutting down"})
            async with client.post(f"{base}/telegram/webhook", json={"update_id": 7}, headers=HEADERS) as response:
                assert response.status == 503


# ------------------------------------------------------------------------------------ SIGTERM


ROWS = 300


async def _wait_for(condition: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_sigterm_stops_taking_updates_finishes_in_flight_and_releases_the_outbox(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await upgrade(database_url)
    groups = [-1_000_000 - i for i in range(ROWS)]  # one chat per row: the per-chat limit does not pace them
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        await outbox.schedule_many(session, [
            outbox.Draft(key=f"sigterm:{i}", chat_id=chat, locale="de", text=f"broadcast {i}")
            for i, chat in enumerate(groups)
        ])
        await session.commit()

    async with BotAPIEmulator(ack_means_handled=True) as emu:
        for chat in groups:
            emu.group(chat)
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emu.base_url,
            "DATABASE_URL": database_url,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "DELIVERY_RATE_PER_SECOND": "60",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "webhook", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        stderr_read = asyncio.create_task(process.stderr.read())  # read all along: a full pipe would block it
        try:
            def broadcast_sent() -> int:
                return sum(1 for m in emu.sent_messages if m.chat_id < 0)

            await _wait_for(lambda: broadcast_sent() >= 30, 60, "the worker to send the first rows")
            # Handlers that are in the middle of their answer when the signal comes.
            emu.faults.latency(0.4)
            users = [emu.user(8500 + i, "U", language_code=None) for i in range(3)]
            for user in users:
                await user.send("/start")
            await _wait_for(lambda: not emu.pending_updates, 10, "the webhook to take the updates")
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)  # Docker's grace period before SIGKILL
            stopped_after = time.monotonic() - signalled
        finally:
            if process.returncode is None:
                process.kill()
        await process.wait()
        stderr = (await stderr_read).decode()
        assert stopped_after < 10, f"still running {stopped_after:.1f} s after SIGTERM:\n{stderr}"
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
        for user in users:  # acknowledged before the signal: answered before the exit
            assert user.messages and user.last.flat_buttons == [lang.native_name for lang in LANGUAGES]

        async with sessions() as session:
            counts = (await store.summary(session)).counts
        await engine.dispose()
        assert sum(counts.values()) == ROWS and set(counts) <= {"sent", "pending", "sending"}, counts
        assert counts.get("pending", 0) > 0, "stopped mid-way"
        texts = [m.text for m in emu.sent_messages if m.chat_id < 0]
        assert len(texts) == len(set(texts)) == counts["sent"]  # each row marked sent went out once
        assert counts.get("sending", 0) == 0, counts  # released at once, not left to a 60 s lease
