"""The competence check dialog: one question per message, answered by buttons, resumable from the database.

What is stored decides what is shown: the question is the first unanswered one on the person's path
(``CheckContent.next_question`` over the stored answers). Dialog state only remembers what is being
looked at right now (a question reached with "Back" or picked in the summary, the ticks of a multiple
choice before "Done"), so losing it (a restart, /cancel, days away) loses nothing that was answered.

Windows: question → (all answered) free text → summary ⇄ section (edit one answer) → result (profile,
PDF, change answers, start again). Diagram: docs/check.md, "Bot flow".

Every window is a ``dialogs.widgets.Screen``: its buttons name what it showed (the question window: the run
and the question), so a double tap or an older message's button never answers a question not on screen.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.enums import ContentType
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, FSInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import Dialog, DialogManager, ShowMode, StartMode
from aiogram_dialog.api.entities import MediaAttachment
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Column, Row, ScrollingGroup, Select, SwitchTo
from aiogram_dialog.widgets.media import DynamicMedia
from aiogram_dialog.widgets.text import Format, Multi
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.check import SKIP, CheckContent, Question, load_content
from dialogs.check.profile_pdf import participant_pdf
from dialogs.check.service import (
    answer_labels,
    answer_question,
    current_run,
    finish,
    in_progress,
    latest_completed,
    previous_question,
    profile_lines,
    restart,
    revise,
    save_free_text,
    sheet_for,
    start_or_resume,
    stored_profile,
)
from dialogs.errors import InvalidAnswer
from dialogs.feature import Resume, ResumeContext, navigator_of
from dialogs.onboarding.service import get_profile
from dialogs.text import N_, isolate
from dialogs.widgets import STALE, Screen, T, rendered, tr
from storage.check import Assessment
from storage.models import Person, Role

__all__ = ["CheckSG", "dialog", "resume", "resume_state", "send_participant_pdf", "start_check"]


class CheckSG(StatesGroup):
    question = State()
    free_text = State()
    summary = State()
    section = State()
    result = State()
    restart = State()


# dialog_data keys
SHOWN = "qid"  # the question on screen when it is not the next unanswered one (Back, edit)
EDITING = "edit"  # the question was picked in the summary: return there after answering
PICKED = "picked"  # ticks of the multiple-choice question on screen, before "Done"
SECTION = "section"
FINISHED = "finished"  # id of a content text (not a message: kept out of the catalogs)

BACK = N_("⬅️ Back")
SKIP_LABEL = N_("⏭️ Skip")
USE_BUTTONS = N_("👇 Please answer with the buttons.")
PROGRESS = N_("🧭 {number} / {total}")


def _deps(manager: DialogManager) -> tuple[AsyncSession, Person, CheckContent]:
    data = manager.middleware_data
    content = data.get("check_content") or load_content()
    return data["session"], data["person"], content


async def resume_state(session: AsyncSession, person: Person, content: CheckContent) -> State:
    """Where the person continues: the open run's next question or summary, else the last result."""
    assert person.id is not None
    run = await in_progress(session, person.id)
    if run is None and await latest_completed(session, person.id) is not None:
        return CheckSG.result
    if run is None:
        run = await start_or_resume(session, person, content)
    return CheckSG.question if content.next_question(run.answers) is not None else CheckSG.summary


