"""The unit of work: one session, committed once by whoever drives the services.

Services add and flush, never commit. The update middleware, a scheduled job, a CLI command (later a
web-admin request) wraps its work in :func:`unit_of_work`: everything it changed (a domain row and the
outbox rows it scheduled) is committed together when the block ends, or rolled back together when it
raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession


@asynccontextmanager
async def unit_of_work(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
