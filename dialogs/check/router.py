"""/check for participants; /profiles and the profile PDFs with matching offers for coordinators.

Each router is behind its role filter, for messages and callbacks alike; the menu entries that open the
same things are in ``feature.py``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram_dialog import DialogManager
from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.check import CheckContent, load_content
from dialogs.check.flow import start_check
from dialogs.check.profile_pdf import render_profile_pdf
from dialogs.check.service import get_run, list_completed, rank_offers, sheet_for, stored_profile
from dialogs.feature import Navigator
from dialogs.filters import HasRole
from dialogs.onboarding.service import Step, next_step
from dialogs.text import isolate
from storage.models import Person, Role

participant_router = Router(name="check")
participant_router.message.filter(HasRole(Role.PARTICIPANT))
participant_router.callback_query.filter(HasRole(Role.PARTICIPANT))

coordinator_router = Router(name="check_coordinator")
coordinator_router.message.filter(HasRole(Role.COORDINATOR))
coordinator_router.callback_query.filter(HasRole(Role.COORDINATOR))

others_router = Router(name="check_others")  # last of the three: whoever the two above did not take


class CheckProfileCB(CallbackData, prefix="chkp"):
    # Bounded to the database's integer: a forged id beyond it is a stale button, not a database error.
    assessment_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


async def open_check(
    message: Message, person: Person, session: AsyncSession, manager: DialogManager, navigator: Navigator
) -> None:
    """The check where the person left it; registration first if it is not finished."""
    if await next_step(session, person) is not Step.DONE:
        await message.answer(_("📝 First, please finish your registration. It takes only a few steps."))
        await navigator.continue_person(message, person, session, manager)
        return
    await start_check(manager, session, person)


@participant_router.message(Command("check"))
async def cmd_check(
    message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager, navigator: Navigator
) -> None:
    await open_check(message, person, session, dialog_manager, navigator)


@others_router.message(Command("check"))
async def check_not_participant(
    message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager, navigator: Navigator
) -> None:
    """/check is for registered participants; everyone else learns what to do instead of silence."""
    if person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY):
        await message.answer(_("🚫 This is not available for you."))
        return
    await message.answer(_("📝 First, please finish your registration. It takes only a few steps."))
    await navigator.continue_person(message, person, session, dialog_manager)


@others_router.message(Command("profiles"))
async def profiles_not_for_you(message: Message) -> None:
    await message.answer(_("🚫 This is not available for you."))


@coordinator_router.message(Command("profiles"))
async def list_profiles(message: Message, session: AsyncSession) -> None:
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


@coordinator_router.callback_query(CheckProfileCB.filter())
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
