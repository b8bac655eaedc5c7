"""Run the emulator standalone: ``python -m emulator --host 127.0.0.1 --port 8081 [--rate-limit]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from emulator.server import BotAPIEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="A local Telegram Bot API stand-in."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--token", default=None, help="accept only this bot token (default: any well-formed one)"
    )
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="enforce Telegram's limits: 30 messages/s overall, 1/s per chat, 20/min per group",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    emu = BotAPIEmulator(token=args.token)
    if args.rate_limit:
        emu.faults.rate_limits()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    await emu.start(args.host, args.port)
    print(f"Bot API emulator listening on {emu.base_url}", flush=True)
    print(f"aiogram: TelegramAPIServer.from_base({emu.base_url!r}); stop with Ctrl-C", flush=True)
    try:
        await stop.wait()
    finally:
        await emu.stop()
        s = emu.stats
        print(
            f"stopped: {s.requests} requests, {s.sends_ok} messages sent, {s.rate_limited} rate-limited",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
