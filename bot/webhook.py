"""Webhook mode: an aiohttp server that Telegram (or a load balancer in front of several) posts to."""

from __future__ import annotations

import asyncio
import logging

from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.config import ConfigError, Settings
from bot.runtime import Runtime, runtime

log = logging.getLogger(__name__)


def build_app(rt: Runtime) -> web.Application:
    """The aiohttp application: the update endpoint (secret header checked by aiogram) and ``/healthz``."""
    settings = rt.settings
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    app = web.Application()
    SimpleRequestHandler(dispatcher=rt.dp, bot=rt.bot, secret_token=secret).register(
        app, path=settings.webhook_path
    )
    setup_application(app, rt.dp, bot=rt.bot)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    return app


async def run_webhook(settings: Settings) -> None:
    if not settings.webhook_url:
        raise ConfigError("WEBHOOK_URL is not set: the public https URL Telegram should post updates to")
    if settings.webhook_secret is None:
        raise ConfigError("WEBHOOK_SECRET is not set: a random string Telegram sends back with each update")
    async with runtime(settings) as rt:
        app = build_app(rt)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        url = settings.webhook_url.rstrip("/") + settings.webhook_path
        await rt.bot.set_webhook(
            url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=rt.dp.resolve_used_update_types(),
        )
        log.info("webhook listening on %s:%s%s", settings.webhook_host, settings.webhook_port, settings.webhook_path)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
