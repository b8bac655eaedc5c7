"""Where a person goes: the menu, "continue where you left off", /help, /cancel, stale buttons.

All of it is built from the feature registry (``dialogs/registry.py``): the menu from the features'
entries, /help and Telegram's command list from their commands, and the one "what next" rule from their
resume hooks, asked in registry order. Nothing here names a feature.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart, ExceptionTypeFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BotCommand, CallbackQuery, ErrorEvent, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from aiogram_dialog import BaseDialogManager, BgManagerFactory, DialogManager, ShowMode, StartMode
from aiogram_dialog.api.exceptions import NoContextError, OutdatedIntent, UnknownIntent, UnknownState
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.feature import EVERYONE, CommandSpec, Feature, MenuEntry, Resume, ResumeContext, Tap
from dialogs.languages import match_language
from dialogs.people import get_person
from dialogs.text import N_
from storage.models import Person, Role
from storage.uow import unit_of_work

log = logging.getLogger(__name__)

STALE = N_("This button is no longer valid. Please use the newest message.")
NOT_FOR_YOU = N_("🚫 This is not available for you.")
FINISH_REGISTRATION = N_("📝 First, please finish your registration. It takes only a few steps.")

ROLE_TITLES: dict[Role, str] = {
    Role.PARTICIPANT: N_("👤 Participant"),
    Role.COMPANY: N_("🏭 Company"),
    Role.COORDINATOR: N_("🧑‍💼 Coordination"),
}

# The runtime's own commands, around the features' ones (by ``order``).
OWN_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("Start"), N_("/start – continue where you left off"), order=0),
    CommandSpec("menu", N_("Menu"), N_("/menu – show the menu"), order=10),
    CommandSpec("cancel", N_("Stop the current step"), N_("/cancel – stop what you are doing (your answers stay saved)"),
                order=90),
)
HELP_COMMAND = CommandSpec("help", N_("Help"), N_("❓ Help"), order=99)


class MenuCB(CallbackData, prefix="menu"):
    action: str


class Navigation:
    """The runtime's side of the feature contract: menus, commands, resume; injected as ``navigator``."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = tuple(features)
        help_entry = MenuEntry("help", N_("❓ Help"), self._open_help, roles=EVERYONE, order=930)
        entries = [entry for feature in self.features for entry in feature.menu] + [help_entry]
        self.entries: dict[str, MenuEntry] = {}
        for entry in sorted(entries, key=lambda e: e.order):
            if entry.action in self.entries:
                raise ValueError(f"two menu entries with the action {entry.action!r}")
            self.entries[entry.action] = entry
        self.commands = sorted(
            [*OWN_COMMANDS, HELP_COMMAND, *(c for f in self.features for c in f.commands)], key=lambda c: c.order
        )

    # --- the menu ---------------------------------------------------------------------------------------

    def menu_keyboard(self, person: Person) -> InlineKeyboardMarkup:
        """The entries this person may see: their roles' first (one a row), then everyone's (two a row)."""
        builder = InlineKeyboardBuilder()
        own = [e for e in self.entries.values() if e.roles is not EVERYONE and e.visible(person)]
        common = [e for e in self.entries.values() if e.roles is EVERYONE and e.visible(person)]
        for entry in [*own, *common]:
            builder.button(text=_(entry.label), callback_data=MenuCB(action=entry.action))
        builder.adjust(*([1] * len(own)), 2)
        return builder.as_markup()

    def menu_text(self, person: Person) -> str:
        roles = [_(title) for role, title in ROLE_TITLES.items() if person.has_role(role)]
        head = _("🏠 Menu")
        return f"{head} · {' · '.join(roles)}" if roles else head

    async def send_menu(self, message: Message, person: Person) -> None:
        await message.answer(self.menu_text(person), reply_markup=self.menu_keyboard(person))

    async def open_entry(
        self, action: str, message: Message, person: Person, session: AsyncSession, manager: DialogManager
    ) -> bool:
        entry = self.entries.get(action)
        if entry is None or not entry.visible(person):
            return False
        await entry.open(Tap(message, person, session, manager, manager.middleware_data))
        return True

    # --- what comes next ----------------------------------------------------------------------------------

    async def resume_for(self, session: AsyncSession, person: Person, data: dict[str, Any]) -> Resume | None:
        """The first feature (in registry order) that has somewhere for this person to continue."""
        context = ResumeContext(session=session, person=person, data=data)
        for feature in self.features:
            if feature.resume is not None and (resume := await feature.resume(context)) is not None:
                return resume
        return None

    async def show(
        self, resume: Resume | None, bot: Bot, chat_id: int, person: Person, manager: BaseDialogManager
    ) -> None:
        """Open what ``resume`` names, or the menu when nothing is pending."""
        if resume is None:
            await bot.send_message(chat_id, self.menu_text(person), reply_markup=self.menu_keyboard(person))
            return
        if resume.before is not None:
            await resume.before(bot, chat_id)
        if resume.state is not None:
            await manager.start(resume.state, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)
        else:
            await bot.send_message(chat_id, resume.text or "", reply_markup=resume.markup)

    async def continue_person(
        self, message: Message, person: Person, session: AsyncSession, manager: DialogManager
    ) -> None:
        resume = await self.resume_for(session, person, manager.middleware_data)
        bot: Bot = manager.middleware_data["bot"]
        await self.show(resume, bot, message.chat.id, person, manager)

    # --- /help ----------------------------------------------------------------------------------------------

    def help_text(self, person: Person) -> str:
        blocks: dict[int, list[str]] = {}
        for command in self.commands:
            if command is not HELP_COMMAND and command.for_person(person):
                blocks.setdefault(command.block, []).append(_(command.help))
        lines = [_("❓ Help")]
        for block in sorted(blocks):
            lines += ["", *blocks[block]]
        lines += ["", _("If you are stuck, write to the programme team. A person will help you.")]
        return "\n".join(lines)

    async def _open_help(self, tap: Tap) -> None:
        await tap.message.answer(self.help_text(tap.person))

    def bot_commands(self, i18n: I18n, locale: str) -> list[BotCommand]:
        """Telegram's command menu in one language (the same for every role: Telegram cannot tell them apart)."""
        return [
            BotCommand(command=c.name, description=i18n.gettext(c.description, locale=locale))
            for c in self.commands
            if c.menu
        ]


