"""Thousands of generated updates through the real dispatcher into a real database.

Whatever Telegram may deliver — any Unicode, broken entities, captions and media, callback data of any
shape, groups and channels, edits, bots, update types this version does not know — the bot must not fail
(no exception, no ERROR logged), must not answer into a group or channel with more than its one
private-chat line, must not store anyone from a group or any bot, and must not write a person's name or
phone into a log. A registered participant with a distinctive name and phone is in the database and
writes in the groups too, so a broken group gate shows up as her data in a group.

Telegram is faked at the edge (``tests/fake_telegram.py``): every request is recorded and answered in
process, so one update costs what the bot's own work costs (a few milliseconds). Each example gets its
own copy of a migrated, seeded SQLite file and its own dispatcher. With CI=true Hypothesis's ``ci``
profile derandomises the examples; locally each run explores new ones and first replays a failure it
found before. A failure reports every update fed ("update n: …"), shrunk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.enums import ChatType
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import Update
from aiogram.utils.i18n import I18n
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.app import create_bot, create_dispatcher
from bot.config import Settings, load_settings
from bot.guards import PRIVATE_ONLY
from bot.i18n import create_i18n
from dialogs.onboarding.service import save_german_level, save_name, save_phone, save_region
from dialogs.people import set_language, touch_person
from dialogs.privacy.service import Purpose, record_consent
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import Person
from storage.uow import unit_of_work
from tests.fake_telegram import BOT_USERNAME, FakeTelegram

TOKEN = "123456:FUZZ"
BOT_ID = 123456

# The registered participant whose data must never reach a group, and the others who write.
ZARIFA = 7001
NAME, PHONE = "Zarifa", "+4917699988877"
NEEDLES = (NAME, PHONE, PHONE.removeprefix("+49"), "99988877")
COORDINATOR = 7003
OLENA = 7004  # half-way through registration
HUMANS = (ZARIFA, 7002, COORDINATOR, OLENA)  # Zarifa first: examples shrink towards her
BOTS = (8001, 1087968824, 136817688)  # a bot, GroupAnonymousBot (an anonymous admin), Channel_Bot
GROUPS = ((-100_555, ChatType.SUPERGROUP), (-4242, ChatType.GROUP))
CHANNEL = -100_777

UPDATES_PER_EXAMPLE = (1, 60)
MORE_ODDS = 24  # after the first, one more update with odds 24:1: about 20 per example
# About 2,000 updates per run; FUZZ_EXAMPLES=3000 for a long hunt before a release.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 100))

# Bugs the fuzz has found are kept as test_found_* regression tests below, each with its shrunk update. While
# a bug is open its name goes in KNOWN_BUGS (and its test gets a strict xfail), so that the fuzz does not
# generate it and goes on finding new ones.
KNOWN_BUGS: frozenset[str] = frozenset()  # all three it found are fixed; their tests below stay as regressions

# SQLite syncs every commit to disk; a database that lives for one example can live in memory-backed files.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

# --- strategies --------------------------------------------------------------------------------------

# Any code point UTF-8 can carry: lone surrogates cannot be encoded, so Telegram never sends them.
UNICODE = st.characters(codec="utf-8")
any_text = st.text(UNICODE, max_size=60)
long_text = st.builds(lambda s, n: (s * n)[:n], st.text(UNICODE, min_size=1, max_size=8), st.integers(4000, 5000))
special_text = st.sampled_from([
    NAME, PHONE, "0176 99988877", "", " ", "\x00", "Za\x00rifa\x1b", "\u202eevil\u202c", "\u200f\u200e",
    "Jose\u0301", "@", "/", "//start", f"hi @{BOT_USERNAME}", f"Hello @{BOT_USERNAME.upper()}", "@other_bot",
    "0176 12345678", "🙂" * 300,
])
texts = st.one_of(any_text, st.one_of(special_text, long_text))

COMMANDS = (
    "/start", "/mydata", "/delete", "/privacy", "/check", "/profiles", "/help", "/menu", "/cancel", "/language",
    f"/start@{BOT_USERNAME}", "/mydata@other_bot", f"/mydata@{BOT_USERNAME}", f"/delete@{BOT_USERNAME.title()}",
    "/MYDATA", "/start abc", "/unknown",
)

callback_prefixes = st.sampled_from(["menu:", "priv:", "priv:toggle:", "lang:", "chkp:", "abc\x1d", "\x1d", ":"])
real_looking_data = st.sampled_from([
    "menu:mydata", "menu:privacy", "menu:profiles", "menu:overview", "menu:check", "menu:language", "menu:help",
    "menu:", "lang:ar", "lang:de", "lang:xx", "lang:", "priv:toggle:share_with_companies",
    "priv:toggle:store_answers", "priv:toggle:contact_events", "priv:toggle:nothing", "priv:notice",
    "priv:delete", "priv:confirm_delete", "priv:keep", "priv:", "chkp:1", "chkp:-5", "chkp:0", "chkp:x",
    "abc\x1dregion:ammerland", "abc\x1dstore_yes", "\x1d", "x" * 64,
])


def _fit_64_bytes(text: str) -> str:
    return text.encode()[:64].decode("utf-8", "ignore")


callback_data = st.one_of(
    real_looking_data,
    st.text(UNICODE, max_size=64).map(_fit_64_bytes),
    st.builds(lambda prefix, rest: _fit_64_bytes(prefix + rest), callback_prefixes, any_text),
    (st.integers(-(2**31), 2**31 - 1) if "profile id beyond 32 bits" in KNOWN_BUGS else st.integers(-(10**40), 10**40)).map(
        lambda n: f"chkp:{n}"
    ),
    *([] if "button without data" in KNOWN_BUGS else [st.none()]),  # a game button: no data at all
)

language_codes = st.one_of(st.none(), st.sampled_from(["de", "ar", "uk", "fa", "ti", "en", "pt-BR", "kmr", "xx", ""]))


@st.composite
def users(draw: st.DrawFn, *, bot: bool = False) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": draw(st.sampled_from(BOTS if bot else HUMANS)),
        "is_bot": bot,
        "first_name": draw(st.one_of(st.sampled_from([NAME, "Olena"]), st.text(UNICODE, min_size=1, max_size=30))),
    }
    if (code := draw(language_codes)) is not None:
        user["language_code"] = code
    if draw(st.booleans()):
        user["username"] = draw(st.sampled_from(["zarifa_k", "olena", BOT_USERNAME, "x"]))
    return user


senders = st.one_of(users(bot=False), users(bot=False), users(bot=False), users(bot=True))


@st.composite
def chats(draw: st.DrawFn, user: dict[str, Any] | None, *, kinds: tuple[str, ...]) -> dict[str, Any]:
    kind = draw(st.sampled_from(kinds))
    if kind == "private" and user is not None:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    if kind == "channel" or user is None:
        return {"id": CHANNEL, "type": "channel", "title": draw(any_text)}
    chat_id, chat_type = draw(st.sampled_from(GROUPS))
    return {"id": chat_id, "type": chat_type.value, "title": draw(any_text)}


@st.composite
def entities(draw: st.DrawFn, text: str, user: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Mostly the right ones, sometimes with offsets and lengths past the end of the text."""
    result = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["bot_command", "bold", "mention", "url", "text_link", "text_mention", "spoiler"]))
        if draw(st.booleans()):
            offset, length = 0, max(1, len(text.split(" ")[0]))
        else:
            offset, length = draw(st.integers(0, 6000)), draw(st.integers(0, 6000))
        entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            entity["url"] = draw(st.sampled_from(["https://example.org", "tg://user?id=7001"]))
        if kind == "text_mention":
            if user is None:
                continue
            entity["user"] = user
        result.append(entity)
    return result


