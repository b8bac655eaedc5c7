"""Hospitation booking under contention: bookings per second and latency, on SQLite and PostgreSQL.

    .venv/bin/python bench/booking.py [--people 200] [--rounds 3] [--database-url URL ...]

Each attempt is what one participant's tap does: its own unit of work (``storage.uow``) around
``dialogs.booking.service.book`` (lock the person's row, the "already" and "overlap" checks, the
conditional ``booked < capacity`` update, the booking row, its reminders and the notices to the company
and the coordinators in the outbox), committed. ``--people`` attempts start at once, on the engine the bot
uses (its default pool). Per database, three runs of ``--rounds`` rounds each (fresh days every round):

- contention: 12 places in total (4 days x 3): 12 bookings and the rest "full" every round;
- plenty: as many places as people (4 days, each with a quarter of them): every attempt books;
- baseline: a plain insert of a booking row per person (no capacity, no checks, no outbox), same shape;
- one at a time: the plenty run with the attempts one after another, for a booking's own cost.

Printed per run: attempts, booked, full, wall time, attempts/s and bookings/s, latency p50/p99 (from an
attempt's start to its commit, queueing for a connection or SQLite's write lock included).

Databases (``--database-url``, repeatable; default both): ``sqlite`` (a temporary file; a sqlite URL of a
file that does not exist yet is used as given) and a PostgreSQL server URL, on which a temporary database
is created and dropped afterwards (default postgresql+asyncpg://postgres@127.0.0.1/test). A PostgreSQL
server that cannot be reached is reported and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1/test"
DAYS = 4  # days per round, with the places spread over them
CONTENTION_PLACES = 12


@dataclass
class Run:
    database: str
    name: str
    attempts: int
    outcomes: Counter[str]
    wall: float  # seconds, summed over the rounds
    latencies: list[float]

    @property
    def booked(self) -> int:
        return self.outcomes["booked"] + self.outcomes["inserted"]

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
        return (
            f"{self.database:<11} {self.name:<26} {self.attempts:>8} {self.booked:>7} {self.outcomes['full']:>6} "
            f"{self.wall:>7.2f} {self.attempts / self.wall:>10.0f} {self.booked / self.wall:>10.0f} "
            f"{p50:>7.1f} {p99:>7.1f}"
        )


POOLS: dict[str, int] = {}  # database → connections its engine opens at most

HEADER = (
    f"{'database':<11} {'run':<26} {'attempts':>8} {'booked':>7} {'full':>6} {'wall s':>7} "
    f"{'attempts/s':>10} {'booked/s':>10} {'p50 ms':>7} {'p99 ms':>7}"
)


async def _setup(sessions: Any, people: int) -> tuple[int, list[int]]:
    """A company with a contact and an offer, a coordinator, and the participants; returns (offer, people)."""
    from storage.booking import CompanyMember
    from storage.companies import Company, HospitationOffer
    from storage.models import Person, Role
    from storage.uow import unit_of_work

    async with unit_of_work(sessions) as session:
        company = Company(name="Bench GmbH", town="Hude", region="landkreis_oldenburg", languages=["de"])
        contact = Person(telegram_user_id=1, chat_id=1, language="de", roles=[Role.COMPANY.value], first_name="Jens")
        coordinator = Person(telegram_user_id=2, chat_id=2, language="de", roles=[Role.COORDINATOR.value])
        session.add_all([company, contact, coordinator])
        await session.flush()
        session.add(CompanyMember(person_id=contact.id or 0, company_id=company.id or 0))
        offer = HospitationOffer(company_id=company.id or 0, title="Metallbearbeitung", field="metal", town="Hude",
                                 address="Gewerbering 12, 27798 Hude", what_to_bring="Ausweis")
        participants = [
            Person(telegram_user_id=10_000 + i, chat_id=10_000 + i, language="ar", roles=[Role.PARTICIPANT.value],
                   first_name=f"P{i}")
            for i in range(people)
        ]
        session.add_all([offer, *participants])
        await session.flush()
        return offer.id or 0, [p.id or 0 for p in participants]


async def _days(sessions: Any, offer_id: int, first: datetime, places: list[int]) -> list[int]:
    from storage.booking import HospitationSlot
    from storage.uow import unit_of_work

    async with unit_of_work(sessions) as session:
        slots = [
            HospitationSlot(offer_id=offer_id, starts_at=first + timedelta(days=d), ends_at=first + timedelta(days=d, hours=4),
                            capacity=capacity)
            for d, capacity in enumerate(places)
        ]
        session.add_all(slots)
        await session.flush()
        return [s.id or 0 for s in slots]


async def _round(
    attempt: Callable[[int, int], Awaitable[str]], people: list[int], slots: list[int], *, at_once: bool
) -> tuple[Counter[str], float, list[float]]:
    latencies: list[float] = []

    async def timed(person_id: int, slot_id: int) -> str:
        start = time.perf_counter()
        outcome = await attempt(person_id, slot_id)
        latencies.append(time.perf_counter() - start)
        return outcome

    pairs = [(p, slots[i % len(slots)]) for i, p in enumerate(people)]
    start = time.perf_counter()
    if at_once:
        outcomes = await asyncio.gather(*(timed(p, s) for p, s in pairs))
    else:
        outcomes = [await timed(p, s) for p, s in pairs]
    return Counter(outcomes), time.perf_counter() - start, latencies


async def bench_database(label: str, url: str, people: int, rounds: int) -> list[Run]:
    from dialogs.booking.service import Policy, book
    from storage.booking import Booking
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Person
    from storage.types import utcnow
    from storage.uow import unit_of_work

    await upgrade(url)
    engine = create_engine(url)  # the bot's engine, with its default pool
    pool: Any = engine.pool
    POOLS[label] = pool.size() + getattr(pool, "_max_overflow", 0)
    sessions = create_sessionmaker(engine)
    policy = Policy(cutoff=timedelta(hours=12))
    now = utcnow()
    try:
        offer_id, participants = await _setup(sessions, people)

        async def booking(person_id: int, slot_id: int) -> str:
            async with unit_of_work(sessions) as session:
                person = await session.get(Person, person_id)
                assert person is not None
                outcome, _ = await book(session, person, slot_id, now=now, policy=policy)
                return outcome.value

        async def plain_insert(person_id: int, slot_id: int) -> str:
            async with unit_of_work(sessions) as session:
                session.add(Booking(slot_id=slot_id, person_id=person_id, created_at=now, updated_at=now))
            return "inserted"

        share = -(-people // DAYS)
        plans: list[tuple[str, Callable[[int, int], Awaitable[str]], list[int], bool]] = [
            (f"contention: {CONTENTION_PLACES} places", booking, [CONTENTION_PLACES // DAYS] * DAYS, True),
            (f"plenty: {share * DAYS} places", booking, [share] * DAYS, True),
            ("baseline: plain insert", plain_insert, [share] * DAYS, True),
            ("one at a time: book", booking, [share] * DAYS, False),
        ]
        runs: list[Run] = []
        day = 0
        for name, attempt, places, at_once in plans:
            run = Run(label, name, 0, Counter(), 0.0, [])
            for _ in range(rounds):
                # Fresh days each round, a week apart from the last: no booking overlaps an earlier one.
                first = datetime(now.year, now.month, now.day, 8, tzinfo=UTC) + timedelta(days=2 + 7 * day)
                day += 1
                slots = await _days(sessions, offer_id, first, places)
                outcomes, wall, latencies = await _round(attempt, participants, slots, at_once=at_once)
                if attempt is booking:
                    expected = min(people, sum(places))
                    assert outcomes["booked"] == expected, (name, outcomes)
                run.attempts += people
                run.outcomes += outcomes
                run.wall += wall
                run.latencies += latencies
            runs.append(run)
        return runs
    finally:
        await engine.dispose()


async def _postgres(admin_url: str, work: Callable[[str], Awaitable[list[Run]]]) -> list[Run]:
    """Run ``work`` on a temporary database of the server at ``admin_url``; dropped afterwards."""
    import asyncpg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"bench_booking_{uuid.uuid4().hex[:10]}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await execute(f'CREATE DATABASE "{name}"')
    try:
        return await work(make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
                          .render_as_string(hide_password=False))
    finally:
        await execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main_async(urls: list[str], people: int, rounds: int) -> int:
    runs: list[Run] = []
    notes: list[str] = []
    for url in urls:
        if url.startswith("sqlite"):
            with tempfile.TemporaryDirectory() as tmp:
                path = url if "///" in url else f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
                runs += await bench_database("SQLite", path, people, rounds)
        else:
            try:
                runs += await _postgres(url, lambda db: bench_database("PostgreSQL", db, people, rounds))
            except (OSError, TimeoutError) as exc:
                notes.append(f"PostgreSQL at {url} not reachable ({type(exc).__name__}: {exc}); skipped")
    print(HEADER)
    for run in runs:
        print(run.row())
    print("connections at most (the bot's default pool): "
          + ", ".join(f"{label} {size}" for label, size in POOLS.items()))
    for note in notes:
        print(note)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=200, help="attempts at once, one per participant")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per run, each on fresh days")
    parser.add_argument("--database-url", action="append", dest="urls",
                        help=f"'sqlite' or a PostgreSQL server URL (default: sqlite and {DEFAULT_POSTGRES})")
    args = parser.parse_args()
    for url in args.urls or ():
        if url.startswith("sqlite") and "///" in url and Path(url.split("///", 1)[1]).exists():
            parser.error(f"{url}: the file exists; give a new file or just 'sqlite'")
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(f"bench/booking.py on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}: {args.people} participants "
          f"at once, {args.rounds} rounds per run")
    sys.exit(asyncio.run(main_async(args.urls or ["sqlite", DEFAULT_POSTGRES], args.people, args.rounds)))


if __name__ == "__main__":
    main()
