"""Several workers on one PostgreSQL outbox, against the emulator enforcing Telegram's per-chat limit.

A chat's messages must arrive in the order they were scheduled and at most one a second although
several workers send, and the workers' shares of the bot's rate must add up to no more than it: the
emulator answers 429 to anything else, and nothing may be lost or sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import create_engine, create_sessionmaker
from tests.delivery_env import (
    Env,
    counts,
    drain,
    out_of_order_chats,
    people,
    pg_delivery_env,
    schedule_rounds,
)


@pytest.fixture
async def pg_env(postgres_url: str) -> AsyncIterator[Env]:
    async with pg_delivery_env(postgres_url) as environment:
        yield environment


@pytest.mark.parametrize("workers", [2, 4])
async def test_several_workers_keep_each_chats_order_and_limits(pg_env: Env, workers: int) -> None:
    env = pg_env
    # More chats than one worker holds (1.5 s of its rate), so that none can take them all.
    limit, chats, rounds = 200, 200, 3
    env.emu.faults.rate_limits(global_per_second=limit, per_chat_per_second=1, per_group_per_minute=20)
    recipients = await people(env, chats)
    await schedule_rounds(env, recipients, rounds)
    engines = [create_engine(env.url) for _ in range(workers)]  # each its own pool, as on its own machine
    try:
        # Shares adding up to 90 % of the limit: several senders' jitter adds up, and this test is about
        # chats (a worker that took the whole limit as its own would still be refused at once).
        crew = [
            env.worker(0.9 * limit / workers, worker_id=f"w{i}", sessions=create_sessionmaker(engine))
            for i, engine in enumerate(engines)
        ]
        await drain(env, *crew, timeout=30)
    finally:
        for engine in engines:
            await engine.dispose()
    total = chats * rounds
    assert env.emu.stats.rate_limited == 0
    assert sorted(env.emu.stats.per_chat_sends.values()) == [rounds] * chats  # none lost, none twice
    assert out_of_order_chats(env) == []
    assert await counts(env) == {"sent": total}
    shares = [w.stats.sent for w in crew]
    assert sum(shares) == total and sum(1 for n in shares if n) >= 2  # they did share the work
    print(f"\n{workers} workers: {shares} messages, 0 x 429, every chat in order")
