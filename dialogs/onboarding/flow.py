"""Registration dialog: welcome, consent per purpose, name, region, German level, phone.

Every answer is stored the moment it is given; the step to show is derived from the database
(``service.next_step``), so the dialog can be lost (restart, /cancel, days away) without
losing anything. Diagram: docs/onboarding.mmd.

Every window is a ``dialogs.widgets.Screen``: a double tap on a step's button, or a button of an earlier
step, is refused ("no longer valid") instead of answering the step now shown.
"""

from __future__ import annotations

from typing import Any

from aiogram.enums import ContentType
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import Dialog, DialogManager
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Column, Row, Select, SwitchTo
from aiogram_dialog.widgets.text import Format, Multi
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.errors import InvalidAnswer
from dialogs.feature import Resume, ResumeContext, navigator_of
from dialogs.onboarding.service import (
    GERMAN_DESCRIPTIONS,
    GERMAN_LABELS,
    REGION_LABELS,
    Step,
    next_step,
    progress,
    save_german_level,
    save_name,
    save_phone,
    save_region,
)
from dialogs.privacy.service import (
    NOTICE,
    PRIVACY_VERSION,
    ErasureReason,
    Purpose,
    erase_person,
    record_consent,
)
from dialogs.text import N_
from dialogs.widgets import Screen, T, tr
from storage.models import Person, Role


class Onboarding(StatesGroup):
    welcome = State()
    consent_store = State()
    notice = State()
    consent_share = State()
    consent_contact = State()
    name = State()
    region = State()
    german = State()
    phone = State()


STATE_FOR_STEP: dict[Step, Any] = {
    Step.CONSENT_STORE: Onboarding.welcome,  # the welcome comes first, before anything is asked
    Step.CONSENT_SHARE: Onboarding.consent_share,
    Step.CONSENT_CONTACT: Onboarding.consent_contact,
    Step.NAME: Onboarding.name,
    Step.REGION: Onboarding.region,
    Step.GERMAN: Onboarding.german,
    Step.PHONE: Onboarding.phone,
}
STEP_FOR_STATE: dict[Any, Step] = {
    Onboarding.welcome: Step.CONSENT_STORE,
    Onboarding.consent_store: Step.CONSENT_STORE,
    Onboarding.notice: Step.CONSENT_STORE,
    Onboarding.consent_share: Step.CONSENT_SHARE,
    Onboarding.consent_contact: Step.CONSENT_CONTACT,
    Onboarding.name: Step.NAME,
    Onboarding.region: Step.REGION,
    Onboarding.german: Step.GERMAN,
    Onboarding.phone: Step.PHONE,
}

YES = N_("✅ Yes")
NO = N_("❌ No")
BACK = N_("⬅️ Back")
USE_BUTTONS = N_("👇 Please answer with the buttons.")


def _deps(manager: DialogManager) -> tuple[AsyncSession, Person]:
    data = manager.middleware_data
    return data["session"], data["person"]


async def _advance(manager: DialogManager) -> None:
    """Go to whatever the stored answers say comes next; finish the dialog when registration is done."""
    session, person = _deps(manager)
    step = await next_step(session, person)
    if step is Step.DONE or step is Step.LANGUAGE:
        await manager.done()
        event = manager.event
        message = event.message if isinstance(event, CallbackQuery) else event
        if isinstance(message, Message):
            if step is Step.DONE:
                await message.answer(tr(N_("🎉 Thank you, {name}! You are registered."), name=person.first_name))
            await navigator_of(manager.middleware_data).send_menu(message, person)
        return
    state = Onboarding.consent_store if step is Step.CONSENT_STORE else STATE_FOR_STEP[step]
    await manager.switch_to(state)


async def resume(ctx: ResumeContext) -> Resume | None:
    """An unfinished registration continues at its step. Staff and coordinators do not register."""
    person = ctx.person
    if person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY):
        return None
    step = await next_step(ctx.session, person)
    return Resume(state=STATE_FOR_STEP[step], required=True) if step in STATE_FOR_STEP else None


