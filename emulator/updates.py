"""The update queue: what users do reaches the bot by getUpdates (long polling) or its webhook.

Every update gets an ``update_id``. The queue also knows which updates the bot has *handled*, so that a
test can wait for exactly that instead of for a quiet spell (:meth:`UpdateQueue.wait_handled`):

- an update is **handled** when ``mark_handled(update_id)`` is called (in-process: a test harness after
  the bot's dispatcher returns from it), or, only with ``ack_means_handled=True``, when the bot
  acknowledges it over the protocol: a later getUpdates with a higher ``offset``, or a 2xx answer of the
  webhook. (aiogram by default handles updates as concurrent tasks and acknowledges before handling;
  the flag is right only for a bot that handles one update after another.)
- an update is **discarded** when it can never reach the bot: its type is not in ``allowed_updates``,
  it was dropped (``drop_pending_updates``, a negative ``offset``, a skipping ``offset``) before being
  delivered, or the webhook failed on every attempt.

Both settle it: waiting ends. :mod:`emulator.webhook` delivers to a webhook.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from emulator.models import JSON, ApiError, EmulatorTimeout, bad_request
from emulator.state import ChatState, EmulatorState, Signal
from emulator.transport import Handler, Params

ALL_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
        "business_message", "edited_business_message", "deleted_business_messages", "message_reaction",
        "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member",
        "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {"chat_member", "message_reaction", "message_reaction_count"}
FIRST_UPDATE_ID = 100_000_001


@dataclass
class Queued:
    update_id: int
    update: JSON
    chat_id: int | None
    delivered: bool = False  # returned by getUpdates or posted to the webhook


@dataclass
class Unhandled:
    """An update the bot may still be handling."""

    sender_id: int | None  # the user whose action it is
    delivered: bool = False


class UpdateQueue:
    """Updates not yet confirmed by the bot, in order, and the bookkeeping of which ones it has handled."""

    def __init__(self, state: EmulatorState, *, ack_means_handled: bool = False) -> None:
        self.state = state
        self.ack_means_handled = ack_means_handled
        self.queued: deque[Queued] = deque()
        self.signal = Signal()  # fired on every new update and on state changes of polling/webhook
        self.next_update_id = FIRST_UPDATE_ID
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: JSON | None = None  # set by setWebhook: url, secret_token, max_connections, ip_address
        self.closing = False
        self.handled_count = 0
        self.discarded_count = 0
        self._unhandled: dict[int, Unhandled] = {}
        self._settled = Signal()

    def __len__(self) -> int:
        return len(self.queued)

    # ----------------------------------------------------------------- in
    def add(self, update: JSON) -> int:
        """Enqueue a raw update (``update_id`` is assigned when absent); returns its update_id."""
        kind = next((k for k in update if k != "update_id"), None)
        payload = update.get(kind) if kind else None
        chat_id: int | None = None
        sender_id: int | None = None
        if isinstance(payload, dict):
            chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
            sender = payload.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                sender_id = sender["id"]
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                chat_id = chat["id"]
                state = self.state.chats.get(chat["id"])
                if state is None:
                    state = self.state.chats[chat["id"]] = ChatState(chat=dict(chat), user=sender)
                if kind == "message":
                    state.started = True
            elif sender_id is not None:
                chat_id = sender_id
        if "update_id" in update:
            self.next_update_id = max(self.next_update_id, int(update["update_id"]) + 1)
        else:
            update = {"update_id": self.next_update_id, **update}
            self.next_update_id += 1
        update_id = int(update["update_id"])
        if kind not in self.allowed:
            self.discarded_count += 1
            return update_id
        self.queued.append(Queued(update_id, update, chat_id))
        self._unhandled[update_id] = Unhandled(sender_id if sender_id is not None else chat_id)
        if chat_id is not None and chat_id in self.state.chats:
            chat_state = self.state.chats[chat_id]
            chat_state.pending_updates += 1
            chat_state.touch()
        self.signal.fire()
        return update_id

    # ----------------------------------------------------------------- out
    def peek(self, limit: int) -> list[JSON]:
        """The oldest ``limit`` updates, now counted as delivered."""
        batch = list(itertools.islice(self.queued, limit))
        for queued in batch:
            self.delivered(queued)
        return [q.update for q in batch]

    def delivered(self, queued: Queued) -> None:
        queued.delivered = True
        tracked = self._unhandled.get(queued.update_id)
        if tracked is not None:
            tracked.delivered = True

    def forget(self, queued: Queued) -> None:
        """Take an update off the queue's books: acknowledged if it was delivered, else discarded."""
        if queued.chat_id is not None:
            chat = self.state.chats.get(queued.chat_id)
            if chat is not None:
                chat.pending_updates -= 1
                chat.touch()
        if not queued.delivered:
            self._settle(queued.update_id, handled=False)
        elif self.ack_means_handled:
            self._settle(queued.update_id, handled=True)

    def confirm(self, offset: int) -> None:
        """getUpdates' ``offset``: forget every update below it (negative: all but the newest -offset)."""
        queued = self.queued
        if offset < 0:
            while len(queued) > -offset:
                self.forget(queued.popleft())
        else:
            while queued and queued[0].update_id < offset:
                self.forget(queued.popleft())

    def drop_pending(self) -> None:
        self.confirm(self.next_update_id)

    def set_allowed(self, params: Params) -> None:
        allowed = params.get_json("allowed_updates")
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        self.allowed = frozenset(allowed) & ALL_UPDATE_TYPES if allowed else DEFAULT_UPDATE_TYPES
        kept: deque[Queued] = deque()
        for queued in self.queued:
            if any(k in self.allowed for k in queued.update if k != "update_id"):
                kept.append(queued)
            else:
                self.forget(queued)
        self.queued = kept

    def close(self) -> None:
        self.closing = True
        self.signal.fire()
        self._settled.fire()

    # ----------------------------------------------------------------- handled
    def mark_handled(self, update_id: int) -> None:
        """The bot has finished handling this update (unknown or already settled ids are ignored)."""
        self._settle(update_id, handled=True)

    def _settle(self, update_id: int, *, handled: bool) -> None:
        if self._unhandled.pop(update_id, None) is None:
            return
        if handled:
            self.handled_count += 1
        else:
            self.discarded_count += 1
        self._settled.fire()

    def unhandled(self, sender_id: int | None = None) -> list[int]:
        """Ids of updates not yet handled (nor discarded), of one user or of everyone, oldest first."""
        return [
            update_id
            for update_id, tracked in self._unhandled.items()
            if sender_id is None or tracked.sender_id == sender_id
        ]

    async def wait_handled(
        self,
        update_ids: Iterable[int] | None = None,
        timeout: float = 10,  # noqa: ASYNC109
        *,
        who: str = "the emulator",
    ) -> None:
        """Until every one of ``update_ids`` (None: every update) is handled or discarded."""
        wanted = None if update_ids is None else list(update_ids)
        deadline = time.monotonic() + timeout
        while True:
            pending = [i for i in (self._unhandled if wanted is None else wanted) if i in self._unhandled]
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closing:
                raise EmulatorTimeout(f"{who}: {self._describe(pending)} within {timeout}s")
            await self._settled.wait(remaining)

    def _describe(self, pending: list[int]) -> str:
        taken = [i for i in pending if self._unhandled[i].delivered]
        waiting = [i for i in pending if not self._unhandled[i].delivered]
        parts = []
        if taken:
            parts.append(
                f"update(s) {taken} taken by the bot but not marked handled (emu.mark_handled(update_id) "
                "after handling, or ack_means_handled=True for a bot handling one update at a time)"
            )
        if waiting:
            parts.append(f"update(s) {waiting} not yet taken by the bot")
        return "; ".join(parts)


class PollingMethods:
    """getUpdates, with long polling and the conflicts Telegram reports."""

    def __init__(self, queue: UpdateQueue) -> None:
        self.queue = queue
        self._generation = 0

    def handlers(self) -> dict[str, Handler]:
        return {"getUpdates": self.get_updates}

    async def get_updates(self, params: Params, bot_id: int) -> list[JSON]:
        queue = self.queue
        if queue.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                           "use deleteWebhook to delete the webhook first")  # fmt: skip
        offset = params.get_int("offset", 0) or 0
        limit = min(100, max(1, params.get_int("limit", 100) or 100))
        timeout = max(0, params.get_int("timeout", 0) or 0)
        queue.set_allowed(params)
        if offset:
            queue.confirm(offset)
        self._generation += 1
        generation = self._generation
        queue.signal.fire()  # an older long poll sees the newer one and ends with 409
        deadline = time.monotonic() + timeout
        while True:
            if queue.queued or queue.closing:
                return queue.peek(limit)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            await queue.signal.wait(remaining)
            if generation != self._generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                               "make sure that only one bot instance is running")  # fmt: skip
            if queue.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
