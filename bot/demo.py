"""``proconnect demo``: the real bot against the local emulator, and a chat in this terminal.

Bot messages are printed with their buttons numbered; type a number to press a button, or any text
to send it. When standard input is not a terminal, one line is read per turn, so the demo can be
scripted: ``printf '/start\\n1\\n' | proconnect demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from bot.config import Settings, load_settings
from dialogs.text import strip_isolates
from emulator import BotAPIEmulator, BotMessage, ScriptedUser
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.uow import unit_of_work

DEMO_TOKEN = "777000:DEMO-TOKEN"
DEMO_USER_ID = 424242
DEMO_COORDINATOR_ID = 434343

log = logging.getLogger(__name__)


async def seed_demo_database(database_url: str) -> None:
    """Bring the database to the newest schema and add demo companies and offers (idempotent)."""
    from dialogs.check.demo_offers import seed_demo_offers

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await seed_demo_offers(session)
    finally:
        await engine.dispose()


def render(message: BotMessage) -> str:
    """One bot message as the terminal shows it: text, a file, and numbered buttons."""
    lines: list[str] = []
    head = "🤖 (edited) " if message.edited else "🤖 "
    if message.kind != "text":
        label = message.file_name or message.kind
        size = f", {len(message.document_bytes)} bytes" if message.document_bytes is not None else ""
        lines.append(f"{head}[{message.kind}: {label}{size}]")
        if message.text:
            lines.append(message.text)
    else:
        lines.append(head + strip_isolates(message.text).replace("\n", "\n   "))
    number = 1
    for row in message.buttons:
        cells = []
        for text in row:
            cells.append(f"[{number}] {text}")
            number += 1
        lines.append("   " + "   ".join(cells))
    return "\n".join(lines)


def newest_buttons(user: ScriptedUser) -> list[str]:
    for message in reversed(user.messages):
        if message.buttons and not message.deleted:
            return message.flat_buttons
    return []


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def chat(user: ScriptedUser, interactive: bool) -> None:
    reader = await _stdin_lines()
    shown: dict[int, str] = {}
    print("pro:connect demo — you are a participant. Send /start. Numbers press buttons; /quit ends.")
    while True:
        if interactive:
            print("> ", end="", flush=True)
        raw = await reader.readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if not interactive:
            print(f"> {line}")
        buttons = newest_buttons(user)
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            await user.press(buttons[int(line) - 1])
        else:
            await user.send(line)
        with contextlib.suppress(TimeoutError):
            await user.wait_idle(quiet=0.4, timeout=15)
        for message in user.take_new():
            if message.edited and shown.get(message.message_id) == message.text and not message.buttons:
                continue  # only the buttons were taken away: nothing new to read
            shown[message.message_id] = message.text
            print(render(message))


async def run_demo(workdir: str, *, language: str = "en") -> None:
    from bot.runtime import runtime

    folder = Path(workdir).resolve()  # noqa: ASYNC240 - once, before anything runs
    folder.mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(logging.WARNING)
    async with BotAPIEmulator() as emu:
        settings: Settings = load_settings(
            Settings,
            bot_token=DEMO_TOKEN,
            telegram_api_url=emu.base_url,
            database_url=f"sqlite+aiosqlite:///{folder / 'demo.sqlite3'}",
            coordinator_ids=str(DEMO_COORDINATOR_ID),
            redis_url=None,
        )
        await seed_demo_database(settings.database_url)
        async with runtime(settings) as rt:
            polling = asyncio.create_task(
                rt.dp.start_polling(rt.bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
            )
            try:
                user = emu.user(DEMO_USER_ID, "Demo", language_code=language)
                await chat(user, interactive=os.isatty(sys.stdin.fileno()))
            finally:
                if rt.dp._running_lock.locked():
                    await rt.dp.stop_polling()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(polling, 10)
    print("demo stopped.")
