"""`proconnect demo` scripted from standard input, as the README shows it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from sqlmodel import col, select

from bot.demo import DEMO_USER_ID


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


async def _line_with(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    """Read the demo's output until a line holds ``needle`` (every line read is kept in ``seen``)."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), 60)
        assert raw, f"the demo ended before printing {needle!r}:\n" + "".join(seen)
        seen.append(raw.decode())
        if needle in seen[-1]:
            return


async def test_a_booking_made_as_the_participant_arrives_in_the_company_contacts_chat(tmp_path: Path) -> None:
    """The demo seeds companies, contacts and days; ``/as company`` shows the chat of the contact of the
    company the participant booked at, with the booking notice the delivery worker sent meanwhile."""
    from dialogs.booking.service import Outcome, Policy, book, free_slots
    from dialogs.check.demo_offers import DEMO_COMPANIES
    from storage.companies import Company, HospitationOffer
    from storage.db import create_engine, create_sessionmaker
    from storage.models import Person
    from storage.types import utcnow
    from storage.uow import unit_of_work

    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    workdir = tmp_path / "demo"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--workdir", str(workdir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=tmp_path,
    )
    assert process.stdin is not None and process.stdout is not None
    seen: list[str] = []
    try:
        await _line_with(process.stdout, "pro:connect demo", seen)
        assert "8 companies, 15 offers, 120 days added" in "".join(seen)
        process.stdin.write(b"/help\n/start\n")
        await _line_with(process.stdout, "العربية", seen)
        assert "/as company [N]" in "".join(seen)

        # The participant (the person the demo's /start created) books a day at the third demo company.
        hunte = DEMO_COMPANIES[2]
        engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'demo.sqlite3'}")
        try:
            async with unit_of_work(create_sessionmaker(engine)) as session:
                person = (await session.exec(select(Person).where(Person.telegram_user_id == DEMO_USER_ID))).one()
                offer = (await session.exec(
                    select(HospitationOffer).join(Company, col(Company.id) == col(HospitationOffer.company_id))
                    .where(Company.name == hunte.name, HospitationOffer.title == hunte.offers[0].title))).one()
                slot = (await free_slots(session, offer.id or 0, now=utcnow(), policy=Policy()))[0]
                outcome, _booking = await book(session, person, slot.id or 0, now=utcnow(), policy=Policy())
                assert outcome is Outcome.BOOKED
        finally:
            await engine.dispose()

        out, err = await asyncio.wait_for(process.communicate(b"/as company\n/quit\n"), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    company_chat = out.decode().split("> /as company", 1)[1]
    assert f"You are now {hunte.contact}, contact person at {hunte.name}" in company_chat
    assert f"{hunte.offers[0].title} ({hunte.name})" in company_chat  # the booking notice, sent by the worker
    assert "Traceback" not in err.decode()
