"""The competence check as a feature: /check for participants, /profiles for coordinators."""

from __future__ import annotations

from aiogram.types import Message

from dialogs.check.flow import dialog, resume
from dialogs.check.router import (
    coordinator_router,
    list_profiles,
    open_check,
    others_router,
    participant_router,
)
from dialogs.feature import CommandSpec, Feature, MenuEntry, Tap, navigator_of
from dialogs.text import N_
from storage.models import Role


async def _open_check(tap: Tap) -> None:
    await open_check(tap.message, tap.person, tap.session, tap.manager, navigator_of(tap.data))


async def _open_profiles(tap: Tap) -> None:
    if isinstance(tap.message, Message):
        await list_profiles(tap.message, tap.session)


feature = Feature(
    name="check",
    routers=(participant_router, coordinator_router, others_router),
    dialogs=(dialog,),
    menu=(
        MenuEntry("check", N_("🧭 Competence check"), _open_check, roles=frozenset({Role.PARTICIPANT}), order=10),
        MenuEntry("profiles", N_("🧭 Check profiles"), _open_profiles, roles=frozenset({Role.COORDINATOR}), order=20),
    ),
    commands=(
        CommandSpec("check", N_("Competence check"), N_("/check – the competence check"),
                    roles=frozenset({Role.PARTICIPANT}), order=20),
        CommandSpec("profiles", N_("🧭 Check profiles"),
                    N_("For coordinators: /profiles – finished checks; the menu has an overview."),
                    roles=frozenset({Role.COORDINATOR}), menu=False, block=1),
    ),
    resume=resume,
)
