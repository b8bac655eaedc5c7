"""Outer middlewares: one database session per update, and the person behind it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.guards import DatabaseHealth, is_group
from dialogs.outbox import DUE_NOW
from dialogs.people import get_person, touch_person
from storage.uow import unit_of_work

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    """One unit of work per update: services flush, and everything is committed once the handler has
    returned, or rolled back together when it raises (storage/uow.py)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], health: DatabaseHealth) -> None:
        self.sessionmaker = sessionmaker
        self.health = health

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with unit_of_work(self.sessionmaker) as session:
            data["session"] = session
            result = await handler(event, data)
        self.health.succeeded()
        delivery = data.get("delivery")
        if session.info.pop(DUE_NOW, False) and delivery is not None:
            delivery.wake()  # committed: the worker can see the row now
        return result


class PersonMiddleware(BaseMiddleware):
    """Load (or create, ids only) the person who sent the update; roles come from the database.

    Only a private chat is the person's chat: from a group the person is only looked up (for the language
    of the one line the group gets), never created or changed, so a reminder never goes to a group.
    """

    def __init__(self, coordinator_ids: frozenset[int]) -> None:
        self.coordinator_ids = coordinator_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is not None and not user.is_bot:
            session: AsyncSession = data["session"]
            if is_group(chat):
                data["person"] = await get_person(session, user.id)
                return await handler(event, data)
            data["person"] = await touch_person(
                session,
                telegram_user_id=user.id,
                chat_id=chat.id if chat is not None else user.id,
                coordinator_ids=self.coordinator_ids,
            )
        return await handler(event, data)
