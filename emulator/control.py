"""The control API of the standalone emulator: play users and switch faults over HTTP, without Python.

GET  /_emulator                          stats and known users
POST /_emulator/users/{id}/send          {"text": "...", "first_name"?, "language_code"?}
POST /_emulator/users/{id}/press         {"button": "..."} or {"callback_data": "...", "message_id"?}
POST /_emulator/users/{id}/contact       {"phone"?}
GET  /_emulator/users/{id}/messages      the bot messages in the chat, current state
POST /_emulator/faults/{name}            keyword arguments of Faults.<name> as JSON
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from emulator.models import JSON, BotMessage
from emulator.state import EmulatorState
from emulator.updates import UpdateQueue
from emulator.users import ScriptedUser

CONTROL_FAULTS = frozenset(
    {
        "rate_limits", "no_rate_limits", "flood", "block", "unblock", "deactivate", "server_errors",
        "latency", "reset",
    }
)  # fmt: skip


class ControlApi:
    def __init__(
        self,
        state: EmulatorState,
        queue: UpdateQueue,
        users: Mapping[int, ScriptedUser],
        new_user: Callable[[int, str, str | None], ScriptedUser],
        base_url: Callable[[], str | None],
    ) -> None:
        self.state = state
        self.queue = queue
        self.users = users
        self.new_user = new_user
        self.base_url = base_url

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_emulator", self.summary),
            web.post("/_emulator/users/{user_id:\\d+}/{action}", self.user_action),
            web.get("/_emulator/users/{user_id:\\d+}/messages", self.messages),
            web.post("/_emulator/faults/{name}", self.fault),
        ]

    def stats_snapshot(self) -> JSON:
        s = self.state.stats
        return {
            "requests": s.requests,
            "sends_ok": s.sends_ok,
            "rate_limited": s.rate_limited,
            "server_errors": s.server_errors,
            "forbidden": s.forbidden,
            "methods": dict(s.methods),
            "errors": {str(k): v for k, v in s.errors.items()},
            "per_chat_sends": {str(k): v for k, v in s.per_chat_sends.items()},
            "pending_updates": len(self.queue),
        }

    async def summary(self, request: web.Request) -> web.Response:
        users = [
            {"id": u.id, "first_name": u.first_name, "messages": len(u.messages)} for u in self.users.values()
        ]
        return web.json_response(
            {"base_url": self.base_url(), "stats": self.stats_snapshot(), "users": users}
        )

    @staticmethod
    async def _body(request: web.Request) -> JSON:
        if not request.body_exists:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="the body must be a JSON object")
        return body

    async def user_action(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user_id = int(request.match_info["user_id"])
        user = self.users.get(user_id) or self.new_user(
            user_id, str(body.get("first_name") or "Test"), body.get("language_code") or "en"
        )
        action = request.match_info["action"]
        result: Any
        try:
            if action == "send":
                result = await user.send(str(body.get("text", "")))
            elif action == "press" and "button" in body:
                result = await user.press(str(body["button"]))
            elif action == "press":
                result = await user.press_data(body.get("callback_data"), body.get("message_id"))
            elif action == "contact":
                result = await user.send_contact(body.get("phone"))
            else:
                raise web.HTTPNotFound(text=f"unknown action {action}")
        except LookupError as error:
            return web.json_response({"ok": False, "description": str(error)}, status=400)
        return web.json_response({"ok": True, "result": result})

    async def messages(self, request: web.Request) -> web.Response:
        messages = self.state.messages(int(request.match_info["user_id"]))
        return web.json_response({"ok": True, "result": [message_summary(m) for m in messages]})

    async def fault(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in CONTROL_FAULTS:
            raise web.HTTPNotFound(text=f"no fault {name}; choose from {sorted(CONTROL_FAULTS)}")
        body = await self._body(request)
        try:
            getattr(self.state.faults, name)(**body)
        except TypeError as error:
            return web.json_response({"ok": False, "description": str(error)}, status=400)
        return web.json_response({"ok": True})


def message_summary(message: BotMessage) -> JSON:
    """A BotMessage as JSON for the control API (file bytes left out)."""
    return {
        "message_id": message.message_id,
        "kind": message.kind,
        "text": message.text,
        "buttons": message.buttons,
        "button_data": message.button_data,
        "keyboard": message.keyboard,
        "file_name": message.file_name,
        "file_size": len(message.document_bytes) if message.document_bytes is not None else None,
        "edited": message.edited,
    }
