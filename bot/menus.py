"""Each audience's menu, and the one place that decides what a person sees next."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram_dialog import DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keyboards import language_keyboard
from dialogs.onboarding import Step, next_step
from dialogs.text import N_
from storage.models import Person, Role


class MenuCB(CallbackData, prefix="menu"):
    action: str


# (action, label, role that may use it; None = everyone)
PARTICIPANT_ITEMS: tuple[tuple[str, str], ...] = (("check", N_("🧭 Competence check")),)
COMPANY_ITEMS: tuple[tuple[str, str], ...] = ()
COORDINATOR_ITEMS: tuple[tuple[str, str], ...] = (
    ("overview", N_("📊 Overview")),
    ("profiles", N_("🧭 Check profiles")),
)
COMMON_ITEMS: tuple[tuple[str, str], ...] = (
    ("privacy", N_("🔒 Privacy")),
    ("mydata", N_("📄 My data")),
    ("language", N_("🌐 Language")),
    ("help", N_("❓ Help")),
)

ROLE_ITEMS: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.PARTICIPANT: PARTICIPANT_ITEMS,
    Role.COMPANY: COMPANY_ITEMS,
    Role.COORDINATOR: COORDINATOR_ITEMS,
}
ROLE_TITLES: dict[Role, str] = {
    Role.PARTICIPANT: N_("👤 Participant"),
    Role.COMPANY: N_("🏭 Company"),
    Role.COORDINATOR: N_("🧑‍💼 Coordination"),
}


def menu_keyboard(person: Person) -> InlineKeyboardMarkup:
    """The person's menu: the entries of each of their roles, then the common ones; nothing of other roles."""
    builder = InlineKeyboardBuilder()
    for role, items in ROLE_ITEMS.items():
        if person.has_role(role):
            for action, label in items:
                builder.button(text=_(label), callback_data=MenuCB(action=action))
    for action, label in COMMON_ITEMS:
        builder.button(text=_(label), callback_data=MenuCB(action=action))
    builder.adjust(1, 2)
    return builder.as_markup()


def menu_text(person: Person) -> str:
    roles = [_(title) for role, title in ROLE_TITLES.items() if person.has_role(role)]
    head = _("🏠 Menu")
    return f"{head} · {' · '.join(roles)}" if roles else head


async def send_menu(message: Message, person: Person) -> None:
    await message.answer(menu_text(person), reply_markup=menu_keyboard(person))


async def continue_person(message: Message, person: Person, session: AsyncSession, manager: DialogManager) -> None:
    """Show whatever comes next for this person: language, the registration step they left, or the menu."""
    from bot.flows.onboarding import start_onboarding

    if person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY):
        # Staff and coordinators do not register as participants; they go straight to their menu.
        if not person.language:
            await message.answer(_("🌐 Please choose your language."), reply_markup=language_keyboard(None))
            return
        await send_menu(message, person)
        return
    step = await next_step(session, person)
    if step is Step.LANGUAGE:
        await message.answer(_("🌐 Please choose your language."), reply_markup=language_keyboard(None))
    elif step is Step.DONE:
        await send_menu(message, person)
    else:
        await start_onboarding(manager, step)
