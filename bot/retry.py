"""Retry Bot API calls that failed in transit, so a reply is not lost to a dropped connection."""

from __future__ import annotations

import asyncio
import logging
import random

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)


class RetryTransientErrors(BaseRequestMiddleware):
    """A few quick retries with jitter on network errors and 5xx answers; never on 4xx or 429.

    A reply to a person that is lost is worse than one that, rarely, arrives twice: when the
    connection drops after Telegram took the request, the retry sends it again. The delivery worker
    keeps its own, longer backoff on top (docs/delivery.md). Polling is left to aiogram's own backoff.
    """

    def __init__(self, attempts: int = 3, base_delay: float = 0.3) -> None:
        self.attempts = attempts
        self.base_delay = base_delay

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempts = 1 if isinstance(method, GetUpdates) else self.attempts
        for attempt in range(1, attempts + 1):
            try:
                return await make_request(bot, method)
            except (TelegramNetworkError, TelegramServerError) as exc:
                if attempt == attempts:
                    raise
                delay = self.base_delay * 2 ** (attempt - 1) * (0.5 + random.random())
                log.warning("%s failed (%s), retry %d in %.1fs", type(method).__name__, type(exc).__name__,
                            attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")
