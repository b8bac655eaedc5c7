"""``proconnect demo``: the real bot against the local emulator, and a chat in this terminal.

Bot messages are printed with their buttons numbered; type a number to press a button, or any text
to send it. When standard input is not a terminal, one line is read per turn, so the demo can be
scripted: ``printf '/start\\n1\\n' | proconnect demo``.

The terminal plays three people, each a separate Telegram user: the participant (you, by default), the
contact person of a demo company, and the programme's coordinator. ``/as company``, ``/as coordinator``
and ``/as participant`` switch whose chat you see and speak in, showing what arrived there meanwhile, so
a booking made as the participant can be seen arriving at the company. ``/help`` lists the demo's own
commands; everything else goes to the bot. The demo companies, offers, contacts and days are seeded at
start, so a newcomer can book a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

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


class SeedReport(NamedTuple):
    companies_added: int
    offers_added: int
    already_there: int  # demo companies and offers found from an earlier run, left as they were
    slots_added: int = 0  # days to book over the coming weeks
    contacts_added: int = 0  # the companies' contact people


async def seed_demo_database(database_url: str) -> SeedReport:
    """Bring the database to the newest schema and add the demo companies, offers, contacts and days that are
    missing (idempotent: a second run on the same day adds nothing)."""
    from dialogs.check.demo_offers import seed_demo
    from storage.types import utcnow

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            seed = await seed_demo(session, now=utcnow())
    finally:
        await engine.dispose()
    return SeedReport(seed.companies, seed.offers, seed.already_there, seed.slots, seed.contacts)


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


# --- the people the terminal plays ----------------------------------------------------------------------


@dataclass
class Persona:
    """One scripted Telegram user the terminal can speak as, and what of their chat was printed."""

    user: ScriptedUser
    title: str  # who this is, for the line printed when switching to them
    command: str  # how to switch to them
    shown: dict[int, str] = field(default_factory=dict)  # message id → text as last printed

    def unseen(self) -> list[BotMessage]:
        return [m for m in self.user.messages if m.message_id not in self.shown]

    def mark(self, message: BotMessage) -> None:
        self.shown[message.message_id] = message.text


HELP = """\
Demo commands (anything else goes to the bot):
  /as participant     you, a newcomer looking for a hospitation (the start)
  /as company [N]     the contact person of a demo company: of your newest booking, else company N
  /as coordinator     the programme's coordinator
  /help               this list
  /quit               end the demo
