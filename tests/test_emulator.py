"""The Bot API emulator, driven over real HTTP by aiogram and by plain aiohttp."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiohttp import web

from emulator import BotAPIEmulator, ButtonNotFound, EmulatorTimeout, Faults

TOKEN = "123456:TEST"
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def emu() -> AsyncIterator[BotAPIEmulator]:
    async with BotAPIEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotAPIEmulator) -> AsyncIterator[Bot]:
    client = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
    try:
        yield client
    finally:
        await client.session.close()


@pytest.fixture
async def http(emu: BotAPIEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=emu.base_url) as session:
        yield session


def keyboard(*labels: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data)] for text, data in labels]
    )


# --------------------------------------------------------------------------- basics


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "proconnect_test_bot"
    assert me.can_join_groups is True


async def test_raw_http_errors_and_parameter_styles(emu: BotAPIEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"/bot{TOKEN}/noSuchMethod") as resp:
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    async with http.post("/botnot-a-token/getMe") as resp:
        assert resp.status == 401
        assert (await resp.json())["description"] == "Unauthorized"
    async with http.get(f"/bot{TOKEN}/GETME") as resp:  # method names are case-insensitive
        assert (await resp.json())["result"]["id"] == 123456

    alice = emu.user(1001, "Alice")
    await alice.send("hi")
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    # query string, JSON body, urlencoded form (reply_markup as a JSON string)
    async with http.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": "1001", "text": "q"}) as resp:
        assert (await resp.json())["result"]["text"] == "q"
    async with http.post(
        f"/bot{TOKEN}/sendMessage", json={"chat_id": 1001, "text": "j", "reply_markup": markup}
    ) as resp:
        body = await resp.json()
        assert body["ok"] and body["result"]["reply_markup"] == markup
    async with http.post(
        f"/bot{TOKEN}/sendMessage", data={"chat_id": "1001", "text": "f", "reply_markup": json.dumps(markup)}
    ) as resp:
        assert (await resp.json())["result"]["reply_markup"] == markup
    assert [m.text for m in alice.messages] == ["q", "j", "f"]
    assert alice.last.buttons == [["A"]] and alice.last.button_data == [["a"]]
    async with http.get("/elsewhere") as resp:
        assert resp.status == 404


async def test_only_the_configured_token_is_accepted() -> None:
    async with BotAPIEmulator(token="42:SECRET") as emu:
        async with aiohttp.ClientSession(base_url=emu.base_url) as http:
            async with http.get("/bot42:SECRET/getMe") as resp:
                assert (await resp.json())["result"]["id"] == 42
            async with http.get("/bot42:OTHER/getMe") as resp:
                assert resp.status == 401


# --------------------------------------------------------------------------- messages, buttons, callbacks


async def test_command_message_arrives_with_bot_command_entity(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice", "de")
    await alice.send("/start promo")
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.from_user is not None
    assert message.text == "/start promo"
    assert message.from_user.id == 1001 and message.from_user.language_code == "de"
    assert message.chat.id == 1001 and message.chat.type == "private"
    assert message.entities is not None and message.entities[0].type == "bot_command"
    assert message.entities[0].offset == 0 and message.entities[0].length == len("/start")
    # confirmed updates are dropped
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []
    assert emu.pending_updates == []


async def test_inline_keyboard_press_answer_edit_delete(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    await alice.send("/start")
    first = await bot.get_updates(timeout=0)
    sent = await bot.send_message(1001, "Continue?", reply_markup=keyboard(("Yes", "c:yes"), ("No", "c:no")))
    assert sent.reply_markup is not None
    [shown] = await alice.wait_messages(1)
    assert shown.text == "Continue?" and shown.buttons == [["Yes"], ["No"]] and shown.kind == "text"
    assert shown.data_for("No") == "c:no"

    query_id = await alice.press(" Yes ")  # surrounding whitespace is forgiven
    updates = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    assert len(updates) == 1
    query = updates[0].callback_query
    assert query is not None and query.id == query_id
    assert query.data == "c:yes" and query.from_user.id == 1001
    assert query.message is not None and query.message.message_id == sent.message_id
    await bot.answer_callback_query(query.id, text="Noted", show_alert=True)
    assert await alice.wait_callback_answer(timeout=1) == "Noted"
    assert emu.callback_answers[-1].show_alert is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)

    edited = await bot.edit_message_text("Thanks!", chat_id=1001, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.edit_date is not None
    [after] = await alice.wait_messages(1)
    assert after.edited and after.text == "Thanks!" and after.buttons == []  # no markup: keyboard removed
    assert alice.last.text == "Thanks!"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Thanks!", chat_id=1001, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=1001, message_id=sent.message_id, reply_markup=keyboard(("Again", "again"))
    )
    assert alice.last.buttons == [["Again"]]

    assert await bot.delete_message(1001, sent.message_id)
    assert alice.messages == []
    assert [m.deleted for m in alice.history] == [True]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(1001, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=sent.message_id)
    with pytest.raises(ButtonNotFound, match="no button 'Again'"):
        await alice.press("Again")


async def test_press_data_stale_and_reply_keyboard(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    await alice.send("/start")
    await bot.send_message(
        1001,
        "Share?",
        reply_markup=ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text="Share phone", request_contact=True)],
                [KeyboardButton(text="Skip")],
            ]
        ),
    )
    assert alice.last.keyboard == "reply" and alice.last.buttons == [["Share phone"], ["Skip"]]
    assert await alice.press("Skip") is None
    await alice.press("Share phone")
    await alice.press_data("forged", message_id=999)
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates[1:3] if u.message] == ["Skip", None]
    contact = updates[2].message
    assert contact is not None and contact.contact is not None and contact.contact.user_id == 1001
    query = updates[3].callback_query
    assert query is not None and query.data == "forged" and query.message is not None
    assert isinstance(query.message, InaccessibleMessage) and query.message.message_id == 999
    await bot.send_message(1001, "Done", reply_markup=ReplyKeyboardRemove())
    with pytest.raises(ButtonNotFound, match="reply keyboard: none"):
        await alice.press("Skip")


async def test_documents_and_files(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    await alice.send("/start")
    data = b"%PDF-1.4 emulator test\n" * 100
    sent = await bot.send_document(
        1001,
        BufferedInputFile(data, filename="profile.pdf"),
        caption="<b>Your</b> profile",
        parse_mode="HTML",
        reply_markup=keyboard(("OK", "ok")),
    )
    assert sent.document is not None and sent.document.file_name == "profile.pdf"
    assert sent.document.file_size == len(data) and sent.document.mime_type == "application/pdf"
    shown = alice.last
    assert shown.kind == "document" and shown.document_bytes == data and shown.file_name == "profile.pdf"
    assert shown.text == "Your profile" and shown.buttons == [["OK"]]

    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == data

    again = await bot.send_document(1001, sent.document.file_id)  # by file_id
    assert again.document is not None and again.document.file_id == sent.document.file_id
    photo = await bot.send_photo(1001, BufferedInputFile(b"\xff\xd8jpeg", filename="p.jpg"))
    assert photo.photo and alice.last.kind == "photo" and alice.last.document_bytes == b"\xff\xd8jpeg"
    voice = await bot.send_voice(1001, BufferedInputFile(b"OggS", filename="v.ogg"))
    assert voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(1001, "no-such-file-id")

    # a file the user sends can be downloaded by the bot
    await alice.send_document("cv.txt", b"my cv")
    await alice.send_photo()
    await alice.send_voice()
    await alice.send_sticker()
    updates = await bot.get_updates(timeout=0)
    doc_message = updates[1].message
    assert doc_message is not None and doc_message.document is not None
    assert doc_message.document.file_name == "cv.txt"
    got = await bot.download(doc_message.document.file_id)
    assert got is not None and got.read() == b"my cv"
    kinds = [u.message.content_type for u in updates[1:] if u.message]
    assert kinds == ["document", "photo", "voice", "sticker"]


async def test_commands_menu_chat_action(emu: BotAPIEmulator, bot: Bot) -> None:
    from aiogram.types import BotCommand, MenuButtonCommands

    await bot.set_my_commands([BotCommand(command="start", description="Start")], language_code="de")
    assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["start"]
    assert await bot.get_my_commands() == []
    assert await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == []
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    alice = emu.user(1001)
    await alice.send("hi")
    assert await bot.send_chat_action(1001, "typing")
    assert emu.chat_actions[-1].action == "typing"
    assert await bot.log_out() and await bot.close()


async def test_edit_message_media_and_user_edits(emu: BotAPIEmulator, bot: Bot) -> None:
    from aiogram.types import InputMediaDocument

    alice = emu.user(1001)
    first_id = await alice.send("helo")
    await alice.edit(first_id, "hello")
    updates = await bot.get_updates(timeout=0)
    assert updates[1].edited_message is not None and updates[1].edited_message.text == "hello"
    sent = await bot.send_document(1001, BufferedInputFile(b"v1", filename="a.txt"))
    await bot.edit_message_media(
        InputMediaDocument(media=BufferedInputFile(b"v2", filename="b.txt"), caption="second"),
        chat_id=1001,
        message_id=sent.message_id,
    )
    assert (
        alice.last.document_bytes == b"v2" and alice.last.file_name == "b.txt" and alice.last.text == "second"
    )
    assert alice.last.edited


# --------------------------------------------------------------------------- errors


async def test_validation_errors(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Alice")
    await alice.send("hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1001, "   ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1001, "x" * 4097)
    await bot.send_message(1001, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # tags do not count
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(1001, "a <br> b", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Character '!' is reserved"):
        await bot.send_message(1001, "Hello!", parse_mode="MarkdownV2")
    await bot.send_message(1001, "*Hello*, [site](https://example.org/a.b)\\!", parse_mode="MarkdownV2")
    assert alice.last.text == "Hello, site!"
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "x", reply_markup=keyboard(("Long", "d" * 65)))
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "hello")
    emu.user(1002, "Bob")  # known to the emulator, but never wrote to the bot
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation with a user"):
        await bot.send_message(1002, "hello")
    assert emu.stats.sends_ok == 2


async def test_blocked_and_deactivated_users(emu: BotAPIEmulator, bot: Bot) -> None:
    alice, bob = emu.user(1001), emu.user(1002)
    await alice.send("hi")
    await bob.send("hi")
    emu.faults.block(1001)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(1001, "hello")
    emu.faults.deactivate(1002)
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(1002, "hello")
    emu.faults.reset()
    await bot.send_message(1001, "hello")
    await alice.block()
    updates = await bot.get_updates(timeout=0, allowed_updates=["message", "my_chat_member"])
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(1001, "hello")


async def test_rate_limits_and_faults(emu: BotAPIEmulator, bot: Bot) -> None:
    for uid in range(1, 8):
        await emu.user(uid).send("hi")
    emu.faults.rate_limits(global_per_second=30, per_chat_per_second=1)
    await bot.send_message(1, "one")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(1, "two")
    assert caught.value.retry_after == 1
    assert emu.stats.rate_limited == 1 and emu.stats.rate_limited_per_chat == {1: 1}

    emu.faults.rate_limits(global_per_second=5, per_chat_per_second=None)
    for uid in range(1, 6):
        await bot.send_message(uid, "burst")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(6, "over the global limit")
    emu.faults.no_rate_limits()

    emu.faults.flood(2, retry_after=7)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(7, "flood")
        assert caught.value.retry_after == 7
    await bot.send_message(7, "after the flood")

    emu.faults.server_errors(1, status=502)
    await bot.get_me()  # only send calls fail by default
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(7, "x")
    await bot.send_message(7, "recovered")
    assert emu.stats.per_chat_sends[7] == 2
    assert [r.method for r in emu.sent_messages][-1] == "sendMessage"

    emu.faults.latency(0.2)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.2


def test_sliding_windows_absorb_jitter_but_not_excess() -> None:
    faults = Faults()
    faults.rate_limits(global_per_second=30, per_chat_per_second=1)  # default slack 10 %
    assert faults.take_send_slot(1, 100.0) is None
    refused = faults.take_send_slot(1, 100.5)
    assert refused is not None and refused.code == 429 and refused.retry_after == 1
    assert faults.take_send_slot(1, 100.91) is None  # 0.91 s: a sender at 1/s with some jitter
    for n in range(30):
        assert faults.take_send_slot(1000 + n, 200.0 + n * 0.01) is None
    assert faults.take_send_slot(2000, 200.5) is not None  # the 31st within a second
    assert faults.take_send_slot(2000, 200.91) is None
    faults.rate_limits(per_chat_per_second=1, slack=0)
    assert faults.take_send_slot(5, 0.0) is None
    assert faults.take_send_slot(5, 0.99) is not None
    assert faults.take_send_slot(5, 1.0) is None


async def test_group_rate_limit(emu: BotAPIEmulator, bot: Bot) -> None:
    emu.group(-100, "Pilot companies")
    emu.faults.rate_limits(per_group_per_minute=3)
    for _ in range(3):
        await bot.send_message(-100, "news")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(-100, "too much")
    assert caught.value.retry_after > 50


# --------------------------------------------------------------------------- updates: long poll and webhook


async def test_long_poll_returns_when_an_update_arrives(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001)
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10, request_timeout=15))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await alice.send("wake up")
    updates = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 3
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    # timeout with nothing to deliver: an empty list after about the timeout
    started = time.monotonic()
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


async def test_a_newer_long_poll_or_a_webhook_ends_the_running_one(emu: BotAPIEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 2)
    await asyncio.sleep(0.1)
    await bot.set_webhook("http://127.0.0.1:9/unreachable")
    with pytest.raises(TelegramConflictError, match="terminated by setWebhook request"):
        await asyncio.wait_for(second, 2)
    await bot.delete_webhook()


async def test_limit_and_allowed_updates(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001)
    for n in range(5):
        await alice.send(f"m{n}")
    assert len(await bot.get_updates(limit=2, timeout=0)) == 2
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 5
    assert len(await bot.get_updates(offset=-2, timeout=0)) == 2  # negative offset: the newest ones
    await bot.send_message(1001, "pick", reply_markup=keyboard(("A", "a")))
    await alice.press("A")
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0, allowed_updates=["message"])
    assert updates == []  # the callback query is not an allowed update any more
    await alice.send("still here")
    assert [u.message.text for u in await bot.get_updates(timeout=0) if u.message] == ["still here"]


class WebhookReceiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.fail_first = fail_first
        self.arrived = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=500)
        self.received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        self.arrived.set()
        return web.json_response({})

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def wait_for(self, count: int, within: float = 5) -> None:
        deadline = time.monotonic() + within
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"webhook got {len(self.received)} of {count} updates"
            await asyncio.sleep(0.01)


async def test_webhook_delivery_with_secret_and_conflict(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001)
    async with WebhookReceiver(fail_first=2) as hook:
        assert await bot.set_webhook(hook.url, secret_token="s3cret-token")
        info = await bot.get_webhook_info()
        assert info.url == hook.url
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates(timeout=0)
        await alice.send("one")
        await alice.send("two")
        await hook.wait_for(2)
        assert [u["message"]["text"] for u, _ in hook.received] == [
            "one",
            "two",
        ]  # order kept despite retries
        assert {secret for _, secret in hook.received} == {"s3cret-token"}
        assert emu.stats.webhook_failures == 2
        await alice.wait_idle(quiet=0.05, timeout=2)
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert await bot.delete_webhook()
    await alice.send("three")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["three"]


async def test_set_webhook_drop_pending_updates(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001)
    await alice.send("old")
    async with WebhookReceiver() as hook:
        await bot.set_webhook(hook.url, drop_pending_updates=True)
        await alice.send("new")
        await hook.wait_for(1)
        await asyncio.sleep(0.05)
        assert [u["message"]["text"] for u, _ in hook.received] == ["new"]
        assert hook.received[0][1] is None  # no secret configured, no header
        await bot.delete_webhook()


async def test_webhook_mode_with_aiogram_request_handler(emu: BotAPIEmulator, bot: Bot) -> None:
    """aiogram's own webhook handler: updates arrive with the secret, and a method returned by a handler
    travels back in the webhook's HTTP answer (multipart), which the emulator executes."""
    from aiogram.methods import SendMessage
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> SendMessage:
        return message.answer("answered in the webhook response")

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="s3cret", handle_in_background=False).register(
        app, path="/hook"
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        alice = emu.user(1001)
        await alice.send("/start")
        [first] = await alice.wait_messages(1)
        assert first.text == "answered in the webhook response"
        await alice.send("hello")
        [second] = await alice.wait_messages(1)
        assert second.text == "echo hello"
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong")
        await alice.send("refused")  # aiogram answers 401 to a wrong secret: retried, then dropped
        for _ in range(200):
            if emu.webhook_dropped:
                break
            await asyncio.sleep(0.02)
        assert emu.webhook_dropped and emu.webhook_dropped[0]["message"]["text"] == "refused"
        info = await bot.get_webhook_info()
        assert info.last_error_message is not None and "401" in info.last_error_message
        await bot.delete_webhook()
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------- the real thing: a polling bot


async def test_dispatcher_polling_end_to_end(emu: BotAPIEmulator, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Welcome! Ready?", reply_markup=keyboard(("Ready", "ready")))

    @router.callback_query(F.data == "ready")
    async def ready(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("Great, let's go.")
        await query.answer()

    @router.callback_query()
    async def stale(query: CallbackQuery) -> None:
        await query.answer("This button has expired.", show_alert=True)

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        alice = emu.user(1001, "Alice")
        await alice.send("/start")
        [welcome] = await alice.wait_messages(1)
        assert welcome.text == "Welcome! Ready?"
        await alice.press("Ready")
        [edited] = await alice.wait_messages(1)
        assert edited.edited and edited.text == "Great, let's go."
        assert await alice.wait_callback_answer() == ""
        await alice.press_data("old:123", message_id=welcome.message_id)
        assert await alice.wait_callback_answer() == "This button has expired."
        await alice.wait_idle(quiet=0.1)
        with pytest.raises(EmulatorTimeout):
            await alice.wait_messages(1, timeout=0.2)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


# --------------------------------------------------------------------------- settling: the bot has handled it


def slow_bot_router() -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await asyncio.sleep(0.2)  # a slow handler: a quiet spell would end too early
        await message.answer("one")
        await asyncio.sleep(0.2)
        await message.answer("two", reply_markup=keyboard(("Go", "go")))

    @router.callback_query(F.data == "go")
    async def go(query: CallbackQuery) -> None:
        await asyncio.sleep(0.2)
        assert isinstance(query.message, Message)
        await query.message.edit_text("gone")
        await query.answer("ok")

    return router


def telling_the_emulator(dp: Dispatcher, emu: BotAPIEmulator) -> Dispatcher:
    """What a test harness does: tell the emulator when the dispatcher has finished an update."""
    feed_update = dp.feed_update

    async def feed_and_tell(bot: Bot, update: Any, **kwargs: Any) -> Any:
        try:
            return await feed_update(bot, update, **kwargs)
        finally:
            emu.mark_handled(update.update_id)

    dp.feed_update = feed_and_tell  # type: ignore[method-assign]
    return dp


async def test_settled_returns_once_the_dispatcher_has_handled_the_users_updates(
    emu: BotAPIEmulator, bot: Bot
) -> None:
    dp = telling_the_emulator(Dispatcher(), emu)
    dp.include_router(slow_bot_router())
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        alice, bob = emu.user(1001, "Alice"), emu.user(1002, "Bob")
        await bob.send("no handler for this one, but it is handled all the same")
        await alice.send("/start")
        assert alice.unsettled == [alice.last_update_id]
        started = time.monotonic()
        await alice.settled(timeout=5)
        assert 0.4 <= time.monotonic() - started < 2
        assert [m.text for m in alice.messages] == ["one", "two"]  # no waiting after settled
        query_id = await alice.press("Go")
        await alice.settled(timeout=5)
        assert alice.last.text == "gone" and emu.callback_answers[-1].callback_query_id == query_id
        assert alice.unsettled == [] and len(alice.update_ids) == 2
        await emu.wait_all_handled(timeout=5)
        assert emu.unhandled_updates == [] and emu.updates.handled_count == 3
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


async def test_settled_names_what_it_still_waits_for(emu: BotAPIEmulator, bot: Bot) -> None:
    alice, bob = emu.user(1001), emu.user(1002)
    first = await alice.send("hello")
    update_id = alice.last_update_id
    assert update_id is not None and first == 1  # send* still returns the message id
    with pytest.raises(
        TimeoutError, match=rf"user 1001: update\(s\) \[{update_id}\] not yet taken by the bot"
    ):
        await alice.settled(timeout=0.05)
    updates = await bot.get_updates(timeout=0)
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)  # acknowledged: not yet handled
    with pytest.raises(EmulatorTimeout, match=rf"\[{update_id}\] taken by the bot but not marked handled"):
        await alice.settled(timeout=0.05)
    await bob.send("bob's update does not hold alice up")
    waiting = asyncio.create_task(alice.settled(timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    emu.mark_handled(update_id)
    await asyncio.wait_for(waiting, 1)
    emu.mark_handled(update_id)  # twice, or an unknown id: ignored
    emu.mark_handled(1)
    with pytest.raises(EmulatorTimeout, match="the bot: update"):
        await emu.wait_all_handled(timeout=0.05)
    assert emu.unhandled_updates == bob.update_ids


async def test_updates_that_cannot_reach_the_bot_settle(emu: BotAPIEmulator, bot: Bot) -> None:
    alice = emu.user(1001)
    await alice.send("/start")
    await bot.send_message(1001, "pick", reply_markup=keyboard(("A", "a")))
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    emu.mark_handled(alice.update_ids[0])
    await alice.press("A")  # a callback query the bot does not take: never delivered
    await alice.settled(timeout=0.5)
    await alice.send("dropped")
    await bot.delete_webhook(drop_pending_updates=True)
    await alice.settled(timeout=0.5)
    assert emu.updates.discarded_count == 2 and emu.updates.handled_count == 1


async def test_ack_means_handled_for_a_bot_handling_one_update_at_a_time() -> None:
    async with BotAPIEmulator(ack_means_handled=True) as emu:
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        sequential = Bot(TOKEN, session=session)
        alice = emu.user(1001)
        await alice.send("one")
        updates = await sequential.get_updates(timeout=0)
        assert alice.unsettled == [updates[0].update_id]  # delivered, not yet acknowledged
        await sequential.get_updates(offset=updates[0].update_id + 1, timeout=0)
        await alice.settled(timeout=0.1)

        dp = Dispatcher()
        dp.include_router(slow_bot_router())
        polling = asyncio.create_task(
            dp.start_polling(sequential, handle_signals=False, close_bot_session=False, handle_as_tasks=False)
        )
        try:
            await alice.send("/start")
            await alice.settled(timeout=5)
            assert [m.text for m in alice.messages] == ["one", "two"]
        finally:
            await dp.stop_polling()
            await asyncio.wait_for(polling, 5)
            await session.close()


async def test_ack_means_handled_over_a_webhook() -> None:
    async with BotAPIEmulator(ack_means_handled=True, webhook_attempts=2) as emu:
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        client = Bot(TOKEN, session=session)
        alice = emu.user(1001)
        try:
            async with WebhookReceiver(fail_first=1) as hook:
                await client.set_webhook(hook.url)
                await alice.send("one")
                await alice.settled(timeout=5)  # answered 2xx on the second attempt
                assert [u["message"]["text"] for u, _ in hook.received] == ["one"]
                hook.fail_first = 2
                await alice.send("lost")
                await alice.settled(timeout=5)  # dropped after two failures: it will never be handled
                assert emu.webhook_dropped[0]["message"]["text"] == "lost"
                assert emu.updates.handled_count == 1 and emu.updates.discarded_count == 1
                await client.delete_webhook()
        finally:
            await session.close()


# --------------------------------------------------------------------------- efficiency


async def test_two_thousand_sends_arrive_once_each(emu: BotAPIEmulator, bot: Bot) -> None:
    """Many concurrent sends are each stored once, in each chat's order (the rate is bench/delivery.py's)."""
    users = [emu.user(10_000 + n) for n in range(200)]
    for user in users:
        await user.send("/start")
    emu.faults.rate_limits(global_per_second=100_000, per_chat_per_second=1_000)
    semaphore = asyncio.Semaphore(32)

    async def send(n: int) -> None:
        async with semaphore:
            await bot.send_message(10_000 + n % 200, f"message {n}")

    await asyncio.gather(*(send(n) for n in range(2000)))
    assert emu.stats.sends_ok == 2000
    assert [m.text for m in users[0].messages] == [f"message {n}" for n in range(0, 2000, 200)]


# --------------------------------------------------------------------------- structure


def test_the_emulator_modules_import_no_cycle_and_users_not_the_server() -> None:
    """Each part of the emulator imports only the parts below it; scripted users act on the state and the
    update queue, so they never import the server that puts everything together."""
    import ast

    package = REPO_ROOT / "emulator"
    imports: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        imports[path.stem] = {
            node.module.removeprefix("emulator.")
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emulator.")
        }
    assert "server" not in imports["users"] and "server" not in imports["control"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for imported in imports.get(module, ()):
                visit(imported, (*path, module))
            done.add(module)

    for module in imports:
        visit(module, ())
    too_long = {p.name: n for p in package.glob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert not too_long, too_long


# --------------------------------------------------------------------------- standalone


async def test_standalone_cli_starts_and_stops_on_ctrl_c() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "emulator", "--port", "0", "--rate-limit",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession(base_url=base_url) as http:
            async with http.get(f"/bot{TOKEN}/getMe") as resp:
                assert (await resp.json())["ok"] is True
            # the control API lets a demo play a user without Python
            async with http.post("/_emulator/users/1001/send", json={"text": "/start"}) as resp:
                assert (await resp.json())["ok"] is True
            async with http.get(f"/bot{TOKEN}/getUpdates") as resp:
                assert (await resp.json())["result"][0]["message"]["text"] == "/start"
            async with http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": 1001, "text": "hi"}) as resp:
                assert resp.status == 200
            async with http.get("/_emulator/users/1001/messages") as resp:
                assert [m["text"] for m in (await resp.json())["result"]] == ["hi"]
            async with http.post("/_emulator/users/1001/press", json={"button": "nope"}) as resp:
                assert resp.status == 400
            async with http.post("/_emulator/faults/flood", json={"count": 1, "retry_after": 3}) as resp:
                assert resp.status == 200
            async with http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": 1001, "text": "x"}) as resp:
                assert resp.status == 429
                assert (await resp.json())["parameters"] == {"retry_after": 3}
            async with http.get("/_emulator") as resp:
                assert (await resp.json())["stats"]["rate_limited"] == 1
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
