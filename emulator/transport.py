"""HTTP: the aiohttp server, ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``, the token check and
the parameters of a call however they arrive (query string, JSON, urlencoded or multipart form).

The methods themselves live in :mod:`emulator.messages`, :mod:`emulator.settings` and
:mod:`emulator.updates`; each registers its handlers in the :class:`MethodTable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from emulator.models import ApiError, bad_request
from emulator.state import EmulatorState

log = logging.getLogger("emulator")

TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,100}$")
MAX_UPLOAD = 50 * 1024 * 1024


@dataclass
class Upload:
    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """The parameters of one call, whatever way they arrived; typed accessors raise 400 like Telegram."""

    def __init__(self, data: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.data = data
        self.files = files or {}

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "") or name in self.files

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        return (
            value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, dict | list)
            else str(value)
        )

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str, default: float = 0.0) -> float:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")

    def get_json(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                if name == "reply_markup":
                    raise bad_request("can't parse reply keyboard markup JSON object") from None
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def file(self, name: str) -> Upload | str | None:
        if name in self.files:
            return self.files[name]
        value = self.data.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            key = value[len("attach://") :]
            if key not in self.files:
                raise bad_request(f"file of field {name} not found in the request")
            return self.files[key]
        return value if isinstance(value, str) and value else None


Handler = Callable[[Params, int], Awaitable[Any]]


async def read_multipart(
    reader: aiohttp.MultipartReader, data: dict[str, Any], files: dict[str, Upload]
) -> None:
    """Fields to ``data`` (strings), file parts to ``files`` (bytes with their file name)."""
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        name = part.name or ""
        if part.filename is not None:
            files[name] = Upload(
                data=bytes(await part.read(decode=True)),
                filename=part.filename,
                content_type=part.headers.get(aiohttp.hdrs.CONTENT_TYPE),
            )
        else:
            data[name] = await part.text()


def is_send_method(name: str) -> bool:
    """Calls that post a message into a chat: the ones floods and the default server errors hit."""
    return (name.startswith("send") and name != "sendchataction") or name in ("copymessage", "forwardmessage")


class MethodTable:
    """Bot API method name (case-insensitive) → handler; a call passes the switched-on faults first."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._handlers: dict[str, Handler] = {}

    def register(self, handlers: Mapping[str, Handler]) -> None:
        for name, handler in handlers.items():
            key = name.lower()
            if key in self._handlers:
                raise ValueError(f"method {name} registered twice")
            self._handlers[key] = handler

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._handlers

    def resolve(self, name: str) -> tuple[str, Handler]:
        """The handler of ``name``, counted in ``stats.methods``; an unknown method is 404."""
        key = name.lower()
        handler = self._handlers.get(key)
        if handler is None:
            raise ApiError(404, "Not Found")
        self.state.stats.methods[key] += 1
        return key, handler

    async def invoke(self, name: str, handler: Handler, params: Params, bot_id: int) -> Any:
        """Apply the switched-on faults, then run the handler; raises ApiError."""
        stats, faults = self.state.stats, self.state.faults
        is_send = is_send_method(name)
        error = faults.server_error(is_send)
        if error is not None:
            stats.server_errors += 1
            raise error
        if is_send:
            error = faults.flooded()
            if error is not None:
                count_rate_limited(self.state, params)
                raise error
        return await handler(params, bot_id)

    async def call(self, name: str, params: Params, bot_id: int) -> Any:
        key, handler = self.resolve(name)
        return await self.invoke(key, handler, params, bot_id)


def count_rate_limited(state: EmulatorState, params: Params) -> None:
    state.stats.rate_limited += 1
    with contextlib.suppress(ApiError):
        chat_id = params.get_int("chat_id")
        if chat_id is not None:
            per_chat = state.stats.rate_limited_per_chat
            per_chat[chat_id] = per_chat.get(chat_id, 0) + 1


class HttpServer:
    """The aiohttp application and its runner: API calls, file downloads, extra routes, 404 for the rest."""

    def __init__(self, state: EmulatorState, methods: MethodTable) -> None:
        self.state = state
        self.methods = methods
        self.base_url: str | None = None
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self, host: str, port: int, extra_routes: Iterable[web.AbstractRouteDef] = ()) -> str:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self.handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self.handle_file)
        app.router.add_routes(extra_routes)
        app.router.add_route("*", "/{tail:.*}", self.handle_unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        addresses = self._runner.addresses
        real_port = int(addresses[0][1]) if addresses else port
        shown_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown_host}:{real_port}"
        log.info("Bot API emulator on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def check_token(self, token: str) -> int:
        """The bot id of a well-formed (and, when the emulator has one, the right) token; else 401."""
        match = TOKEN_RE.match(token)
        if not match or (self.state.token is not None and token != self.state.token):
            raise ApiError(401, "Unauthorized")
        self.state.bot_id = int(match.group(1))
        return self.state.bot_id

    async def handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def handle_api(self, request: web.Request) -> web.Response:
        self.state.stats.requests += 1
        try:
            bot_id = self.check_token(request.match_info["token"])
            name, handler = self.methods.resolve(request.match_info["method"])
            params = await read_params(request)
            if self.state.faults.delay:
                await asyncio.sleep(self.state.faults.delay)
            result = await self.methods.invoke(name, handler, params, bot_id)
        except ApiError as error:
            self.state.stats.errors[error.code] += 1
            return web.json_response(error.payload(), status=error.code)
        return web.json_response({"ok": True, "result": result})

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        try:
            self.check_token(request.match_info["token"])
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code)
        stored = self.state.files_by_path.get(request.match_info["path"])
        if stored is None:
            return await self.handle_unknown(request)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")


async def read_params(request: web.Request) -> Params:
    data: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method == "POST" and request.body_exists:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if isinstance(body, dict):
                data.update(body)
        elif ctype.startswith("multipart/"):
            await read_multipart(await request.multipart(), data, files)
        elif ctype == "application/x-www-form-urlencoded":
            form = await request.post()
            data.update({k: v for k, v in form.items() if isinstance(v, str)})
    return Params(data, files)