async def start_check(manager: DialogManager, session: AsyncSession, person: Person) -> None:
    content = manager.middleware_data.get("check_content") or load_content()
    state = await resume_state(session, person, content)
    if state is CheckSG.question:
        run = await start_or_resume(session, person, content)
        await _send_audio(manager, person, content, content.next_question(run.answers))
    await manager.start(state, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def _run(manager: DialogManager) -> tuple[AsyncSession, Person, CheckContent, Assessment]:
    """For handlers: the run in progress, started if there is none."""
    session, person, content = _deps(manager)
    run = await start_or_resume(session, person, content)
    return session, person, content, run


async def _shown_run(manager: DialogManager) -> tuple[CheckContent, Assessment]:
    """For getters, which only read: the run in progress, or an empty one that is not stored."""
    session, person, content = _deps(manager)
    return content, await current_run(session, person, content)


def _shown_question(manager: DialogManager, content: CheckContent, run: Assessment) -> Question | None:
    """The question on screen: the one picked with Back or in the summary, else the next unanswered."""
    shown = manager.dialog_data.get(SHOWN)
    if shown is not None and any(q.id == shown for q in content.questions_for(run.answers)):
        return content.question(shown)
    return content.next_question(run.answers)


def _shows(run: Assessment, question: Question | None) -> str:
    """What the question window shows, named in its buttons (``dialogs.widgets.Screen``): run and question."""
    return f"{run.id}:{question.id if question is not None else ''}"


async def _pressed_question(
    query: CallbackQuery, manager: DialogManager
) -> tuple[AsyncSession, CheckContent, Assessment, Question] | None:
    """The question a press on the question window answers, if it is still the one to answer.

    The press was made on the newest render (the window refuses others); this also holds it against the
    stored answers, which another update may have moved on since that render. Else "no longer valid",
    nothing stored, and the window is drawn again as the database has it.
    """
    session, _person, content, run = await _run(manager)
    question = _shown_question(manager, content, run)
    if question is None or rendered(manager) != _shows(run, question):
        await query.answer(_(STALE))
        return None
    return session, content, run, question


async def send_prompt_audio(
    bot: Bot, chat_id: int, language: str | None, content: CheckContent, question: Question | None
) -> bool:
    """Send the recorded prompt of ``question`` in ``language`` when the content has one; True if sent."""
    audio = (question.audio or {}).get(language or "") if question is not None else None
    if audio is None:
        return False
    path = content.media_path(audio)
    if not path.is_file():
        return False
    await bot.send_voice(chat_id, FSInputFile(path))
    return True


async def _send_audio(
    manager: DialogManager, person: Person, content: CheckContent, question: Question | None
) -> None:
    """The recorded prompt above the question: sent before the window is drawn (aiogram-dialog draws after
    the handler), and the question then goes below it as a new message."""
    if person.chat_id is None:
        return
    if await send_prompt_audio(manager.middleware_data["bot"], person.chat_id, person.language, content, question):
        manager.show_mode = ShowMode.SEND


async def resume(ctx: ResumeContext) -> Resume | None:
    """A check under way continues at its next question (or its summary); anything else is not ours."""
    person = ctx.person
    if person.id is None or not person.has_role(Role.PARTICIPANT):
        return None
    run = await in_progress(ctx.session, person.id)
    if run is None:
        return None
    content: CheckContent = ctx.data.get("check_content") or load_content()
    upcoming = content.next_question(run.answers)
    if upcoming is None:
        return Resume(state=CheckSG.summary)

    async def before(bot: Bot, chat_id: int) -> None:
        await send_prompt_audio(bot, chat_id, person.language, content, upcoming)

    return Resume(state=CheckSG.question, before=before)


# --- getters -------------------------------------------------------------------------------------------


def _label(text: str, emoji: str | None) -> str:
    return f"{emoji} {text}" if emoji else text


async def get_question(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    content, run = await _shown_run(dialog_manager)
    question = _shown_question(dialog_manager, content, run)
    if question is None:
        return {"text": _("✅ You answered all questions."), "options": [], "single": False, "multi": False,
                "can_back": False, "done": True, "media": None, "shows": _shows(run, None)}  # fmt: skip
    shows = _shows(run, question)
    answered, total = content.progress(run.answers)
    path = [q.id for q in content.questions_for(run.answers)]
    number = path.index(question.id) + 1 if question.id in path else answered + 1
    section = next((s.title for s in content.sections if s.id == question.section), "")
    lines = [f"{tr(PROGRESS, number=number, total=total)} · {_(section)}", ""]
    if question.title:  # a field's question: the field as heading, then the item or the question
        title = _label(_(question.title), question.emoji)
        lines += [f"{title} – {_(question.hint)}" if question.hint else title, "", _(question.text)]
    else:
        lines.append(_label(_(question.text), question.emoji))
    if question.prompt:
        lines += ["", _(question.prompt)]
    current = run.answers.get(question.id)
    if question.kind == "multi":
        picked = dialog_manager.dialog_data.get(PICKED)
        if picked is None:
            picked = list(current) if isinstance(current, list) else []
            dialog_manager.dialog_data[PICKED] = picked
        options = [(o.id, f"{'☑️' if o.id in picked else '⬜'} {_label(_(o.text), o.emoji)}") for o in question.options]
    else:
        options = [(o.id, ("✓ " if o.id == current else "") + _label(_(o.text), o.emoji)) for o in question.options]
    media = None
    if question.image is not None and content.media_path(question.image).is_file():
        media = MediaAttachment(ContentType.PHOTO, path=content.media_path(question.image))
    return {
        "text": "\n".join(lines),
        "options": options,
        "single": question.kind == "single",
        "multi": question.kind == "multi",
        "can_back": previous_question(content, run.answers, question.id) is not None,
        "done": False,
        "media": media,
        "shows": shows,
    }


async def get_free_text(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    _content, run = await _shown_run(dialog_manager)
    return {"current": isolate(run.free_text) if run.free_text else ""}


async def get_summary(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    content, run = await _shown_run(dialog_manager)
    path = content.questions_for(run.answers)
    sections = [
        (s.id, f"📝 {_(s.title)} ({isolate(sum(1 for q in path if q.section == s.id))})")
        for s in content.sections
        if any(q.section == s.id for q in path)
    ]
    return {
        "sections": sections,
        "complete": content.next_question(run.answers) is None,
        "incomplete": content.next_question(run.answers) is not None,
        "free_text": isolate(run.free_text) if run.free_text else "",
    }


async def get_section(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    content, run = await _shown_run(dialog_manager)
    section_id = dialog_manager.dialog_data.get(SECTION)
    title = next((s.title for s in content.sections if s.id == section_id), "")
    items = []
    for q in content.questions_for(run.answers):
        if q.section != section_id:
            continue
        name = _(q.title) + ": " + _(q.text) if q.title and q.prompt else _(q.title or q.text)
        if len(name) > 40:
            name = name[:39] + "…"
        items.append((q.id, f"{name} → {answer_labels(q, run.answers.get(q.id), _)}"))
    return {"title": _(title), "items": items}


async def get_result(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    session, person, content = _deps(dialog_manager)
    assert person.id is not None
    run = await latest_completed(session, person.id)
    profile = stored_profile(run) if run is not None else None
    if profile is None:
        return {"text": _("✅ You answered all questions.")}
    lines = [_(content.texts[FINISHED].text), "", *profile_lines(profile, content, _, isolate=isolate)]
    return {"text": "\n".join(lines)}


# --- handlers ------------------------------------------------------------------------------------------


async def _after_answer(manager: DialogManager) -> None:
    """Show what the stored answers call for next: the next question, or the end of the questions."""
    _session, person, content, run = await _run(manager)
    editing = manager.dialog_data.pop(EDITING, False)
    manager.dialog_data.pop(SHOWN, None)
    manager.dialog_data.pop(PICKED, None)
    upcoming = content.next_question(run.answers)
    if upcoming is not None:
        await manager.switch_to(CheckSG.question)
        await _send_audio(manager, person, content, upcoming)
    elif editing:
        await manager.switch_to(CheckSG.section)
    elif run.free_text is None:
        await manager.switch_to(CheckSG.free_text)
    else:
        await manager.switch_to(CheckSG.summary)


async def _save(
    query: CallbackQuery, manager: DialogManager, pressed: tuple[AsyncSession, CheckContent, Assessment, Question],
    value: Any,
) -> None:
    session, content, run, question = pressed
    try:
        await answer_question(session, run, content, question.id, value)
    except InvalidAnswer as error:
        await query.answer(tr(error.msgid, **error.values), show_alert=True)
        return
    await _after_answer(manager)


async def on_option(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    pressed = await _pressed_question(query, manager)
    if pressed is None:
        return
    question = pressed[3]
    if question.kind == "multi":
        picked: list[str] = list(manager.dialog_data.get(PICKED) or [])
        if item_id in picked:
            picked.remove(item_id)
        elif item_id in question.exclusive:
            picked = [item_id]
        else:
            picked = [p for p in picked if p not in question.exclusive] + [item_id]
        manager.dialog_data[PICKED] = picked
        return
    await _save(query, manager, pressed, item_id)


async def on_multi_done(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    pressed = await _pressed_question(query, manager)
    if pressed is None:
        return
    picked = list(manager.dialog_data.get(PICKED) or [])
    if not picked:
        await query.answer(_("Please choose at least one, or press “Skip”."), show_alert=True)
        return
    await _save(query, manager, pressed, picked)


async def on_skip(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    pressed = await _pressed_question(query, manager)
    if pressed is not None:
        await _save(query, manager, pressed, SKIP)


async def on_back(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    pressed = await _pressed_question(query, manager)
    if pressed is None:
        return
    _session, content, run, shown = pressed
    previous = previous_question(content, run.answers, shown.id)
    if previous is None:
        await query.answer()
        return
    manager.dialog_data[SHOWN] = previous.id
    manager.dialog_data.pop(PICKED, None)
    manager.dialog_data.pop(EDITING, None)


async def on_pause(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.done()
    if isinstance(query.message, Message):
        await query.message.answer(_("⏸️ Your answers are saved. Send /check to continue."))


async def use_buttons(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    """Text, photo, sticker, voice at a step answered by buttons: say so, then show the step again below."""
    await message.answer(_(USE_BUTTONS))
    manager.show_mode = ShowMode.SEND


async def on_free_text(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    session, _person, _content, run = await _run(manager)
    try:
        await save_free_text(session, run, message.text)
    except InvalidAnswer as error:
        await message.answer(tr(error.msgid, **error.values))
        manager.show_mode = ShowMode.SEND
        return
    await message.answer(_("✅ Saved."))
    manager.show_mode = ShowMode.SEND
    await manager.switch_to(CheckSG.summary)


async def on_free_text_other(message: Message, _widget: MessageInput, manager: DialogManager) -> None:
    await message.answer(_("✍️ Please type it as text, or press “Skip”."))
    manager.show_mode = ShowMode.SEND


async def on_free_text_skip(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, _person, _content, run = await _run(manager)
    if run.free_text is None:
        await save_free_text(session, run, "")
    await manager.switch_to(CheckSG.summary)


async def on_free_text_back(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    _session, _person, content, run = await _run(manager)
    path = content.questions_for(run.answers)
    if path:
        manager.dialog_data[SHOWN] = path[-1].id
    await manager.switch_to(CheckSG.question)


async def on_section(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    manager.dialog_data[SECTION] = item_id
    await manager.switch_to(CheckSG.section)


async def on_edit(query: CallbackQuery, _widget: Any, manager: DialogManager, item_id: str) -> None:
    manager.dialog_data[SHOWN] = item_id
    manager.dialog_data[EDITING] = True
    manager.dialog_data.pop(PICKED, None)
    await manager.switch_to(CheckSG.question)


async def on_finish(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person, content, run = await _run(manager)
    registration = await get_profile(session, person)
    try:
        await finish(session, run, content, registration.german_level if registration else None)
    except InvalidAnswer as error:
        await query.answer(tr(error.msgid, **error.values), show_alert=True)
        await manager.switch_to(CheckSG.question)
        return
    await manager.switch_to(CheckSG.result)


async def on_revise(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person, content = _deps(manager)
    await revise(session, person, content)
    await manager.switch_to(CheckSG.summary)


async def on_restart(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person, content = _deps(manager)
    run = await restart(session, person, content)
    manager.dialog_data.clear()
    await manager.switch_to(CheckSG.question)
    await _send_audio(manager, person, content, content.next_question(run.answers))


async def on_restart_no(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person, content = _deps(manager)
    await manager.switch_to(await resume_state(session, person, content))


async def on_pdf(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    session, person, content = _deps(manager)
    await query.answer()
    if isinstance(query.message, Message):
        await send_participant_pdf(query.message, session, person, content, manager.middleware_data["i18n"])
        manager.show_mode = ShowMode.SEND


async def on_menu(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    await manager.done()
    if isinstance(query.message, Message):
        await navigator_of(manager.middleware_data).send_menu(query.message, manager.middleware_data["person"])


async def on_offers(query: CallbackQuery, _button: Button, manager: DialogManager) -> None:
    """The next step after the result: the hospitation offers that fit (another feature's menu entry)."""
    session, person, _content = _deps(manager)
    if not isinstance(query.message, Message):
        return
    if not await navigator_of(manager.middleware_data).open_entry("offers", query.message, person, session, manager):
        await query.answer(_("🚫 This is not available for you."))


async def send_participant_pdf(
    message: Message, session: AsyncSession, person: Person, content: CheckContent, i18n: I18n
) -> None:
    """The latest profile as PDF in the person's language (German plus a note where no font has the script)."""
    assert person.id is not None
    run = await latest_completed(session, person.id)
    if run is None:
        await message.answer(_("You have not finished the check yet. Send /check to continue."))
        return
    sheet = await sheet_for(session, run)
    language = person.language or i18n.default_locale
    # Rendering takes seconds of CPU (font loading, shaping): off the event loop, so nobody else waits.
    pdf = await asyncio.to_thread(
        participant_pdf, sheet, content, lambda lang: lambda s: i18n.gettext(s, locale=lang), language
    )
    document = BufferedInputFile(pdf.data, filename=f"pro-connect-profile-{pdf.language}.pdf")
    await message.answer_document(document, caption=_("📄 Your result as PDF."))
    if pdf.fallback:
        await message.answer(_("ℹ️ We cannot print your language yet, so the PDF is in German. Your coach can explain it."))


# --- windows -------------------------------------------------------------------------------------------

ANY_MESSAGE = MessageInput(use_buttons)

dialog = Dialog(
    Screen(
        DynamicMedia("media", when="media"),
        Format("{text}"),
        Column(
            Select(Format("{item[1]}"), id="opt", item_id_getter=lambda item: item[0], items="options",
                   on_click=on_option),
        ),
        Button(T(N_("✔️ Done")), id="multi_done", on_click=on_multi_done, when="multi"),
        Row(
            Button(T(BACK), id="back", on_click=on_back, when="can_back"),
            Button(T(SKIP_LABEL), id="skip", on_click=on_skip, when=lambda d, *_: not d["done"]),
        ),
        SwitchTo(T(N_("📋 Check my answers")), id="to_summary", state=CheckSG.summary, when="done"),
        Button(T(N_("⏸️ Continue later")), id="pause", on_click=on_pause),
        ANY_MESSAGE,
        state=CheckSG.question,
        getter=get_question,
        shows=lambda data: data["shows"],
    ),
    Screen(
        T(N_("✍️ Is there anything else you can do? For example a trade, a machine or a hobby.\n\n"
             "Type it in your language, or press “Skip”.")),
        T(N_("Your text now: {current}"), when="current"),
        Button(T(SKIP_LABEL), id="free_skip", on_click=on_free_text_skip),
        Button(T(BACK), id="free_back", on_click=on_free_text_back),
        MessageInput(on_free_text, content_types=[ContentType.TEXT]),
        MessageInput(on_free_text_other),
        state=CheckSG.free_text,
        getter=get_free_text,
    ),
    Screen(
        T(N_("✅ You answered all questions.\n\nYou can check and change your answers. "
             "Then press “Show my result”."), when="complete"),
        T(N_("Some questions are not answered yet."), when="incomplete"),
        T(N_("Anything else you can do: {free_text}"), when="free_text"),
        Column(
            Select(Format("{item[1]}"), id="sections", item_id_getter=lambda item: item[0], items="sections",
                   on_click=on_section),
        ),
        SwitchTo(T(N_("✍️ Anything else you can do?")), id="to_free", state=CheckSG.free_text),
        Button(T(N_("📊 Show my result")), id="finish", on_click=on_finish, when="complete"),
        SwitchTo(T(N_("▶️ Continue")), id="to_question", state=CheckSG.question, when="incomplete"),
        SwitchTo(T(N_("🔄 Start again")), id="to_restart", state=CheckSG.restart),
        ANY_MESSAGE,
        state=CheckSG.summary,
        getter=get_summary,
    ),
    Screen(
        Multi(Format("📝 {title}"), T(N_("Press an answer to change it.")), sep="\n\n"),
        ScrollingGroup(
            Select(Format("{item[1]}"), id="edit", item_id_getter=lambda item: item[0], items="items",
                   on_click=on_edit),
            id="edit_pages", width=1, height=8, hide_on_single_page=True,
        ),
        SwitchTo(T(BACK), id="section_back", state=CheckSG.summary),
        ANY_MESSAGE,
        state=CheckSG.section,
        getter=get_section,
        shows=lambda data: data["dialog_data"].get(SECTION),
    ),
    Screen(
        Format("{text}"),
        Button(T(N_("🏭 See offers")), id="offers", on_click=on_offers),
        Button(T(N_("📄 My result as PDF")), id="pdf", on_click=on_pdf),
        Button(T(N_("✏️ Change my answers")), id="revise", on_click=on_revise),
        SwitchTo(T(N_("🔄 Start again")), id="result_restart", state=CheckSG.restart),
        Button(T(N_("🏠 Menu")), id="menu", on_click=on_menu),
        ANY_MESSAGE,
        state=CheckSG.result,
        getter=get_result,
    ),
    Screen(
        T(N_("🔄 Start the check again? Your answers so far will be deleted. Your last result stays.")),
        Row(
            Button(T(N_("✅ Yes")), id="restart_yes", on_click=on_restart),
            Button(T(N_("❌ No")), id="restart_no", on_click=on_restart_no),
        ),
        ANY_MESSAGE,
        state=CheckSG.restart,
    ),
)
