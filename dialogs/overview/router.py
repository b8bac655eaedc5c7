"""The coordinators' overview: counts only, never who. Opened from the menu (the runtime checks the role)."""

from __future__ import annotations

from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.onboarding.service import REGION_LABELS
from dialogs.overview.service import overview
from storage.models import Region


async def show_overview(message: Message, session: AsyncSession) -> None:
    figures = await overview(session)
    lines = [
        _("📊 Overview"),
        "",
        _("People in the bot: {count}").format(count=figures.people),
        _("Registered participants: {count}").format(count=figures.registered),
        _("Still registering: {count}").format(count=figures.registering),
        _("Share their profile with companies: {count}").format(count=figures.sharing),
        _("Deleted their data: {count}").format(count=figures.erased),
    ]
    if figures.by_region:
        lines += ["", _("By region:")]
        for region, count in sorted(figures.by_region.items()):
            label = _(REGION_LABELS[Region(region)]) if region in Region.__members__.values() else region
            lines.append(f"• {label}: {count}")
    await message.answer("\n".join(lines))
