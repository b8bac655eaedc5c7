"""The feature contract: what one package under ``dialogs/`` gives the runtime.

A feature is a package ``dialogs/<name>/`` with the same module names everywhere: ``flow.py``
(aiogram-dialog windows and their thin handlers), ``router.py`` (plain commands and callbacks),
``service.py`` (the rules: no aiogram), ``jobs.py`` (scheduled jobs) and its data files. Its
``feature.py`` builds one :class:`Feature`; ``dialogs/registry.py`` lists them. ``bot/`` builds the
dispatcher, the menus, the command list, /help, "where does this person continue" and the scheduler by
iterating the registry, so nothing in ``bot/`` names a feature, and a new feature is one package plus
one line in the registry (docs/architecture.md, "Adding a feature").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import Router
from aiogram.fsm.state import State
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram_dialog import Dialog, DialogManager
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person, Role


@dataclass(frozen=True)
class Tap:
    """What a menu entry's action gets: the menu's message, who pressed, and this update's services."""

    message: Message
    person: Person
    session: AsyncSession
    manager: DialogManager
    data: Mapping[str, Any]  # the update's middleware data (settings, i18n, navigator, …)


@dataclass(frozen=True)
class MenuEntry:
    """One button of the main menu.

    ``roles``: who may use it (None: everyone); checked on the server at every tap, whatever the button
    claims.
    ``shown``: whether it is on this person's menu right now (default: whenever a role matches).
    """

    action: str  # unique across features; the menu's callback data carries it, nothing else
    label: str  # msgid
    open: Callable[[Tap], Awaitable[None]]
    roles: frozenset[Role] | None
    shown: Callable[[Person], bool] | None = None
    order: int = 100  # smaller first; the common entries (privacy, language, help) use 900+

    def allowed(self, person: Person) -> bool:
        return self.roles is None or any(person.has_role(role) for role in self.roles)

    def visible(self, person: Person) -> bool:
        return self.allowed(person) and (self.shown is None or self.shown(person))


EVERYONE = None  # ``roles=EVERYONE``: an entry or command for anyone, registered or not


@dataclass(frozen=True)
class Resume:
    """Where a person continues: a dialog window to open, or a message to show.

    ``before`` runs first (e.g. the recorded prompt of the question about to be shown). ``required``:
    nothing else can be done before it (a language, the registration), so /menu leads here instead.
    """

    state: State | None = None
    text: str | None = None  # already translated
    markup: InlineKeyboardMarkup | None = None
    before: Callable[[Any, int], Awaitable[None]] | None = None  # (bot, chat_id)
    required: bool = False

    def __post_init__(self) -> None:
        if (self.state is None) == (self.text is None):
            raise ValueError("a Resume opens either a dialog state or a message")


@dataclass(frozen=True)
class ResumeContext:
    session: AsyncSession
    person: Person
    data: Mapping[str, Any]


ResumeHook = Callable[[ResumeContext], Awaitable[Resume | None]]


@dataclass(frozen=True)
class CommandSpec:
    """A command for Telegram's command menu and for /help, shown to the given roles (None: everyone)."""

    name: str
    description: str  # msgid, short: Telegram's command menu
    help: str  # msgid, one line of /help
    roles: frozenset[Role] | None = None
    menu: bool = True  # listed in Telegram's command menu
    order: int = 50  # position in both lists; /start and /menu come first, /cancel and /help last
    block: int = 0  # /help puts a blank line between blocks (0: everyone's commands, 1: staff notes)

    def for_person(self, person: Person) -> bool:
        return self.roles is None or any(person.has_role(role) for role in self.roles)


@dataclass(frozen=True)
class CronJob:
    """A job run on a crontab schedule in the programme's time zone.

    ``build`` gets the runtime's services (``sessionmaker``, ``settings``) and returns the keyword
    arguments of ``job``, so the job stays a plain async function that a test calls directly.
    """

    id: str
    cron: str
    job: Callable[..., Awaitable[Any]]
    build: Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Feature:
    name: str
    routers: Sequence[Router] = ()
    dialogs: Sequence[Dialog] = ()
    menu: Sequence[MenuEntry] = ()
    commands: Sequence[CommandSpec] = ()
    resume: ResumeHook | None = None
    jobs: Sequence[CronJob] = ()
    #: msgids this feature schedules as outbox templates (rendered by the delivery worker at send time)
    templates: Sequence[str] = ()
    #: dependencies the feature's handlers receive as keyword arguments (``Dispatcher[key]``)
    services: Mapping[str, Any] = field(default_factory=dict)


class AppSettings(Protocol):
    """The settings features read (``bot.config.Settings`` has them; features may not import ``bot``)."""

    @property
    def default_language(self) -> str: ...

    @property
    def timezone(self) -> str: ...

    @property
    def retention_months(self) -> int: ...

    @property
    def coordinator_ids(self) -> frozenset[int]: ...

    @property
    def booking_cutoff_hours(self) -> float: ...


class Navigator(Protocol):
    """The runtime's "what next" rule, handed to features as ``navigator`` (they may not import ``bot``)."""

    async def continue_person(
        self, message: Message, person: Person, session: AsyncSession, manager: DialogManager
    ) -> None:
        """Show where this person continues: the first feature's resume, else their menu."""

    async def send_menu(self, message: Message, person: Person) -> None:
        """Show the person's menu."""

    async def open_entry(
        self, action: str, message: Message, person: Person, session: AsyncSession, manager: DialogManager
    ) -> bool:
        """Open another feature's menu entry by its action (roles checked), so that features link to each
        other without importing each other's flows; False if there is none or it is not for this person."""


def navigator_of(data: Mapping[str, Any]) -> Navigator:
    navigator: Navigator = data["navigator"]
    return navigator
