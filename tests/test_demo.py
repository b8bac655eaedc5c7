"""`proconnect demo` scripted from standard input, as the README shows it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path


async def test_demo_fed_start_and_the_arabic_button_answers_in_arabic(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--workdir", str(tmp_path / "demo"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(process.communicate(b"/start\n1\n"), 120)
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert "[1] العربية" in text
    after_choice = text.split("> 1", 1)[1]
    assert re.search(r"[\u0600-\u06FF]{4}", after_choice.replace("العربية", ""))
    assert "Traceback" not in err.decode()
