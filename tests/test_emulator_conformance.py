"""The emulator against a second, independent Bot API client: python-telegram-bot, not aiogram.

What aiogram lets pass, PTB may not (and the other way round): this keeps the emulator honest to the
Bot API instead of to one client's assumptions.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.request import HTTPXRequest

from emulator import BotAPIEmulator

TOKEN = "123456:PTB-TEST"


@pytest.fixture(autouse=True)
def _durations_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when a duration (RetryAfter.retry_after, Voice.duration) is read as an int; opt in to
    the timedelta it will return from now on, as its deprecation message asks."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def emu() -> AsyncIterator[BotAPIEmulator]:
    async with BotAPIEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotAPIEmulator) -> AsyncIterator[Bot]:
    """PTB's base_url is the API's URL up to the token ("{base}/bot"), base_file_url likewise."""
    client = Bot(
        TOKEN,
        base_url=f"{emu.base_url}/bot",
        base_file_url=f"{emu.base_url}/file/bot",
        request=HTTPXRequest(connection_pool_size=8, read_timeout=10),
        get_updates_request=HTTPXRequest(read_timeout=10),
    )
    async with client:  # initialize() calls getMe
        yield client


def keyboard(*labels: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in labels])


async def test_get_me(bot: Bot) -> None:
    assert bot.bot.id == 123456 and bot.bot.is_bot
    assert bot.username == "proconnect_test_bot"
    me = await bot.get_me()
    assert me.can_join_groups is True and me.supports_inline_queries is False


async def test_a_users_command_and_button_press_arrive_as_ptb_updates(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice", "de", last_name="Adler", username="alice_a")
    await alice.send("/start promo")
    [update] = await bot.get_updates(timeout=0)
    assert isinstance(update, Update) and update.update_id == alice.last_update_id
    message = update.message
    assert message is not None and message.from_user is not None
    assert message.text == "/start promo" and message.message_id == 1
    assert message.from_user.id == 1001 and message.from_user.language_code == "de"
    assert message.from_user.full_name == "Alice Adler" and message.from_user.username == "alice_a"
    assert message.chat.id == 1001 and message.chat.type == ChatType.PRIVATE
    assert message.date.tzinfo is not None
    assert message.entities == (MessageEntity(MessageEntity.BOT_COMMAND, 0, 6),)
    assert message.parse_entities() == {message.entities[0]: "/start"}

    sent = await bot.send_message(1001, "Continue?", reply_markup=keyboard(("Yes", "c:yes"), ("No", "c:no")))
    assert sent.reply_markup == keyboard(("Yes", "c:yes"), ("No", "c:no"))
    assert sent.from_user is not None and sent.from_user.id == bot.id and sent.message_id == 2
    query_id = await alice.press("No")
    [update] = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    query = update.callback_query
    assert query is not None and query.id == query_id
    assert query.data == "c:no" and query.from_user.language_code == "de"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.chat_instance
    assert await bot.answer_callback_query(query.id, text="Noted", show_alert=True)
    assert await alice.wait_callback_answer(timeout=1) == "Noted"
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)


async def test_long_poll_wakes_for_a_users_message(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await alice.send("hello")
    updates = await asyncio.wait_for(poll, 3)
    assert [u.message.text for u in updates if u.message] == ["hello"]


async def test_send_edit_delete(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    await alice.send("hi")
    sent = await bot.send_message(1001, "Pick one", reply_markup=keyboard(("A", "a")))
    edited = await bot.edit_message_text("Picked", chat_id=1001, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "Picked" and edited.edit_date is not None
    assert alice.last.text == "Picked" and alice.last.buttons == []  # no reply_markup: the keyboard goes
    edited = await bot.edit_message_reply_markup(1001, sent.message_id, reply_markup=keyboard(("B", "b")))
    assert not isinstance(edited, bool) and edited.reply_markup == keyboard(("B", "b"))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(1001, sent.message_id, reply_markup=keyboard(("B", "b")))

    photo = await bot.send_photo(1001, b"\xff\xd8\xff\xe0 a jpeg", caption="first")
    edited = await bot.edit_message_caption(1001, photo.message_id, caption="second")
    assert not isinstance(edited, bool) and edited.caption == "second" and edited.photo == photo.photo
    assert alice.last.text == "second" and alice.last.edited
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(1001, sent.message_id, caption="x")

    assert await bot.delete_message(1001, sent.message_id)
    assert [m.message_id for m in alice.messages] == [photo.message_id]
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(1001, sent.message_id)


async def test_formatted_text_comes_back_with_its_entities(emu: BotAPIEmulator, bot: Bot) -> None:
    """Telegram returns the entities of the parse mode; PTB rebuilds the markup from them."""
    await emu.user(1001).send("hi")
    html = '<b>Hello <i>there</i></b>, <a href="https://example.org/">site</a> 😀 <code>x</code>'
    sent = await bot.send_message(1001, html, parse_mode=ParseMode.HTML)
    assert sent.text == "Hello there, site 😀 x"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 11), ("italic", 6, 5), ("text_link", 13, 4), ("code", 21, 1),
    ]  # fmt: skip
    assert sent.text_html == html
    markdown = "*Bold _both_* and [a link](https://example.org/a) \\!"
    sent = await bot.send_message(1001, markdown, parse_mode=ParseMode.MARKDOWN_V2)
    assert sent.text == "Bold both and a link !"
    assert sent.text_markdown_v2 == markdown
    caption = await bot.send_document(
        1001, b"data", filename="d.txt", caption="<u>under</u>lined", parse_mode=ParseMode.HTML
    )
    assert caption.caption == "underlined" and caption.caption_html == "<u>under</u>lined"
    legacy = await bot.send_message(1001, "*bold* and _italic_", parse_mode=ParseMode.MARKDOWN)
    assert legacy.text == "bold and italic" and legacy.text_markdown == "*bold* and _italic_"
    with pytest.raises(BadRequest, match=r"(?i)can.t find end of bold entity at byte offset 0"):
        await bot.send_message(1001, "*open", parse_mode=ParseMode.MARKDOWN_V2)


async def test_media_files_and_downloads(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    await alice.send("hi")
    jpeg = b"\xff\xd8\xff\xe0 a jpeg"
    photo = await bot.send_photo(1001, jpeg)
    assert photo.photo and photo.photo[-1].width > 0 and photo.photo[-1].file_size == len(jpeg)
    assert alice.last.kind == "photo" and alice.last.document_bytes == jpeg

    pdf = b"%PDF-1.4 conformance\n" * 50
    document = await bot.send_document(1001, pdf, filename="profile.pdf", caption="Your profile")
    assert document.document is not None and document.caption == "Your profile"
    assert document.document.file_name == "profile.pdf" and document.document.mime_type == "application/pdf"
    assert alice.last.file_name == "profile.pdf" and alice.last.document_bytes == pdf

    voice = await bot.send_voice(1001, b"OggS a voice", duration=3)
    assert voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    assert voice.voice.duration == dtm.timedelta(seconds=3)

    again = await bot.send_document(1001, document.document.file_id)  # by file_id
    assert again.document is not None and again.document.file_unique_id == document.document.file_unique_id

    file = await bot.get_file(document.document.file_id)
    assert file.file_size == len(pdf) and file.file_path is not None
    assert file.file_path.startswith(f"{emu.base_url}/file/bot{TOKEN}/")
    assert bytes(await file.download_as_bytearray()) == pdf
    photo_file = await photo.photo[-1].get_file()
    assert bytes(await photo_file.download_as_bytearray()) == jpeg

    replaced = await bot.edit_message_media(
        InputMediaDocument(b"v2", filename="v2.txt", caption="new"),
        chat_id=1001,
        message_id=document.message_id,
    )
    assert not isinstance(replaced, bool) and replaced.document is not None
    assert replaced.document.file_name == "v2.txt" and replaced.caption == "new"

    await alice.send_document("cv.txt", b"my cv")  # a file the user sends, downloaded by the bot
    updates = await bot.get_updates(timeout=0)
    message = updates[-1].message
    assert message is not None and message.document is not None and message.document.file_name == "cv.txt"
    user_file = await message.document.get_file()
    assert bytes(await user_file.download_as_bytearray()) == b"my cv"


async def test_commands_per_language(bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    assert await bot.set_my_commands([BotCommand("start", "Starten")], language_code="de")
    assert await bot.get_my_commands() == (BotCommand("start", "Start"), BotCommand("help", "Help"))
    assert await bot.get_my_commands(language_code="de") == (BotCommand("start", "Starten"),)
    assert await bot.get_my_commands(language_code="fr") == ()
    assert await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Not Valid", "x")])


async def test_errors_map_to_ptbs_exceptions(emu: BotAPIEmulator, bot: Bot) -> None:
    alice, bob = emu.user(1001, "Alice"), emu.user(1002, "Bob")
    await alice.send("hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "nobody")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message("@nobody", "nobody")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(1001, " ")

    emu.faults.flood(1, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1001, "flooded")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(1001, "after the flood")

    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(bob.id, "never wrote to the bot")
    await alice.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(1001, "blocked")
    updates = await bot.get_updates(timeout=0, allowed_updates=Update.ALL_TYPES)
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    assert member.from_user.id == 1001 and member.new_chat_member.user.id == bot.id


async def test_copy_forward_reply_contact_location(emu: BotAPIEmulator, bot: Bot) -> None:
    from telegram import MessageOriginUser, ReplyParameters

    alice = emu.user(1001, "Alice")
    first = await alice.send("original")
    copied = await bot.copy_message(1001, 1001, first)
    assert copied.message_id == first + 1
    forwarded = await bot.forward_message(1001, 1001, first)
    assert forwarded.text == "original" and isinstance(forwarded.forward_origin, MessageOriginUser)
    assert forwarded.forward_origin.sender_user.id == 1001
    reply = await bot.send_message(1001, "answer", reply_parameters=ReplyParameters(first))
    assert reply.reply_to_message is not None and reply.reply_to_message.message_id == first
    assert reply.reply_to_message.text == "original"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(1001, "x", reply_parameters=ReplyParameters(999))
    lenient = ReplyParameters(999, allow_sending_without_reply=True)
    assert (await bot.send_message(1001, "x", reply_parameters=lenient)).reply_to_message is None
    contact = await bot.send_contact(1001, phone_number="+4915100000000", first_name="Desk")
    assert contact.contact is not None and contact.contact.first_name == "Desk"
    location = await bot.send_location(1001, latitude=53.14, longitude=8.21)
    assert location.location is not None and location.location.latitude == pytest.approx(53.14)
    assert await bot.send_chat_action(1001, "typing")
    assert await bot.delete_messages(1001, [copied.message_id, forwarded.message_id])


async def test_bot_settings_and_webhook_info(bot: Bot) -> None:
    from telegram import MenuButtonCommands, MenuButtonDefault

    assert await bot.set_my_description("Helps newcomers", language_code="en")
    assert (await bot.get_my_description(language_code="en")).description == "Helps newcomers"
    assert (await bot.get_my_description()).description == ""
    assert await bot.set_my_short_description("Newcomers' helper")
    assert (await bot.get_my_short_description()).short_description == "Newcomers' helper"
    assert await bot.set_my_name("pro:connect")
    assert (await bot.get_my_name()).name == "pro:connect"
    assert isinstance(await bot.get_chat_menu_button(), MenuButtonDefault)
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert isinstance(await bot.get_chat_menu_button(), MenuButtonCommands)
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0 and info.has_custom_certificate is False


async def test_a_wrong_token_and_a_webhook_conflict() -> None:
    from telegram.error import Conflict, InvalidToken

    async with BotAPIEmulator(token="42:RIGHT") as emu:
        wrong = Bot("42:WRONG", base_url=f"{emu.base_url}/bot")
        with pytest.raises(InvalidToken):
            async with wrong:
                pass
        async with Bot("42:RIGHT", base_url=f"{emu.base_url}/bot") as right:
            assert right.id == 42
            assert await right.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
            assert (await right.get_webhook_info()).url == "http://127.0.0.1:9/hook"
            with pytest.raises(Conflict, match="webhook is active"):
                await right.get_updates(timeout=0)
            assert await right.delete_webhook()
            assert await right.get_updates(timeout=0) == ()
