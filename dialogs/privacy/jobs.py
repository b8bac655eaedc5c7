"""Scheduled jobs of the privacy feature: plain async functions that get their dependencies when registered."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.privacy.service import RetentionResult, enforce_retention
from storage.uow import unit_of_work

RETENTION_CRON = "30 3 * * *"  # 03:30 Europe/Berlin: quiet hours, after the night's reminders


async def retention_job(sessionmaker: async_sessionmaker[AsyncSession], retention_months: int) -> RetentionResult:
    """Erase people who withdrew consent or have been silent past the retention period; logs counts only."""
    async with unit_of_work(sessionmaker) as session:
        return await enforce_retention(session, inactive_days=retention_months * 30)
