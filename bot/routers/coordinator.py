"""Coordinators only: every handler here is behind the role filter, for messages and callbacks alike."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.menus import MenuCB
from dialogs.onboarding import REGION_LABELS
from dialogs.reports import overview
from storage.models import Region, Role

router = Router(name="coordinator")
router.message.filter(HasRole(Role.COORDINATOR))
router.callback_query.filter(HasRole(Role.COORDINATOR))


@router.callback_query(MenuCB.filter(F.action == "overview"))
async def show_overview(query: CallbackQuery, session: AsyncSession) -> None:
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
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer("\n".join(lines))
