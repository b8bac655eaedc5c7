"""APScheduler wiring: tick the delivery worker, run cron-like jobs in the programme's time zone.

The scheduler keeps nothing that matters: its job store is in memory and rebuilt at every start. What
must survive a restart (a reminder next Tuesday) is an outbox row; the scheduler only makes the worker
look at the outbox every second. Cron jobs are plain async functions that get their dependencies when
registered (``functools.partial`` or keyword arguments), so a test calls them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.delivery import DeliveryWorker

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
Job = Callable[..., Awaitable[Any]]


def create_scheduler(
    timezone: str = "Europe/Berlin", *, worker: DeliveryWorker | None = None
) -> AsyncIOScheduler:
    """A scheduler that ticks ``worker`` every second once started (``scheduler.start()`` in a loop)."""
    # APScheduler logs every run of every job at INFO: one line a second for the tick alone.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(
        timezone=ZoneInfo(timezone),
        job_defaults={
            # After a pause (a suspended laptop, a long GC), run a missed job once, not once per miss.
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": 300,
        },
    )
    if worker is not None:
        scheduler.add_job(
            worker.timer,  # returns at once: the round runs in the worker, which backs off on its own
            "interval",
            seconds=TICK_SECONDS,
            id="delivery-tick",
            misfire_grace_time=None,  # a late tick is still a tick: run it whenever it can
        )
    return scheduler


def add_cron_job(
    scheduler: AsyncIOScheduler,
    job: Job,
    *,
    job_id: str,
    cron: str,
    misfire_grace_time: int = 3600,
    **kwargs: Any,
) -> None:
    """Run ``job(**kwargs)`` on a crontab schedule (``"30 3 * * *"``) in the scheduler's time zone.

    A run missed while the bot was down is not made up after a restart (the job store is in memory):
    jobs must be idempotent catch-up jobs ("erase everyone past retention"), not "do today's slice".
    """
    scheduler.add_job(
        job,
        CronTrigger.from_crontab(cron, timezone=scheduler.timezone),
        id=job_id,
        kwargs=kwargs,
        misfire_grace_time=misfire_grace_time,
        replace_existing=True,
    )
    log.debug("cron job %s at %r", job_id, cron)


__all__ = ["TICK_SECONDS", "AsyncIOScheduler", "add_cron_job", "create_scheduler"]
