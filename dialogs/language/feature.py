"""The interface language: asked first, changeable any time with /language or from the menu."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from dialogs.feature import EVERYONE, CommandSpec, Feature, MenuEntry, Resume, ResumeContext, Tap
from dialogs.language.router import CHOOSE, ask_language, language_keyboard, router
from dialogs.text import N_


async def resume(ctx: ResumeContext) -> Resume | None:
    """Nobody goes anywhere before they have a language: everything after it is in that language."""
    if ctx.person.language:
        return None
    return Resume(text=_(CHOOSE), markup=language_keyboard(None), required=True)


async def _open(tap: Tap) -> None:
    await ask_language(tap.message, tap.person)


feature = Feature(
    name="language",
    routers=(router,),
    menu=(MenuEntry("language", N_("🌐 Language"), _open, roles=EVERYONE, order=920),),
    commands=(CommandSpec("language", N_("Change language"), N_("/language – change the language"), order=30),),
    resume=resume,
)