@st.composite
def text_content(draw: st.DrawFn, user: dict[str, Any] | None) -> dict[str, Any]:
    if draw(st.booleans()):
        command = draw(st.sampled_from(COMMANDS))
        text = command + draw(st.one_of(st.just(""), any_text.map(lambda s: " " + s)))
    else:
        text = draw(texts)
    content: dict[str, Any] = {"text": text}
    if found := draw(entities(text, user)):
        content["entities"] = found
    return content


def _file(kind: str) -> dict[str, Any]:
    return {"file_id": f"{kind}-id", "file_unique_id": f"{kind}-u"}


@st.composite
def media_content(draw: st.DrawFn, user: dict[str, Any] | None) -> dict[str, Any]:
    kind = draw(st.sampled_from(["photo", "document", "voice", "sticker", "contact", "location", "video_note",
                                 "new_chat_members", "left_chat_member"]))
    content: dict[str, Any]
    if kind == "photo":
        content = {"photo": [{**_file("photo"), "width": 90, "height": 90}]}
    elif kind == "document":
        content = {"document": {**_file("doc"), "file_name": draw(any_text) or "a.pdf", "mime_type": "application/pdf"}}
    elif kind == "voice":
        content = {"voice": {**_file("voice"), "duration": 3}}
    elif kind == "video_note":
        content = {"video_note": {**_file("vnote"), "length": 240, "duration": 2}}
    elif kind == "sticker":
        content = {"sticker": {**_file("sticker"), "type": "regular", "width": 512, "height": 512,
                               "is_animated": False, "is_video": False, "emoji": "🙂"}}
    elif kind == "contact":
        contact: dict[str, Any] = {
            "phone_number": draw(st.one_of(st.sampled_from([PHONE, "0176 12345678", "+1"]), any_text)),
            "first_name": draw(st.text(UNICODE, min_size=1, max_size=20)),
        }
        if draw(st.booleans()):
            contact["user_id"] = draw(st.sampled_from(HUMANS))
        content = {"contact": contact}
    elif kind == "location":
        content = {"location": {"latitude": draw(st.floats(-90, 90)), "longitude": draw(st.floats(-180, 180))}}
    elif kind == "new_chat_members":
        content = {"new_chat_members": [draw(users()), {**_bot_user()}]}
    else:
        content = {"left_chat_member": draw(users())}
    if kind in ("photo", "document", "voice") and draw(st.booleans()):
        caption_content = draw(text_content(user))
        content["caption"] = caption_content["text"]
        if "entities" in caption_content:
            content["caption_entities"] = caption_content["entities"]
    return content


