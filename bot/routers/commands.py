"""Commands that work anywhere, in any flow: /help, /menu, /cancel, and the common menu entries."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from aiogram_dialog.api.exceptions import NoContextError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.filters import HasRole
from bot.keyboards import language_keyboard
from bot.menus import MenuCB, continue_person, send_menu
from dialogs.onboarding import Step, next_step
from storage.models import Person, Role

router = Router(name="commands")


def help_text(person: Person) -> str:
    lines = [
        _("❓ Help"),
        "",
        _("/start – continue where you left off"),
        _("/menu – show the menu"),
        _("/language – change the language"),
        _("/privacy – your consents"),
        _("/mydata – see everything we store about you"),
        _("/delete – delete all your data"),
        _("/cancel – stop what you are doing (your answers stay saved)"),
    ]
    if person.has_role(Role.PARTICIPANT):
        lines.insert(3, _("/check – the competence check"))
    if person.has_role(Role.COORDINATOR):
        lines += ["", _("For coordinators: /profiles – finished checks; the menu has an overview.")]
    lines += ["", _("If you are stuck, write to the programme team. A person will help you.")]
    return "\n".join(lines)


@router.message(Command("help"))
async def cmd_help(message: Message, person: Person) -> None:
    await message.answer(help_text(person))


@router.message(Command("menu"))
async def cmd_menu(message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager) -> None:
    """The menu once registered; before that, the registration step the person is at."""
    if person.has_role(Role.PARTICIPANT) or not (person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY)):
        if await next_step(session, person) is not Step.DONE:
            await message.answer(_("📝 First, please finish your registration. It takes only a few steps."))
            await continue_person(message, person, session, dialog_manager)
            return
    await send_menu(message, person)


@router.message(Command("cancel"))
async def cmd_cancel(message: Message, dialog_manager: DialogManager) -> None:
    """Leave any flow; everything answered so far is already stored."""
    try:
        dialog_manager.current_context()
    except NoContextError:
        await message.answer(_("There is nothing to stop. Send /menu to see what you can do."))
        return
    await dialog_manager.reset_stack()
    await message.answer(_("⏹️ Stopped. Your answers so far are saved. Send /start to continue."))


@router.callback_query(MenuCB.filter(F.action == "help"))
async def menu_help(query: CallbackQuery, person: Person) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(help_text(person))


@router.callback_query(MenuCB.filter(F.action == "language"))
async def menu_language(query: CallbackQuery, person: Person) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("🌐 Please choose your language."), reply_markup=language_keyboard(person.language)
        )


@router.message(Command("check"), ~HasRole(Role.PARTICIPANT))
async def check_before_registration(
    message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager
) -> None:
    """/check is for registered participants; everyone else learns what to do instead of silence."""
    if person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY):
        await message.answer(_("🚫 This is not available for you."))
        return
    await message.answer(_("📝 First, please finish your registration. It takes only a few steps."))
    await continue_person(message, person, session, dialog_manager)


@router.message(Command("profiles"), ~HasRole(Role.COORDINATOR))
async def profiles_not_for_you(message: Message) -> None:
    await message.answer(_("🚫 This is not available for you."))
