"""Server-side role checks: applied to every handler of a role's router, messages and callbacks alike."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from storage.models import Person, Role


class HasRole(Filter):
    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, event: TelegramObject, person: Person | None = None) -> bool:
        return person is not None and person.has_role(self.role)