def _bot_user() -> dict[str, Any]:
    return {"id": BOT_ID, "is_bot": True, "first_name": "pro:connect", "username": BOT_USERNAME}


@st.composite
def messages(draw: st.DrawFn, chat: dict[str, Any], user: dict[str, Any] | None, *, edited: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 2**31 - 1)),
        "date": draw(st.integers(0, 2**31 - 1)),
        "chat": chat,
    }
    if user is not None:
        message["from"] = user
    if chat["type"] == "channel":
        message["sender_chat"] = chat
    message |= draw(st.one_of(text_content(user), text_content(user), media_content(user)))
    if edited:
        message["edit_date"] = message["date"] + 1
    if chat["type"] == "supergroup" and draw(st.booleans()):
        message["message_thread_id"], message["is_topic_message"] = draw(st.integers(1, 1000)), True
    if draw(st.integers(0, 4)) == 4:
        message["reply_to_message"] = {"message_id": 1, "date": 0, "chat": chat, "from": _bot_user(), "text": "?"}
    return message


@st.composite
def message_updates(draw: st.DrawFn, key: str) -> dict[str, Any]:
    user = draw(senders)
    chat = draw(chats(user, kinds=("private", "private", "group")))
    return {key: draw(messages(chat, user, edited=key == "edited_message"))}