Type a number to press that button of the newest message, or any text to send it."""


class Demo:
    """The terminal's side: who is speaking, waiting for the bot and the outbox, printing chats."""

    def __init__(self, emu: BotAPIEmulator, sessionmaker: Any, delivery: Any, language: str,
                 out: Callable[[str], None] | None = None) -> None:
        from dialogs.check.demo_offers import DEMO_COMPANIES

        self.emu = emu
        self.sessionmaker = sessionmaker
        self.delivery = delivery
        self.out = out or _say
        participant = emu.user(DEMO_USER_ID, "Demo", language_code=language)
        coordinator = emu.user(DEMO_COORDINATOR_ID, "Kim", language_code=language)
        self.participant = Persona(participant, "the participant (you)", "/as participant")
        self.coordinator = Persona(coordinator, "Kim, the coordinator", "/as coordinator")
        self.companies = [
            Persona(emu.user(c.contact_telegram_id, c.contact, language_code="de"),
                    f"{c.contact}, contact person at {c.name}", f"/as company {n}")
            for n, c in enumerate(DEMO_COMPANIES, start=1)
        ]
        self.current = self.participant

    @property
    def everyone(self) -> list[Persona]:
        return [self.participant, self.coordinator, *self.companies]

    async def open_chats(self) -> None:
        """The company contacts and the coordinator have written to the bot once, as real ones would have:
        the bot can only message people who did (their menus arrive now, and are shown when switching)."""
        for persona in [self.coordinator, *self.companies]:
            await persona.user.send("/start")
        await self.settle([p.user for p in self.everyone])
        for persona in [self.coordinator, *self.companies]:
            persona.user.take_new()
            for message in persona.user.messages:
                persona.mark(message)  # not news: shown again when switching to them, as their newest message

    async def settle(self, users: list[ScriptedUser], timeout: float = 15) -> None:  # noqa: ASYNC109
        """Until the bot has handled these users' updates and the outbox has nothing due left to send."""
        for user in users:
            with contextlib.suppress(TimeoutError):
                await user.settled(timeout=timeout)
        await self.delivered(timeout)

    async def delivered(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until no outbox row is due and unsent (a booking's notice to the company, say), and the
        delivery worker holds nothing; at most ``timeout`` seconds."""
        from sqlalchemy import and_, or_
        from sqlmodel import col, func, select

        from storage.outbox import OutboxMessage, OutboxStatus
        from storage.types import utcnow

        if self.delivery is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = utcnow()
            async with self.sessionmaker() as session:
                due = (
                    await session.exec(
                        select(func.count()).select_from(OutboxMessage).where(
                            or_(
                                col(OutboxMessage.status) == OutboxStatus.SENDING,
                                and_(
                                    col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.due_at) <= now,
                                    or_(col(OutboxMessage.retry_at).is_(None), col(OutboxMessage.retry_at) <= now),
                                ),
                            )
                        )
                    )
                ).one()
            if due == 0 and self.delivery.idle:
                return
            self.delivery.wake()
            await asyncio.sleep(0.05)

    async def company_for_newest_booking(self) -> int | None:
        """The demo company (1-based) of the participant's newest active booking, if any."""
        from sqlmodel import col, select

        from dialogs.check.demo_offers import DEMO_COMPANIES
        from storage.booking import Booking, BookingStatus, HospitationSlot
        from storage.companies import Company, HospitationOffer
        from storage.models import Person

        async with self.sessionmaker() as session:
            name = (
                await session.exec(
                    select(Company.name)
                    .join(HospitationOffer, col(HospitationOffer.company_id) == col(Company.id))
                    .join(HospitationSlot, col(HospitationSlot.offer_id) == col(HospitationOffer.id))
                    .join(Booking, col(Booking.slot_id) == col(HospitationSlot.id))
                    .join(Person, col(Person.id) == col(Booking.person_id))
                    .where(Person.telegram_user_id == DEMO_USER_ID, Booking.status == BookingStatus.BOOKED.value)
                    .order_by(col(Booking.created_at).desc(), col(Booking.id).desc())
                )
            ).first()
        names = [c.name for c in DEMO_COMPANIES]
        return names.index(name) + 1 if name in names else None

    async def switch(self, argument: str) -> None:
        who, _sep, number = argument.strip().partition(" ")
        if who == "participant":
            persona = self.participant
        elif who == "coordinator":
            persona = self.coordinator
        elif who == "company":
            chosen = int(number) if number.strip().isdigit() else await self.company_for_newest_booking() or 1
            if not 1 <= chosen <= len(self.companies):
                self.out(f"There are demo companies 1 to {len(self.companies)}.")
                return
            persona = self.companies[chosen - 1]
        else:
            self.out("Use /as participant, /as company [N] or /as coordinator.")
            return
        self.current = persona
        await self.delivered(15)
        unseen = persona.unseen()
        persona.user.take_new()  # printed below as they are now, edits included
        self.out(f"— You are now {persona.title}. Their chat:")
        buttons = next((m for m in reversed(persona.user.messages) if m.buttons), None)
        if buttons is not None and all(m.message_id != buttons.message_id for m in unseen):
            unseen = [buttons, *unseen]  # the buttons a number presses, again, above what is new
        elif not unseen and persona.user.messages:
            unseen = persona.user.messages[-1:]  # nothing new: the newest message again
        if not unseen:
            self.out("   (no messages yet: send /start)")
        for message in unseen:
            persona.mark(message)
            self.out(render(message))

    def companies_list(self) -> str:
        return "\n".join(f"  {n}. {p.title}" for n, p in enumerate(self.companies, start=1))

    async def turn(self, line: str) -> None:
        """One line typed in the terminal: a demo command, a button number or text for the bot."""
        if line == "/help":
            self.out(HELP)
            self.out("Demo companies:\n" + self.companies_list())
            return
        if line == "/as" or line.startswith("/as "):
            await self.switch(line[3:])
            return
        persona = self.current
        buttons = newest_buttons(persona.user)
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            await persona.user.press(buttons[int(line) - 1])
        else:
            await persona.user.send(line)
        await self.settle([persona.user])
        for message in persona.user.take_new():
            if message.edited and persona.shown.get(message.message_id) == message.text and not message.buttons:
                continue  # only the buttons were taken away: nothing new to read
            persona.mark(message)
            self.out(render(message))
        for other in self.everyone:
            count = sum(1 for m in other.unseen() if not m.deleted)
            if other is not persona and count:
                self.out(f"📬 {count} new for {other.title}: {other.command}")


async def chat(demo: Demo, interactive: bool, lines: Callable[[], Awaitable[bytes]] | None = None) -> None:
    readline = lines or (await _stdin_lines()).readline
    demo.out("pro:connect demo — you are a participant. Send /start. Numbers press buttons; "
             "/help lists the demo's commands (/as company, /as coordinator); /quit ends.")
    while True:
        if interactive:
            print("> ", end="", flush=True)
        raw = await readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if not interactive:
            demo.out(f"> {line}")
        await demo.turn(line)


def _say(text: str) -> None:
    print(text, flush=True)  # line by line, also into a pipe: a script reading the demo sees each answer


def _report_handled(dp: Any, emu: BotAPIEmulator) -> None:
    """Tell the emulator when the dispatcher is done with an update, so the demo waits exactly as long as the
    bot takes to answer (``ScriptedUser.settled``) instead of for a quiet spell."""
    feed_update = dp.feed_update

    async def feed_and_report(bot: Any, update: Any, **kwargs: Any) -> Any:
        try:
            return await feed_update(bot, update, **kwargs)
        finally:
            emu.mark_handled(update.update_id)

    dp.feed_update = feed_and_report


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
        report = await seed_demo_database(settings.database_url)
        async with runtime(settings) as rt:
            _report_handled(rt.dp, emu)
            polling = asyncio.create_task(
                rt.dp.start_polling(rt.bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
            )
            try:
                demo = Demo(emu, rt.sessionmaker, rt.delivery, language)
                await demo.open_chats()
                _say(f"demo data: {report.companies_added} companies, {report.offers_added} offers, "
                      f"{report.slots_added} days added ({report.already_there} companies and offers already there)")
                await chat(demo, interactive=os.isatty(sys.stdin.fileno()))
            finally:
                if rt.dp._running_lock.locked():
                    await rt.dp.stop_polling()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(polling, 10)
    print("demo stopped.")
