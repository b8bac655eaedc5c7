"""Webhooks: setWebhook/deleteWebhook/getWebhookInfo and the delivery of queued updates by HTTP POST,
in order, one at a time, retried a few times and then dropped; a method call in the webhook's answer is
executed as Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any

import aiohttp

from emulator.models import JSON, ApiError, bad_request
from emulator.state import EmulatorState
from emulator.transport import Handler, MethodTable, Params, Upload, read_multipart
from emulator.updates import DEFAULT_UPDATE_TYPES, Queued, UpdateQueue

log = logging.getLogger("emulator")


class WebhookMethods:
    """The webhook methods and the delivery task they start."""

    def __init__(
        self, state: EmulatorState, queue: UpdateQueue, methods: MethodTable, *, attempts: int = 4
    ) -> None:
        self.state = state
        self.queue = queue
        self.methods = methods  # to run a method returned in a webhook's answer
        self.attempts = attempts
        self.dropped: list[JSON] = []
        self.last_error: tuple[int, str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: aiohttp.ClientSession | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
        }

    async def close(self) -> None:
        """Stop delivering (the queue must be closed first); safe to call twice."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    # ----------------------------------------------------------------- methods
    async def set_webhook(self, params: Params, bot_id: int) -> bool:
        url = params.get_str("url") or ""
        if not url:
            return await self.delete_webhook(params, bot_id)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        queue = self.queue
        queue.set_allowed(params)
        if params.get_bool("drop_pending_updates"):
            queue.drop_pending()
        queue.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.get_int("max_connections", 40),
            "ip_address": params.get_str("ip_address"),
        }
        self.last_error = None
        queue.signal.fire()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver(), name="emulator-webhook")
        return True

    async def delete_webhook(self, params: Params, bot_id: int) -> bool:
        self.queue.webhook = None
        if params.get_bool("drop_pending_updates"):
            self.queue.drop_pending()
        self.queue.signal.fire()
        return True

    async def get_webhook_info(self, params: Params, bot_id: int) -> JSON:
        hook = self.queue.webhook
        info: JSON = {
            "url": hook["url"] if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue),
        }
        if hook:
            info["max_connections"] = hook["max_connections"]
            if hook["ip_address"]:
                info["ip_address"] = hook["ip_address"]
            if self.queue.allowed != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self.queue.allowed)
        if self.last_error:
            info["last_error_date"], info["last_error_message"] = self.last_error
        return info

    # ----------------------------------------------------------------- delivery
    async def _deliver(self) -> None:
        """Deliver queued updates one at a time, in order; retry a few times, then drop."""
        queue = self.queue
        while not queue.closing and queue.webhook is not None:
            if not queue.queued:
                await queue.signal.wait(1.0)
                continue
            queued = queue.queued[0]
            delivered = False
            for attempt in range(self.attempts):
                hook = queue.webhook
                if hook is None or queue.closing:
                    return
                if await self._post(hook, queued):
                    delivered = True
                    break
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
            if not delivered:
                self.dropped.append(queued.update)
                log.warning("webhook: dropped update %s after %s attempts", queued.update_id, self.attempts)
            if queue.queued and queue.queued[0] is queued:
                queue.forget(queue.queued.popleft())

    async def _post(self, hook: JSON, queued: Queued) -> bool:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        stats = self.state.stats
        headers = {"Content-Type": "application/json"}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        try:
            async with self._client.post(
                hook["url"], data=json.dumps(queued.update), headers=headers
            ) as resp:
                if not 200 <= resp.status < 300:
                    self.last_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {resp.status} {resp.reason}",
                    )
                    stats.webhook_failures += 1
                    return False
                reply = await _reply_call(resp)
        except (aiohttp.ClientError, TimeoutError) as error:
            self.last_error = (int(time.time()), f"Connection failed: {type(error).__name__}")
            stats.webhook_failures += 1
            return False
        stats.webhook_deliveries += 1
        self.queue.delivered(queued)
        if reply is not None:
            await self._run_reply(reply)
        return True

    async def _run_reply(self, params: Params) -> None:
        name = str(params.data.pop("method"))
        if name.lower() not in self.methods:
            return
        self.state.stats.requests += 1
        try:
            await self.methods.call(name, params, self.state.bot_id)
        except ApiError as error:
            self.state.stats.errors[error.code] += 1
            log.info("webhook reply %s failed: %s", name, error)


async def _reply_call(resp: aiohttp.ClientResponse) -> Params | None:
    """A method call in the webhook's answer (JSON or form data), as Telegram allows."""
    data: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    ctype = resp.content_type
    try:
        if ctype == "application/json":
            body = await resp.json()
            if isinstance(body, dict):
                data.update(body)
        elif ctype.startswith("multipart/"):
            await read_multipart(aiohttp.MultipartReader(resp.headers, resp.content), data, files)
    except ValueError:
        return None
    return Params(data, files) if data.get("method") else None