@st.composite
def channel_posts(draw: st.DrawFn) -> dict[str, Any]:
    chat = draw(chats(None, kinds=("channel",)))
    key = draw(st.sampled_from(["channel_post", "edited_channel_post"]))
    return {key: draw(messages(chat, None, edited=key == "edited_channel_post"))}


@st.composite
def callback_queries(draw: st.DrawFn) -> dict[str, Any]:
    """A button press, with its message, without (an inline message), or with one too old to read (date 0)."""
    user = draw(senders)
    query: dict[str, Any] = {"from": user, "chat_instance": "fuzz"}
    if (data := draw(callback_data)) is not None:
        query["data"] = data
    where = draw(st.sampled_from(
        ["message", "message", "inaccessible"] + ([] if "button without a message" in KNOWN_BUGS else ["none"])
    ))
    if where != "none":
        chat = draw(chats(user, kinds=("private", "private", "group", "channel")))
        if where == "inaccessible":
            query["message"] = {"chat": chat, "message_id": draw(st.integers(1, 2**31 - 1)), "date": 0}
        else:
            message = {"message_id": draw(st.integers(1, 2**31 - 1)), "date": draw(st.integers(1, 2**31 - 1)),
                       "chat": chat, "from": _bot_user(), "text": draw(any_text) or "…"}
            if "data" in query and draw(st.booleans()):
                button = {"text": "b", "callback_data": query["data"]}
                message["reply_markup"] = {"inline_keyboard": [[button]]}
            query["message"] = message
    else:
        query["inline_message_id"] = "inline-1"
    return {"callback_query": query}


