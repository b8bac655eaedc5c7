"""The ``proconnect`` command as an operator meets it: one line and exit 2 when start-up cannot work, a
one-line summary of what a command did, and a ``--help`` for each command."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from emulator import BotAPIEmulator
from storage.migrate import head_revision, schema_status, upgrade

RIGHT = "123:RIGHT"


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}


async def _cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:  # noqa: ASYNC109
    """Run ``proconnect`` in a subprocess while this event loop keeps serving the emulator."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _out, err = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


def _webhook_env() -> dict[str, str]:
    return {"WEBHOOK_URL": "http://127.0.0.1:9", "WEBHOOK_SECRET": "s3cret", "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": "1"}


@pytest.mark.parametrize("command", ["run", "webhook", "worker"])
async def test_unreachable_bot_api_is_one_line_naming_the_setting(tmp_path: Path, command: str) -> None:
    await upgrade(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")  # only the Bot API is wrong
    env = {
        **_base_env(), **_webhook_env(),
        "BOT_TOKEN": RIGHT,
        "TELEGRAM_API_URL": "http://127.0.0.1:1",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
    }
    code, stderr = await _cli([command], env, tmp_path)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("proconnect: TELEGRAM_API_URL"), stderr
    assert "127.0.0.1:1" in lines[0]


@pytest.mark.parametrize("command", ["run", "webhook", "worker"])
async def test_refused_token_is_one_line_naming_the_setting(tmp_path: Path, command: str) -> None:
    await upgrade(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    async with BotAPIEmulator(token=RIGHT) as emu:
        env = {
            **_base_env(), **_webhook_env(),
            "BOT_TOKEN": "123:WRONG",
            "TELEGRAM_API_URL": emu.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        }
        code, stderr = await _cli([command], env, tmp_path)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("proconnect: BOT_TOKEN"), stderr
    assert "WRONG" not in stderr  # the token is a secret, also a wrong one


# ------------------------------------------------------------------------------ migrate, seed-demo


def _revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _proconnect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], list[str]]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out.splitlines(), [line for line in err.splitlines() if line.strip()]


def test_migrate_says_what_it_did(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{clean_env / 'bot.sqlite3'}")
    revs, head = _revisions(), head_revision()
    assert _proconnect(capsys, "migrate", "--revision", revs[1]) == (
        0, [f"database upgraded from an empty database to {revs[1]}"], []
    )
    assert _proconnect(capsys, "migrate") == (0, [f"database upgraded from {revs[1]} to {head}"], [])
    assert _proconnect(capsys, "migrate") == (0, [f"database already at {head}, the newest schema"], [])
    assert _proconnect(capsys, "migrate", "--downgrade") == (
        0, [f"database downgraded from {head} to {revs[-2]}"], []
    )
    assert _proconnect(capsys, "migrate", "--downgrade", "--revision", revs[-2]) == (
        0, [f"database already at {revs[-2]}"], []
    )
    assert _proconnect(capsys, "migrate", "--downgrade", "--revision", "base") == (
        0, [f"database downgraded from {revs[-2]} to an empty database"], []
    )
    code, out, err = _proconnect(capsys, "migrate", "--revision", "nonsense")
    assert (code, out, len(err)) == (2, [], 1)
    assert err[0].startswith("proconnect: --revision nonsense"), err


async def _seed(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    return await asyncio.to_thread(_proconnect, capsys, "seed-demo")


async def test_seed_demo_refuses_a_database_that_is_behind(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dialogs.check.demo_offers import DEMO_COMPANIES

    url = f"sqlite+aiosqlite:///{clean_env / 'bot.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    companies, offers = len(DEMO_COMPANIES), sum(len(c.offers) for c in DEMO_COMPANIES)

    # A new, empty database is created at the newest schema and filled.
    code, out, err = await _seed(capsys)
    assert (code, len(out), err) == (0, 1, [])
    assert re.fullmatch(
        rf"seed-demo: {companies} companies, {offers} offers, [1-9]\d* contacts, [1-9]\d* days added"
        r" \(0 already there\)", out[0]
    ), out
    assert await _seed(capsys) == (
        0, [f"seed-demo: 0 companies, 0 offers, 0 contacts, 0 days added ({companies + offers} already there)"], []
    )

    behind = f"sqlite+aiosqlite:///{clean_env / 'old.sqlite3'}"
    await upgrade(behind, _revisions()[1])
    monkeypatch.setenv("DATABASE_URL", behind)
    code, out, err = await _seed(capsys)
    assert (code, out, len(err)) == (2, [], 1), err
    assert err[0].startswith("proconnect: DATABASE_URL") and "proconnect migrate" in err[0]
    assert (await schema_status(behind)).current == _revisions()[1]  # left as it was


def test_every_command_has_a_description() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert commands.choices
    for name, sub in commands.choices.items():
        text = sub.format_help()
        assert sub.description and len(sub.description) > 40, f"{name} --help has no description"
        assert name in text


def test_outbox_on_a_database_not_migrated_is_one_line(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{clean_env / 'new.sqlite3'}")
    code, out, err = _proconnect(capsys, "outbox")
    assert (code, out, len(err)) == (2, [], 1), err
    assert err[0] == "proconnect: DATABASE_URL points to an empty database: run `proconnect migrate` first"


async def test_webhook_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await upgrade(url)
    async with BotAPIEmulator() as emu:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = {
                **_base_env(), **_webhook_env(), "WEBHOOK_PORT": str(port),
                "BOT_TOKEN": RIGHT, "TELEGRAM_API_URL": emu.base_url, "DATABASE_URL": url,
            }
            code, stderr = await _cli(["webhook"], env, tmp_path)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"proconnect: WEBHOOK_HOST/WEBHOOK_PORT: cannot listen on 127.0.0.1:{port}"), stderr