def build_router(navigation: Navigation) -> Router:
    """/start, /help, /menu, /cancel and the menu's buttons: included first, so they work inside any dialog."""
    router = Router(name="navigation")

    @router.message(CommandStart())
    async def start(message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager) -> None:
        """New people choose a language; everyone else continues where they left off."""
        await navigation.continue_person(message, person, session, dialog_manager)

    @router.message(Command("help"))
    async def cmd_help(message: Message, person: Person) -> None:
        await message.answer(navigation.help_text(person))

    @router.message(Command("menu"))
    async def cmd_menu(
        message: Message, person: Person, session: AsyncSession, dialog_manager: DialogManager
    ) -> None:
        """The menu, unless something must come first (a language, the registration)."""
        resume = await navigation.resume_for(session, person, dialog_manager.middleware_data)
        if resume is not None and resume.required:
            await message.answer(_(FINISH_REGISTRATION))
            await navigation.show(resume, dialog_manager.middleware_data["bot"], message.chat.id, person, dialog_manager)
            return
        await navigation.send_menu(message, person)

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

    @router.callback_query(MenuCB.filter())
    async def menu_tap(
        query: CallbackQuery,
        callback_data: MenuCB,
        person: Person,
        session: AsyncSession,
        dialog_manager: DialogManager,
    ) -> None:
        """A menu button: the entry's roles are checked here, whatever menu (old, forged) it came from."""
        entry = navigation.entries.get(callback_data.action)
        if entry is None or not entry.allowed(person):
            await query.answer(_(NOT_FOR_YOU), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            await entry.open(Tap(query.message, person, session, dialog_manager, dialog_manager.middleware_data))

    return router


def build_stale_dialog_router(navigation: Navigation) -> Router:
    """A button of a dialog that no longer exists (a restart, /cancel, a newer window): resume from the database."""
    router = Router(name="stale_dialogs")

    @router.errors(ExceptionTypeFilter(UnknownIntent, OutdatedIntent, UnknownState))
    async def stale_dialog(
        event: ErrorEvent,
        bot: Bot,
        i18n: I18n,
        sessionmaker: async_sessionmaker[AsyncSession],
        dialog_bg_factory: BgManagerFactory,
        **data: Any,
    ) -> None:
        query = event.update.callback_query
        if query is None or query.message is None:
            log.warning("dialog error outside a button press: %s", type(event.exception).__name__)
            return
        # The update's own session was rolled back with the error: this is a unit of work of its own.
        async with unit_of_work(sessionmaker) as session:
            person = await get_person(session, query.from_user.id)
            locale = (person.language if person else None) or match_language(query.from_user.language_code)
            with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
                await query.answer(i18n.gettext(STALE))
                if person is None:
                    return
                chat_id = query.message.chat.id
                resume = await navigation.resume_for(session, person, {**data, "bot": bot, "i18n": i18n})
                manager = dialog_bg_factory.bg(bot, query.from_user.id, chat_id)
                await navigation.show(resume, bot, chat_id, person, manager)

    return router


fallback_router = Router(name="fallback")


@fallback_router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    """A button of an old message, of a finished flow, or a forged one: say so, change nothing."""
    await query.answer(_(STALE), show_alert=True)


@fallback_router.message()
async def not_understood(message: Message) -> None:
    """Text, photos, stickers, voice: nothing is lost, and the person learns what to do next."""
    await message.answer(_("🤔 I did not understand that. Please use the buttons, or send /start."))