def _member(status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": _bot_user()}
    if status == "kicked":
        member["until_date"] = 0
    return member


@st.composite
def my_chat_members(draw: st.DrawFn) -> dict[str, Any]:
    """Blocked or unblocked in private, added to or removed from a group or channel."""
    user = draw(senders)
    chat = draw(chats(user, kinds=("private", "group", "channel")))
    old, new = draw(st.permutations(["member", draw(st.sampled_from(["kicked", "left"]))]))
    return {"my_chat_member": {"chat": chat, "from": user, "date": draw(st.integers(0, 2**31 - 1)),
                               "old_chat_member": _member(old), "new_chat_member": _member(new)}}


@st.composite
def reactions(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(senders)
    chat = draw(chats(user, kinds=("private", "group")))
    return {"message_reaction": {"chat": chat, "user": user, "message_id": draw(st.integers(1, 1000)), "date": 0,
                                 "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}


@st.composite
def unknown_updates(draw: st.DrawFn) -> dict[str, Any]:
    """A type Telegram may add tomorrow; it carries a person and a chat like every other."""
    user = draw(senders)
    key = draw(st.sampled_from(["future_update", "hologram_post"]))
    return {key: {"from": user, "chat": draw(chats(user, kinds=("private", "group"))), "text": draw(texts)}}


def press(message: dict[str, Any], data: str) -> dict[str, Any]:
    """A button the bot has shown, pressed by the person it was shown to (in a group: by Zarifa)."""
    chat = message["chat"]
    presser = chat["id"] if chat["type"] == "private" else ZARIFA
    user = {"id": presser, "is_bot": False, "first_name": NAME if presser == ZARIFA else "Someone"}
    return {"callback_query": {"from": user, "chat_instance": "fuzz", "data": data, "message": message}}


def answer(window: dict[str, Any], text: str) -> dict[str, Any]:
    """What the person the newest window was shown to types next (their name, a phone number, anything)."""
    chat = window["chat"]
    user = {"id": chat["id"], "is_bot": False, "first_name": "Someone"}
    return {"message": {"message_id": 1, "date": 1, "chat": chat, "from": user, "text": text}}


answers = st.one_of(
    st.sampled_from(["Amira", "Olena", "Jose\u0301", "Zahra-Nur", "O'Neil", "ZAHRA", "0176 12345678",
                     "+49 30 1234567", "+4917699988877"]),
    texts,
)

updates = st.one_of(
    message_updates("message"),
    message_updates("message"),
    message_updates("edited_message"),
    callback_queries(),
    callback_queries(),
    channel_posts(),
    my_chat_members(),
    reactions(),
    unknown_updates(),
)

# --- the bot, its database, and what it did ---------------------------------------------------------


class World:
    """A migrated database with Zarifa registered (copied for each example), and the translations."""

    def __init__(self, template: Path, i18n: I18n, private_only: frozenset[str], defaults: DefaultBotProperties) -> None:
        self.template = template
        self.i18n = i18n
        self.defaults = defaults  # the real client's (create_bot); its HTTP session costs 50 ms to build
        self.private_only = private_only  # the one line a group may get, in every catalog language

    def __repr__(self) -> str:  # shown in every failure report: short
        return "World(Zarifa registered)"


async def _seed(url: str) -> None:
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            person = await touch_person(session, telegram_user_id=ZARIFA, chat_id=ZARIFA)
            await set_language(session, person, "ar")
            for purpose in Purpose:
                await record_consent(session, person, purpose, True)
            await save_name(session, person, NAME)
            await save_region(session, person, "ammerland")
            await save_german_level(session, person, "B1")
            await save_phone(session, person, PHONE)
            # Olena agreed to storing her answers and stopped before her name: /start brings her to the
            # questions people type answers to, where arbitrary text meets the validation.
            olena = await touch_person(session, telegram_user_id=OLENA, chat_id=OLENA)
            await set_language(session, olena, "uk")
            for purpose, accepted in ((Purpose.STORE, True), (Purpose.SHARE, False), (Purpose.CONTACT, True)):
                await record_consent(session, olena, purpose, accepted)
    finally:
        await engine.dispose()  # the last connection closes: the WAL is folded into the file we copy


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    template = tmp_path_factory.mktemp("fuzz") / "template.sqlite3"
    asyncio.run(_seed(f"sqlite+aiosqlite:///{template}"))
    base = load_settings(Settings, bot_token=TOKEN)
    i18n = create_i18n(base.locales_dir, base.default_language)
    private_only = frozenset(i18n.gettext(PRIVATE_ONLY, locale=code) for code in i18n.available_locales)
    assert len(private_only) == len(i18n.available_locales) > 1
    return World(template, i18n, private_only, create_bot(base).default)


@dataclass
class Outcome:
    fed: list[dict[str, Any]]  # the updates, in order (update_id = position + 1)
    telegram: FakeTelegram
    people: list[Person]
    logs: list[logging.LogRecord] = field(default_factory=list)
    warnings: list[warnings.WarningMessage] = field(default_factory=list)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class _Capture:
    handler: _Records = field(default_factory=_Records)
    levels: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> list[logging.LogRecord]:
        # Our loggers at INFO as in production; a record reaches the root's handlers whatever the root's level.
        for name in ("bot", "dialogs", "storage"):
            self.levels[name] = logging.getLogger(name).level
            logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger().addHandler(self.handler)
        return self.handler.records

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.handler)
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)


def _numbered(update_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """The update with its id, and a button press with its own query id (Telegram's are unique too)."""
    if "callback_query" in raw:
        raw = {**raw, "callback_query": {"id": str(update_id), **raw["callback_query"]}}
    return {"update_id": update_id, **raw}


#: Gives the next update to feed, knowing what the bot has shown so far; None: the example is over.
Source = Callable[[FakeTelegram], "dict[str, Any] | None"]


def listed(raws: list[dict[str, Any]]) -> Source:
    pending = iter(raws)
    return lambda _telegram: next(pending, None)


def drawn(data: st.DataObject) -> Source:
    """Updates drawn one by one, knowing what the bot answered: once it has shown buttons, 3 in 8 press one
    (mostly the newest window's first, the way forward; sometimes a stale one) and 2 in 8 type an answer
    into the newest window (a name, a phone number, anything), so the fuzz walks through the dialogs
    (language, consent, registration, privacy, the check, companies) instead of only knocking at the door.
    Each update after the first is preceded by a "one more?" draw, as Hypothesis's own lists do, so that
    shrinking can drop any single update."""
    fed = 0

    def next_update(telegram: FakeTelegram) -> dict[str, Any] | None:
        nonlocal fed
        low, high = UPDATES_PER_EXAMPLE
        if fed >= high or (fed >= low and data.draw(st.integers(0, MORE_ODDS), label="one more update") == 0):
            return None
        fed += 1
        # Buttons carry aiogram-dialog's ids, made of the clock: only a position is drawn, never the button
        # itself, so that Hypothesis sees the same draws when it replays an example.
        buttons = telegram.buttons()
        move = data.draw(st.integers(0, 7), label="0-2: press a button, 3-4: answer the newest window") if buttons else 7
        if move <= 2:
            # Mostly the first button of the newest window (the way forward in a flow), else one of the next
            # few, or an old one (stale).
            index = max(0, data.draw(st.integers(0, 15), label="which button (0-9: the newest)") - 9)
            if index == 6:
                index = data.draw(st.integers(6, 300), label="an old button")
            raw = press(*buttons[min(index, len(buttons) - 1)])
        elif move <= 4:
            raw = answer(buttons[0][0], data.draw(answers, label="answer"))
        else:
            raw = data.draw(updates, label="update")
        note(f"update {fed}: {raw!r}")
        return raw

    return next_update


async def _background_done() -> None:
    """Wait for what the update started in the background: aiogram-dialog shows a window after a stale
    button through a task of its own (scheduled with call_soon, so one loop turn first). Its failures reach
    the error handler like any update's; one escaping it fails the example here."""
    current = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        pending = [task for task in asyncio.all_tasks() if task is not current]
        if not pending:
            return
        await asyncio.gather(*pending)


async def _feed(world: World, database: Path, source: Source) -> Outcome:
    url = f"sqlite+aiosqlite:///{database}"
    settings_ = load_settings(
        Settings, bot_token=TOKEN, database_url=url, telegram_api_url="http://127.0.0.1:9", coordinator_ids=str(COORDINATOR)
    )
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    telegram = FakeTelegram(BOT_ID)
    bot = Bot(TOKEN, session=telegram, default=world.defaults)
    dp = create_dispatcher(settings_, sessionmaker=sessionmaker, i18n=world.i18n,
                           fsm=(MemoryStorage(), SimpleEventIsolation()))
    fed: list[dict[str, Any]] = []
    try:
        while (raw := source(telegram)) is not None:
            fed.append(raw)
            update = Update.model_validate(_numbered(len(fed), raw), context={"bot": bot})
            await dp.feed_update(bot, update)  # an exception escaping here fails the example
            await _background_done()
        async with sessionmaker() as session:
            people = list((await session.exec(select(Person))).all())
    finally:
        await dp.storage.close()
        await dp.fsm.events_isolation.close()
        await engine.dispose()
    return Outcome(fed, telegram, people)


def _run(world: World, source: Source) -> Outcome:
    with (
        tempfile.TemporaryDirectory(dir=SCRATCH) as folder,
        _Capture() as logs,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        database = Path(folder) / "fuzz.sqlite3"
        shutil.copyfile(world.template, database)
        outcome = asyncio.run(_feed(world, database, source))
    outcome.logs, outcome.warnings = list(logs), list(caught)
    return outcome


# --- what must hold ------------------------------------------------------------------------------------


@dataclass
class Senders:
    """Who wrote from where, as the bot saw it."""

    private: set[int] = field(default_factory=set)  # people in their private chat (or a chat-less button)
    group_callbacks: set[str] = field(default_factory=set)  # callback query ids of presses in a group/channel
    human_callbacks: set[str] = field(default_factory=set)
    unknown_types: int = 0


def _senders(raws: list[dict[str, Any]]) -> Senders:
    seen = Senders()
    for update_id, raw in enumerate(raws, start=1):
        update = Update.model_validate(_numbered(update_id, raw))
        context = UserContextMiddleware.resolve_event_context(update)
        known = any(key in Update.model_fields for key in raw)
        if not known:
            seen.unknown_types += 1
            continue
        user, chat = context.user, context.chat
        if user is None or user.is_bot or update.channel_post or update.edited_channel_post:
            continue
        in_group = chat is not None and chat.type != ChatType.PRIVATE
        if not in_group:
            seen.private.add(user.id)
        if update.callback_query is not None:
            seen.human_callbacks.add(str(update_id))
            if in_group:
                seen.group_callbacks.add(str(update_id))
    return seen


def _check(world: World, outcome: Outcome) -> list[str]:
    seen = _senders(outcome.fed)
    problems: list[str] = []
    for record in outcome.logs:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            problems.append(f"ERROR logged by {record.name}: {message.splitlines()[0]}")
        if any(needle in message for needle in NEEDLES):
            problems.append(f"personal data in a log line of {record.name}: {message[:200]!r}")
    for caught in outcome.warnings:
        expected = isinstance(caught.message, RuntimeWarning) and "unknown update type" in str(caught.message)
        if not (expected and seen.unknown_types):
            problems.append(f"warning {caught.category.__name__}: {str(caught.message)[:200]}")
    if outcome.telegram.unsupported:
        problems.append(f"the fake Telegram could not answer {outcome.telegram.unsupported}")

    answered: set[str] = set()
    for request in outcome.telegram.requests:
        where = request.chat_id
        if request.callback_query_id is not None:
            answered.add(request.callback_query_id)
            if request.callback_query_id in seen.group_callbacks and request.text not in (None, *world.private_only):
                problems.append(f"a button pressed in a group was answered with {request.text!r}")
        if where is None:
            continue
        if not isinstance(where, int) or where < 0:
            if request.method != "sendMessage" or request.text not in world.private_only:
                problems.append(f"{request.method} into group/channel {where}: {request.text!r:.200}")
            if request.has_file:
                problems.append(f"a file sent into group/channel {where} by {request.method}")
            if leaked := [needle for needle in NEEDLES if request.carries(needle)]:
                problems.append(f"{leaked} sent into group/channel {where} by {request.method}")
        elif where not in seen.private:
            problems.append(f"{request.method} to the private chat {where}, who wrote nothing in private")
    if unanswered := seen.human_callbacks - answered:
        problems.append(f"button presses never answered (the button keeps spinning): updates {sorted(unanswered)}")

    for person in outcome.people:
        if person.telegram_user_id in BOTS:
            problems.append(f"a person was stored for the bot {person.telegram_user_id}")
        elif person.telegram_user_id not in (ZARIFA, OLENA) and person.telegram_user_id not in seen.private:
            problems.append(f"a person was stored for {person.telegram_user_id}, who wrote only in groups")
        if person.chat_id is not None and person.chat_id != person.telegram_user_id:
            problems.append(f"person {person.telegram_user_id} has the chat {person.chat_id}, not their private chat")
    return problems


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=st.data())
def test_any_updates_are_handled_and_groups_learn_nothing(world: World, data: st.DataObject) -> None:
    outcome = _run(world, drawn(data))
    problems = _check(world, outcome)
    assert not problems, "\n".join(problems)


def test_the_fuzz_sees_what_it_looks_for(world: World) -> None:
    """The properties above would pass on a bot that does nothing: this one shows they look at the right things.

    Zarifa asks for her data in private (she gets it, as a file) and in a group (the group gets one line);
    a stranger writes in a group only (nothing is stored for him).
    """
    private = {"id": ZARIFA, "type": "private", "first_name": NAME}
    group_id = GROUPS[0][0]
    group = {"id": group_id, "type": "supergroup", "title": "Kurs A"}
    zarifa = {"id": ZARIFA, "is_bot": False, "first_name": NAME, "language_code": "ar"}
    stranger = {"id": 7002, "is_bot": False, "first_name": "Amira"}
    command = [{"type": "bot_command", "offset": 0, "length": 7}]
    raws: list[dict[str, Any]] = [
        {"message": {"message_id": 1, "date": 1, "chat": private, "from": zarifa, "text": "/mydata", "entities": command}},
        {"message": {"message_id": 2, "date": 1, "chat": group, "from": zarifa, "text": "/mydata", "entities": command}},
        {"message": {"message_id": 3, "date": 1, "chat": group, "from": stranger, "text": "/start", "entities": command}},
    ]
    outcome = _run(world, listed(raws))
    assert _check(world, outcome) == []
    to_zarifa = [r for r in outcome.telegram.requests if r.chat_id == ZARIFA]
    assert any(r.has_file and r.carries(NAME) for r in to_zarifa), "her export did not reach her private chat"
    to_group = [r for r in outcome.telegram.requests if r.chat_id == group_id]
    assert [r.text for r in to_group] == [
        world.i18n.gettext(PRIVATE_ONLY, locale="ar"), world.i18n.gettext(PRIVATE_ONLY, locale="de")
    ]
    assert {p.telegram_user_id for p in outcome.people} == {ZARIFA, OLENA}
    # Had the gate let /mydata through, the check would have said so.
    leaked = Outcome(raws[:1], FakeTelegram(BOT_ID), [])
    leaked.telegram.requests = [replace(r, chat_id=group_id) for r in to_zarifa]
    assert any("sent into group/channel" in p for p in _check(world, leaked))


# --- what the fuzz found -------------------------------------------------------------------------------

KIM = {"id": COORDINATOR, "is_bot": False, "first_name": "Kim"}
OLENA_USER = {"id": OLENA, "is_bot": False, "first_name": "Olena", "language_code": "uk"}


def _private(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


def _bot_message(user: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": 2, "date": 1, "chat": _private(user), "from": _bot_user(), "text": "…"}


def _fails_cleanly(world: World, raws: list[dict[str, Any]]) -> None:
    problems = _check(world, _run(world, listed(raws)))
    assert not problems, "\n".join(problems)


def test_found_a_button_of_an_inline_message(world: World) -> None:
    """Shrunk by the fuzz: a button press that carries no message (an inline message's) fails with TypeError
    ``menu_tap() missing 1 required positional argument: 'dialog_manager'``; the person gets "sorry"."""
    zarifa = {"id": ZARIFA, "is_bot": False, "first_name": NAME}
    _fails_cleanly(world, [
        {"callback_query": {"from": zarifa, "chat_instance": "fuzz", "data": "menu:mydata",
                            "inline_message_id": "inline-1"}},
    ])


def test_found_a_button_without_data_during_a_dialog(world: World) -> None:
    """Shrunk by the fuzz: Olena is in her registration (/start opens it at her name); a button without
    callback data (a game button) fails with TypeError in aiogram_dialog/utils.py remove_intent_id."""
    command = [{"type": "bot_command", "offset": 0, "length": 6}]
    _fails_cleanly(world, [
        {"message": {"message_id": 1, "date": 1, "chat": _private(OLENA_USER), "from": OLENA_USER,
                     "text": "/start", "entities": command}},
        {"callback_query": {"from": OLENA_USER, "chat_instance": "fuzz", "message": _bot_message(OLENA_USER)}},
    ])


def test_found_a_profile_id_beyond_the_database_integer(world: World) -> None:
    """Shrunk by the fuzz: a coordinator's forged ``chkp:9223372036854775808`` fails with OverflowError in
    dialogs/check/service.py get_run (on PostgreSQL ``chkp:2147483648`` already: DBAPIError, int32 range)."""
    _fails_cleanly(world, [
        {"callback_query": {"from": KIM, "chat_instance": "fuzz", "data": f"chkp:{2**63}",
                            "message": _bot_message(KIM)}},
    ])
