"""Webhook mode: an aiohttp server that Telegram (or a load balancer in front of several) posts to.

- ``POST WEBHOOK_PATH``: the secret header is checked (401), the body must be an update (400 otherwise,
  logged in one line, never with its content); an update of a type this version does not know is
  acknowledged and ignored, so Telegram does not send it again and again. Updates are handled in the
  background after the answer, as aiogram does, and counted while in flight.
- ``GET /healthz``: liveness, 200 while the process runs. ``GET /readyz``: readiness, 200 when the
  database answers and its schema is current, else 503 with a short reason (also while stopping).
- SIGTERM or SIGINT: new updates are answered 503 (Telegram delivers them again later, to this or
  another replica), the updates in flight are finished, then the runtime stops the delivery worker,
  which hands its claimed rows back at once instead of leaving them leased.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.types.update import UpdateTypeLookupError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings
from bot.runtime import Runtime, preflight, runtime, stop_scheduler
from storage.migrate import SchemaState, schema_status

log = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0  # updates in flight at a stop; the delivery worker gets the rest of Docker's 10 s
READY_CHECK_SECONDS = 5.0


class UpdateHandler(SimpleRequestHandler):
    """aiogram's handler with what it leaves out: the body is validated before it is taken, unknown update
    types are acknowledged quietly, a failing update is logged by id, and a stop drains what is in flight."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str | None) -> None:
        super().__init__(dispatcher=dispatcher, bot=bot, handle_in_background=True, secret_token=secret_token)
        self.accepting = True
        self.handled = 0
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), self.bot):
            return web.Response(text="Unauthorized", status=401)
        if not self.accepting:
            return web.Response(text="shutting down", status=503, headers={"Retry-After": "5"})
        try:
            data = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _bad_request("the body is not JSON")
        if not isinstance(data, dict):
            return _bad_request("the body is not a JSON object")
        try:
            update = Update.model_validate(data, context={"bot": self.bot})
        except ValidationError as exc:
            fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "body" for e in exc.errors()}))
            return _bad_request(f"the body is not an update ({fields})")
        try:
            update.event_type  # noqa: B018 - raises for a type this version does not know
        except UpdateTypeLookupError:
            # Not an error: Telegram added a type. Its content is a person's data: not logged.
            log.info("update %d is of a type this version does not handle: acknowledged, ignored", update.update_id)
            return web.json_response({})
        task = asyncio.create_task(self._feed(update), name=f"update-{update.update_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return web.json_response({})

    async def _feed(self, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(self.bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(bot=self.bot, result=result)
        except Exception:  # the error handlers had their turn; the task must not die unobserved
            log.exception("update %d failed", update.update_id)
        finally:
            self.handled += 1

    async def drain(self, timeout: float = DRAIN_SECONDS) -> bool:  # noqa: ASYNC109 - a bound on the drain
        """Take no more updates and wait for those in flight; False if some were still running at ``timeout``."""
        self.accepting = False
        if not self._in_flight:
            return True
        _done, pending = await asyncio.wait(set(self._in_flight), timeout=timeout)
        if pending:
            log.warning("%d updates still running after %.0f s: stopping without them", len(pending), timeout)
        return not pending

    async def close(self) -> None:
        """On the application's shutdown: drain. The bot's session belongs to the runtime, which closes it."""
        await self.drain()


def _bad_request(reason: str) -> web.Response:
    log.warning("webhook: rejected a request: %s", reason)
    return web.json_response({"ok": False, "reason": reason}, status=400)


UPDATES = web.AppKey("updates", UpdateHandler)


def build_app(rt: Runtime) -> web.Application:
    """The aiohttp application: the update endpoint, ``/healthz`` and ``/readyz``."""
    settings = rt.settings
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    app = web.Application()
    handler = UpdateHandler(rt.dp, rt.bot, secret)
    handler.register(app, path=settings.webhook_path)
    app[UPDATES] = handler
    setup_application(app, rt.dp, bot=rt.bot)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_request: web.Request) -> web.Response:
        if not handler.accepting:
            return _not_ready("shutting down")
        try:
            status = await asyncio.wait_for(schema_status(settings.database_url), READY_CHECK_SECONDS)
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            # The detail goes to the log only: the probe may be reachable from outside.
            log.warning("not ready: database unreachable (%s)", _reason(exc))
            return _not_ready("database unreachable")
        if status.state is not SchemaState.CURRENT:
            return _not_ready(f"database schema {status.state.value}, not {status.head}: run proconnect migrate")
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _not_ready(reason: str) -> web.Response:
    return web.json_response({"ok": False, "reason": reason}, status=503)


async def run_webhook(settings: Settings) -> None:
    if not settings.webhook_url:
        raise ConfigError("WEBHOOK_URL is not set: the public https URL Telegram should post updates to")
    if settings.webhook_secret is None:
        raise ConfigError("WEBHOOK_SECRET is not set: a random string Telegram sends back with each update")
    await preflight(settings)
    began = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with runtime(settings) as rt:
            app = build_app(rt)
            handler = app[UPDATES]
            runner = web.AppRunner(app, shutdown_timeout=2.0)
            await runner.setup()
            try:
                await _listen(runner, settings)
                await _set_webhook(rt, settings)
                log.info(
                    "webhook listening on %s:%s%s", settings.webhook_host, settings.webhook_port, settings.webhook_path
                )
                await stop.wait()
                began = time.monotonic()
                log.info("stopping: no new updates; finishing %d in flight", handler.in_flight)
                await handler.drain()
                await stop_scheduler(rt.scheduler)
            finally:
                await runner.cleanup()
        log.info("webhook stopped: %d updates handled, stop took %.1f s", handler.handled, time.monotonic() - began)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _listen(runner: web.AppRunner, settings: Settings) -> None:
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    try:
        await site.start()
    except OSError as exc:
        raise ConfigError(
            f"WEBHOOK_HOST/WEBHOOK_PORT: cannot listen on {settings.webhook_host}:{settings.webhook_port}"
            f" ({exc.strerror or exc})"
        ) from None


async def _set_webhook(rt: Runtime, settings: Settings) -> None:
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    url = settings.webhook_url.rstrip("/") + settings.webhook_path
    try:
        await rt.bot.set_webhook(
            url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=rt.dp.resolve_used_update_types(),
        )
    except TelegramAPIError as exc:
        raise ConfigError(f"WEBHOOK_URL: setWebhook({url}) failed: {exc.message}") from None
