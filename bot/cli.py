"""The ``proconnect`` command: run, webhook, migrate, demo, seed-demo, compile-locales, worker, outbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from bot.config import ConfigError, DatabaseSettings, Settings, load_settings


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # one line per update is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _run(coro: Coroutine[Any, Any, Any]) -> int:
    try:
        asyncio.run(coro)
    except ConfigError as exc:
        print(f"proconnect: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)  # before the slow aiogram import: a bad setting answers at once
    from bot.runtime import run_polling

    return _run(run_polling(settings))


def cmd_webhook(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    from bot.webhook import run_webhook

    return _run(run_webhook(settings))


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage.migrate import downgrade, upgrade

    settings = load_settings(DatabaseSettings)
    if args.downgrade:
        return _run(downgrade(settings.database_url, args.revision or "-1"))
    code = _run(upgrade(settings.database_url, args.revision or "head"))
    if code == 0:
        print("database is at the newest schema")
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return _run(run_demo(args.workdir, language=args.language))


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from bot.demo import seed_demo_database

    settings = load_settings(DatabaseSettings)
    return _run(seed_demo_database(settings.database_url))


def cmd_compile_locales(args: argparse.Namespace) -> int:
    from bot.i18n import compile_catalogs

    settings = load_settings(Settings, bot_token="0:unused")
    print(f"compiled {compile_catalogs(settings.locales_dir)} catalogs")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    from bot.delivery import run_worker

    return _run(run_worker(settings))


async def _outbox(database_url: str, retry_failed: bool) -> None:
    from storage import outbox
    from storage.db import create_engine, create_sessionmaker
    from storage.types import utcnow

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            if retry_failed:
                count = await outbox.requeue_failed(session, now=utcnow())
                await session.commit()
                print(f"{count} failed rows are pending again")
            view = await outbox.summary(session)
    finally:
        await engine.dispose()
    for status in outbox.OutboxStatus:
        print(f"{status.value:>10}  {view.counts.get(status.value, 0)}")
    row = view.oldest_pending
    if row is not None:
        print(
            f"oldest pending: #{row.id} {row.idempotency_key!r} due {row.due_at:%Y-%m-%d %H:%M:%S} UTC"
            f", {row.attempts} attempts" + (f", last error: {row.last_error}" if row.last_error else "")
        )


def cmd_outbox(args: argparse.Namespace) -> int:
    settings = load_settings(DatabaseSettings)
    return _run(_outbox(settings.database_url, retry_failed=args.action == "retry-failed"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proconnect", description="pro:connect Telegram assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot with long polling").set_defaults(func=cmd_run)
    sub.add_parser("webhook", help="run the bot behind a webhook (aiohttp server)").set_defaults(func=cmd_webhook)
    migrate = sub.add_parser("migrate", help="bring the database to the newest schema")
    migrate.add_argument("--revision", help="target revision (default: head; with --downgrade: one step)")
    migrate.add_argument("--downgrade", action="store_true", help="go back instead of forward")
    migrate.set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="chat with the bot in this terminal, against the local emulator")
    demo.add_argument("--workdir", default=".demo", help="where the demo database lives (default: .demo)")
    demo.add_argument("--language", default="en", help="the Telegram app language of the demo user")
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("seed-demo", help="fill DATABASE_URL with demo companies and offers").set_defaults(
        func=cmd_seed_demo
    )
    sub.add_parser("compile-locales", help="compile the gettext catalogs").set_defaults(func=cmd_compile_locales)
    sub.add_parser("worker", help="run only the delivery worker (sends the outbox)").set_defaults(func=cmd_worker)
    outbox = sub.add_parser("outbox", help="outbox counts by status and the oldest pending row")
    outbox.add_argument("action", nargs="?", choices=["retry-failed"], help="requeue every failed row")
    outbox.set_defaults(func=cmd_outbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(f"proconnect: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