# --- getters -------------------------------------------------------------------------------------------


async def get_progress(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    step = STEP_FOR_STATE.get(dialog_manager.current_context().state, Step.CONSENT_STORE)
    p = progress(step)
    return {"step": p.number, "total": p.total}


async def get_notice(dialog_manager: DialogManager, **kwargs: Any) -> dict[str, Any]:
    settings = kwargs["settings"]
    return {**await get_progress(dialog_manager), "version": PRIVACY_VERSION, "months": settings.retention_months}


async def get_regions(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {
        **await get_progress(dialog_manager),
        "regions": [(region.value, _(label)) for region, label in REGION_LABELS.items()],
    }


async def get_levels(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {
        **await get_progress(dialog_manager),
        "levels": [(level.value, _(label)) for level, label in GERMAN_LABELS.items()],
        "descriptions": "\n".join(
            f"• {level.value if level.value != 'none' else '—'}: {_(text)}"
            for level, text in GERMAN_DESCRIPTIONS.items()
        ),
    }


# --- handlers ------------------------------------------------------------------------------------------


async def on_store_yes(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    await record_consent(session, person, Purpose.STORE, True)
    await _advance(manager)


async def on_store_no(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    """Declining keeps nothing personal: the bare record made on first contact is erased too."""
    session, person = _deps(manager)
    await erase_person(session, person, ErasureReason.DECLINED)
    await manager.done()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("👍 Okay. We have stored nothing about you.\n\n"
              "Without this we cannot help you in the programme. If you change your mind, send /start.")
        )


def _consent_handler(purpose: Purpose, accepted: bool) -> Any:
    async def handler(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
        session, person = _deps(manager)
        await record_consent(session, person, purpose, accepted)
        await _advance(manager)

    return handler


async def on_name(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    session, person = _deps(manager)
    try:
        await save_name(session, person, message.text)
    except InvalidAnswer as error:
        await message.answer(tr(error.msgid, **error.values))
        return
    await _advance(manager)


async def on_name_not_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await message.answer(_("✍️ Please type your first name as text."))


async def on_region(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, person = _deps(manager)
    await save_region(session, person, item_id)
    await _advance(manager)


async def on_level(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    session, person = _deps(manager)
    await save_german_level(session, person, item_id)
    await _advance(manager)


async def on_phone(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    session, person = _deps(manager)
    raw = message.contact.phone_number if message.contact else message.text
    try:
        await save_phone(session, person, raw)
    except InvalidAnswer as error:
        await message.answer(tr(error.msgid, **error.values))
        return
    await _advance(manager)


async def on_phone_other(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await message.answer(_("📞 Please type your phone number, or press “Skip”."))


async def on_phone_skip(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person = _deps(manager)
    await save_phone(session, person, None)
    await _advance(manager)


async def use_buttons(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    """Text, photos, stickers, voice at a step answered by buttons: say so, then show the step again."""
    await message.answer(_(USE_BUTTONS))


async def on_back_from_name(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.switch_to(Onboarding.consent_contact)


# --- windows -------------------------------------------------------------------------------------------

PROGRESS = T(N_("Step {step} of {total}"))
ANY_MESSAGE = MessageInput(use_buttons)


def _step_text(msgid: str, *more: Format) -> Multi:
    """A registration step's text under its "Step n of 7" line."""
    return Multi(PROGRESS, T(msgid), *more, sep="\n\n")


def _choice(widget_id: str, items: str, on_click: Any) -> Column:
    """One button per (id, label) item of the getter's ``items``, in a column."""
    return Column(
        Select(Format("{item[1]}"), id=widget_id, item_id_getter=lambda item: item[0], items=items,
               on_click=on_click),
    )


def _yes_no(purpose: Purpose) -> Row:
    return Row(
        Button(T(YES), id=f"{purpose.value}_yes", on_click=_consent_handler(purpose, True)),
        Button(T(NO), id=f"{purpose.value}_no", on_click=_consent_handler(purpose, False)),
    )


dialog = Dialog(
    Screen(
        T(N_("👋 Welcome to pro:connect!\n\n"
               "pro:connect is a programme of the skilled-workers alliance in Ammerland, Oldenburg and "
               "Delmenhorst. We bring people who came to Germany together with companies in the region: "
               "for a job, an internship or an apprenticeship (Ausbildung).\n\n"
               "I will ask you a few short questions. It takes about 3 minutes.")),
        SwitchTo(T(N_("▶️ Continue")), id="welcome_next", state=Onboarding.consent_store),
        ANY_MESSAGE,
        state=Onboarding.welcome,
        getter=get_progress,
    ),
    Screen(
        _step_text(
            N_("🔒 Your data\n\n"
               "To help you, we store what you tell us: your first name, where you live, your German "
               "and, if you want, your phone number. Only the programme team sees it.\n\n"
               "You can see your data with /mydata and delete it with /delete at any time.\n\n"
               "May we store your answers?"),
        ),
        Row(
            Button(T(N_("✅ Yes, I agree")), id="store_yes", on_click=on_store_yes),
            Button(T(NO), id="store_no", on_click=on_store_no),
        ),
        SwitchTo(T(N_("📄 Read more")), id="notice", state=Onboarding.notice),
        ANY_MESSAGE,
        state=Onboarding.consent_store,
        getter=get_progress,
    ),
    Screen(
        T(NOTICE),
        SwitchTo(T(BACK), id="notice_back", state=Onboarding.consent_store),
        ANY_MESSAGE,
        state=Onboarding.notice,
        getter=get_notice,
    ),
    Screen(
        _step_text(
            N_("🏭 May we show your profile to the pilot companies?\n\n"
               "Then they can invite you. They see your first name, your region, your German and what "
               "you can do. You can change this later with /privacy."),
        ),
        _yes_no(Purpose.SHARE),
        ANY_MESSAGE,
        state=Onboarding.consent_share,
        getter=get_progress,
    ),
    Screen(
        _step_text(
            N_("📅 May we send you messages about events?\n\n"
               "For example job fairs and meetings with companies. You can change this later with /privacy."),
        ),
        _yes_no(Purpose.CONTACT),
        SwitchTo(T(BACK), id="contact_back", state=Onboarding.consent_share),
        ANY_MESSAGE,
        state=Onboarding.consent_contact,
        getter=get_progress,
    ),
    Screen(
        _step_text(N_("✍️ What is your first name?\n\nPlease type it.")),
        Button(T(BACK), id="name_back", on_click=on_back_from_name),
        MessageInput(on_name, content_types=[ContentType.TEXT]),
        MessageInput(on_name_not_text),
        state=Onboarding.name,
        getter=get_progress,
    ),
    Screen(
        _step_text(N_("📍 Where do you live?")),
        _choice("region", "regions", on_region),
        SwitchTo(T(BACK), id="region_back", state=Onboarding.name),
        ANY_MESSAGE,
        state=Onboarding.region,
        getter=get_regions,
    ),
    Screen(
        _step_text(N_("🗣️ How well do you speak German?"), Format("{descriptions}")),
        _choice("german", "levels", on_level),
        SwitchTo(T(BACK), id="german_back", state=Onboarding.region),
        ANY_MESSAGE,
        state=Onboarding.german,
        getter=get_levels,
    ),
    Screen(
        _step_text(
            N_("📞 Do you want to give us your phone number? Then the team can call you.\n\n"
               "Type your number, or press “Skip”."),
        ),
        Button(T(N_("⏭️ Skip")), id="phone_skip", on_click=on_phone_skip),
        SwitchTo(T(BACK), id="phone_back", state=Onboarding.german),
        MessageInput(on_phone, content_types=[ContentType.TEXT, ContentType.CONTACT]),
        MessageInput(on_phone_other),
        state=Onboarding.phone,
        getter=get_progress,
    ),
)
