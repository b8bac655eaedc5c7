"""Switchable faults and counters: rate limits, floods, blocked users, server errors, latency."""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from http import HTTPStatus

from emulator.models import ApiError


class SlidingWindow:
    """At most ``limit`` events in any ``period`` seconds; O(1) amortised per check."""

    __slots__ = ("limit", "period", "times")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.times: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        times = self.times
        edge = now - self.period
        while times and times[0] <= edge:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        return times[len(times) - self.limit] + self.period - now

    def add(self, now: float) -> None:
        self.times.append(now)


def _window(per_second: float) -> tuple[int, float]:
    if per_second >= 1:
        return int(per_second), 1.0
    return 1, 1.0 / per_second


@dataclass
class Stats:
    """Counters of everything the emulator answered; ``reset()`` zeroes them."""

    requests: int = 0
    sends_ok: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    forbidden: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    per_chat_sends: dict[int, int] = field(default_factory=dict)
    rate_limited_per_chat: dict[int, int] = field(default_factory=dict)

    def reset(self) -> None:
        fresh = Stats()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))


class Faults:
    """What should go wrong. Everything is off until switched on; ``reset()`` switches all off."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.global_window: SlidingWindow | None = None
        self.chat_rate: tuple[int, float] | None = None
        self.group_rate: tuple[int, float] | None = None
        self.chat_windows: dict[int, SlidingWindow] = {}
        self.flood_left = 0
        self.flood_retry_after = 1
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.server_errors_left = 0
        self.server_error_status = 502
        self.server_errors_only_sends = True
        self.delay = 0.0

    # ----------------------------------------------------------------- switches
    def rate_limits(
        self,
        global_per_second: float | None = 30,
        per_chat_per_second: float | None = 1,
        per_group_per_minute: float | None = 20,
        slack: float = 0.1,
    ) -> None:
        """Telegram's limits on send methods, as sliding windows; None switches one limit off.

        Telegram's limits are approximate, and the sender's clock is not ours: each window is
        shortened by ``slack`` (a fraction, default 10 %) so that network and event-loop jitter of a
        sender pacing itself at the limit is absorbed, while one that really exceeds it is throttled
        (at 1/s per chat, a second message 0.9 s after the first passes, one 0.5 s after is refused).
        """
        if not 0 <= slack < 1:
            raise ValueError("slack is a fraction in [0, 1)")
        keep = 1.0 - slack

        def window(rate: tuple[int, float]) -> tuple[int, float]:
            return rate[0], rate[1] * keep

        self.global_window = SlidingWindow(*window(_window(global_per_second))) if global_per_second else None
        self.chat_rate = window(_window(per_chat_per_second)) if per_chat_per_second else None
        self.group_rate = window((max(1, int(per_group_per_minute)), 60.0)) if per_group_per_minute else None
        self.chat_windows.clear()

    def no_rate_limits(self) -> None:
        self.global_window = None
        self.chat_rate = None
        self.group_rate = None
        self.chat_windows.clear()

    def flood(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` send calls answer 429 with ``retry_after``."""
        self.flood_left = count
        self.flood_retry_after = max(1, int(retry_after))

    def block(self, user_id: int) -> None:
        """Sends to the user answer 403 "bot was blocked by the user"."""
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    def deactivate(self, user_id: int) -> None:
        """Sends to the user answer 403 "user is deactivated"."""
        self.deactivated.add(user_id)

    def server_errors(self, count: int, status: int = 502, only_sends: bool = True) -> None:
        """The next ``count`` calls (send calls only, unless ``only_sends=False``) answer ``status``."""
        self.server_errors_left = count
        self.server_error_status = status
        self.server_errors_only_sends = only_sends

    def latency(self, seconds: float) -> None:
        """Every API request waits this long before it is answered."""
        self.delay = max(0.0, seconds)

    # ----------------------------------------------------------------- checks (used by the server)
    def server_error(self, is_send: bool) -> ApiError | None:
        if self.server_errors_left <= 0 or (self.server_errors_only_sends and not is_send):
            return None
        self.server_errors_left -= 1
        status = self.server_error_status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Server Error"
        return ApiError(status, phrase)

    def flooded(self) -> ApiError | None:
        if self.flood_left <= 0:
            return None
        self.flood_left -= 1
        return too_many(self.flood_retry_after)

    def forbidden(self, user_id: int) -> ApiError | None:
        if user_id in self.blocked:
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if user_id in self.deactivated:
            return ApiError(403, "Forbidden: user is deactivated")
        return None

    def take_send_slot(self, chat_id: int, now: float) -> ApiError | None:
        """Check every window; when all have room, count the send in all of them."""
        windows: list[SlidingWindow] = []
        if self.global_window is not None:
            windows.append(self.global_window)
        rate = self.group_rate if chat_id < 0 else self.chat_rate
        if rate is not None:
            window = self.chat_windows.get(chat_id)
            if window is None:
                window = self.chat_windows[chat_id] = SlidingWindow(*rate)
            windows.append(window)
        wait = max((w.wait_time(now) for w in windows), default=0.0)
        if wait > 0:
            return too_many(wait)
        for w in windows:
            w.add(now)
        return None


def too_many(retry_after: float) -> ApiError:
    seconds = max(1, math.ceil(retry_after))
    return ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
