"""Coordinators only: completed check profiles (name or anonymous code per consent), their PDF and offers."""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.menus import MenuCB
from dialogs.check import CheckContent, load_content
from dialogs.check.pdf import render_profile_pdf
from dialogs.check.service import get_run, list_completed, rank_offers, sheet_for, stored_profile
from dialogs.text import isolate
from storage.models import Person, Role

router = Router(name="check_coordinator")
router.message.filter(HasRole(Role.COORDINATOR))
router.callback_query.filter(HasRole(Role.COORDINATOR))


class CheckProfileCB(CallbackData, prefix="chkp"):
    assessment_id: int


@router.callback_query(MenuCB.filter(F.action == "profiles"))
async def menu_profiles(query: CallbackQuery, session: AsyncSession) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await list_profiles(query.message, session)


@router.message(Command("profiles"))
async def list_profiles(message: Message, session: AsyncSession, check_content: CheckContent | None = None) -> None:
    """The latest completed check of each participant, newest first, as buttons."""
    runs = await list_completed(session)
    if not runs:
        await message.answer(_("🧭 No participant has finished the check yet."))
        return
    builder = InlineKeyboardBuilder()
    for run, sheet in runs:
        top = ", ".join(_(fs.name) for f in sheet.profile.top_fields if (fs := sheet.profile.field_score(f)))
        builder.button(text=f"{sheet.display_name} · {top or '—'}", callback_data=CheckProfileCB(assessment_id=run.id or 0))
    builder.adjust(1)
    await message.answer(
        _("🧭 Finished checks: {count}. Press one for the PDF and the matching offers.").format(count=isolate(len(runs))),
        reply_markup=builder.as_markup(),
    )


@router.callback_query(CheckProfileCB.filter())
async def show_profile(
    query: CallbackQuery,
    callback_data: CheckProfileCB,
    session: AsyncSession,
    i18n: I18n,
    check_content: CheckContent | None = None,
) -> None:
    """The German PDF of one profile, then the hospitation offers ranked by fit."""
    run = await get_run(session, callback_data.assessment_id)
    profile = stored_profile(run) if run is not None else None
    if run is None or profile is None or not isinstance(query.message, Message):
        await query.answer(_("This button is no longer valid. Please use the newest message."), show_alert=True)
        return
    await query.answer()
    content = check_content or load_content()
    sheet = await sheet_for(session, run)
    # Seconds of CPU: rendered in a thread so other people's updates are not held up.
    data = await asyncio.to_thread(render_profile_pdf, sheet, content, lambda s: i18n.gettext(s, locale="de"), "de")
    await query.message.answer_document(BufferedInputFile(data, filename=f"profil-{run.id}.pdf"))
    person = await session.get(Person, run.person_id)
    offers = await rank_offers(session, profile, person) if person is not None else []
    if not offers:
        await query.message.answer(_("No active hospitation offer fits this profile yet."))
        return
    lines = [_("🏭 Hospitation offers, best fit first:"), ""]
    for ranked in offers:
        lines.append(f"{isolate(ranked.fit)} · {ranked.offer.title} · {ranked.company.name}, {ranked.offer.town}")
        why = [_("Field score: {score}").format(score=isolate(ranked.field_score))]
        if ranked.same_region:
            why.append(_("same region"))
        if ranked.shared_languages:
            why.append(_("staff speak: {languages}").format(languages=isolate(", ".join(ranked.shared_languages))))
        lines.append("   " + "; ".join(why))
    await query.message.answer("\n".join(lines))
