"""The real bot process: `proconnect run` long-polling a Bot API stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from dialogs.languages import LANGUAGES
from emulator import BotAPIEmulator
from tests.harness import TOKEN


async def test_proconnect_run_answers_start_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with BotAPIEmulator() as emu:
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emu.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            user = emu.user(9001, "Amal", language_code=None)
            await user.send("/start")
            picker = await user.wait_message(timeout=60)
            assert picker.flat_buttons == [lang.native_name for lang in LANGUAGES]
            await user.press("العربية")
            await user.wait_idle(quiet=0.5, timeout=30)
            assert any("\u0600" <= ch <= "\u06ff" for ch in user.last.text.replace("العربية", ""))
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, err.decode()
        assert b"Traceback" not in err
