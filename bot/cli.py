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
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per webhook post is noise too
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)  # a line per job added at start


def _run(coro: Coroutine[Any, Any, Any], *, summary: bool = False) -> int:
    """Run a command's coroutine; with ``summary``, print the line it returns.

    A ``ConfigError`` (a setting that cannot work) is one line on stderr and exit code 2.
    """
    try:
        result = asyncio.run(coro)
    except ConfigError as exc:
        print(f"proconnect: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if summary:
        print(result)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)  # before the slow aiogram import: a bad setting answers at once
    from bot.runtime import run_polling

    return _run(run_polling(settings))


def cmd_webhook(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    from bot.webhook import run_webhook

    return _run(run_webhook(settings))


def _database_error(exc: BaseException) -> ConfigError:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return ConfigError(f"DATABASE_URL: cannot open the database ({reason[0] if reason else type(exc).__name__})")


async def _migrate(database_url: str, revision: str, down: bool) -> str:
    """Upgrade or downgrade; returns the one line that says what happened."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from storage.migrate import downgrade, schema_status, upgrade

    try:
        before = await schema_status(database_url)
    except (OSError, SQLAlchemyError) as exc:
        raise _database_error(exc) from None
    try:
        await (downgrade if down else upgrade)(database_url, revision)
    except CommandError as exc:
        raise ConfigError(f"--revision {revision}: {str(exc).splitlines()[0]}") from None
    after = await schema_status(database_url)

    def name(rev: str | None) -> str:
        return rev or "an empty database"

    if before.current == after.current:
        newest = ", the newest schema" if after.current == after.head else ""
        return f"database already at {name(after.current)}{newest}"
    verb = "downgraded" if down else "upgraded"
    return f"database {verb} from {name(before.current)} to {name(after.current)}"


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings(DatabaseSettings)
    revision = args.revision or ("-1" if args.downgrade else "head")
    return _run(_migrate(settings.database_url, revision, args.downgrade), summary=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return _run(run_demo(args.workdir, language=args.language))


async def _seed_demo(database_url: str) -> str:
    from bot.demo import seed_demo_database
    from bot.runtime import ensure_schema

    # Like start-up: a new empty database is created, one that is behind is the operator's to migrate.
    await ensure_schema(database_url)
    report = await seed_demo_database(database_url)
    return (
        f"seed-demo: {report.companies_added} companies, {report.offers_added} offers,"
        f" {report.contacts_added} contacts, {report.slots_added} days added ({report.already_there} already there)"
    )


def cmd_seed_demo(args: argparse.Namespace) -> int:
    settings = load_settings(DatabaseSettings)
    return _run(_seed_demo(settings.database_url), summary=True)


def cmd_compile_locales(args: argparse.Namespace) -> int:
    from bot.i18n import compile_catalogs

    settings = load_settings(Settings, bot_token="0:unused")
    print(f"compiled {compile_catalogs(settings.locales_dir)} catalogs")
    return 0


async def _worker(settings: Settings) -> None:
    from bot.delivery import run_worker
    from bot.runtime import preflight

    await preflight(settings)  # a refused token would otherwise fail every send, quietly, forever
    await run_worker(settings)
    logging.getLogger(__name__).info("delivery worker stopped")


def cmd_worker(args: argparse.Namespace) -> int:
    settings = load_settings(Settings)
    return _run(_worker(settings))


async def _require_current_schema(database_url: str) -> None:
    """For commands that read the tables: one line instead of an SQL error on a database not migrated."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.migrate import SchemaState, schema_status

    try:
        status = await schema_status(database_url)
    except (OSError, SQLAlchemyError) as exc:
        raise _database_error(exc) from None
    if status.state is SchemaState.EMPTY:
        raise ConfigError("DATABASE_URL points to an empty database: run `proconnect migrate` first")
    if status.state is not SchemaState.CURRENT:
        raise ConfigError(
            f"DATABASE_URL points to a database at revision {status.current}, not {status.head}: "
            "run `proconnect migrate` first"
        )


async def _outbox(database_url: str, retry_failed: bool) -> None:
    from storage import outbox
    from storage.db import create_engine, create_sessionmaker
    from storage.types import utcnow

    await _require_current_schema(database_url)
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


SETTINGS_NOTE = "Settings come from the environment or a .env file in the current folder (see .env.example)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proconnect",
        description="pro:connect Telegram assistant. Every command ends with one line saying what it did; "
        "a setting that cannot work stops it with one line naming the setting and exit code 2.",
        epilog=SETTINGS_NOTE,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=description, epilog=SETTINGS_NOTE)

    command(
        "run", "run the bot with long polling",
        "Run the bot with long polling: one process, no public address needed. Needs BOT_TOKEN; checks "
        "DATABASE_URL (a new empty database is created, one that is behind is refused) and that the Bot API at "
        "TELEGRAM_API_URL accepts the token, then answers updates and sends the outbox. SIGTERM or SIGINT "
        "stops it cleanly.",
    ).set_defaults(func=cmd_run)
    command(
        "webhook", "run the bot behind a webhook (aiohttp server)",
        "Run the bot as an HTTP server Telegram posts updates to (the Docker command). Needs BOT_TOKEN, "
        "WEBHOOK_URL (public https base URL) and WEBHOOK_SECRET; listens on WEBHOOK_HOST:WEBHOOK_PORT at "
        "WEBHOOK_PATH. GET /healthz answers while the process runs, GET /readyz when the database is "
        "reachable and its schema current. SIGTERM or SIGINT: new updates are answered 503, those in flight "
        "finish, the outbox worker hands back its rows, exit 0.",
    ).set_defaults(func=cmd_webhook)
    migrate = command(
        "migrate", "bring the database to the newest schema",
        "Upgrade DATABASE_URL to the newest schema (or to --revision), or go back with --downgrade. Take a "
        "backup first: start-up never migrates a database that has data. Prints what it did, e.g. "
        "'database upgraded from 0003 to 0004'.",
    )
    migrate.add_argument("--revision", help="target revision (default: head; with --downgrade: one step back)")
    migrate.add_argument("--downgrade", action="store_true", help="go back instead of forward")
    migrate.set_defaults(func=cmd_migrate)
    demo = command(
        "demo", "chat with the bot in this terminal, against the local emulator",
        "Start a local Bot API emulator and the real bot against it, and chat in this terminal: type text "
        "to send it, a number to press that button. Needs no token and no network; its database lives in "
        "--workdir.",
    )
    demo.add_argument("--workdir", default=".demo", help="where the demo database lives (default: .demo)")
    demo.add_argument("--language", default="en", help="the Telegram app language of the demo user")
    demo.set_defaults(func=cmd_demo)
    command(
        "seed-demo", "fill DATABASE_URL with demo companies and offers",
        "Add the invented demo companies and their hospitation offers to DATABASE_URL; what is already "
        "there is left as it is. A new empty database is created first; one that is behind is refused "
        "(run proconnect migrate).",
    ).set_defaults(func=cmd_seed_demo)
    command(
        "compile-locales", "compile the gettext catalogs",
        "Compile the .po catalogs of the locales folder into the .mo files the bot reads (start-up does "
        "it too). Prints how many it compiled.",
    ).set_defaults(func=cmd_compile_locales)
    command(
        "worker", "run only the delivery worker (sends the outbox)",
        "Run only the delivery worker: it sends the outbox rows of DATABASE_URL and answers no updates, for "
        "deployments that scale sending apart from answering. Needs BOT_TOKEN (checked at start); "
        "DELIVERY_RATE_PER_SECOND is this worker's share of Telegram's limit, DELIVERY_WORKER_ID its lease "
        "owner id. SIGTERM or SIGINT stops it and hands back unsent rows.",
    ).set_defaults(func=cmd_worker)
    outbox = command(
        "outbox", "outbox counts by status and the oldest pending row",
        "Show how many outbox rows of DATABASE_URL are pending, sending, sent, failed and expired, and the "
        "oldest pending one with its last error. 'retry-failed' makes every failed row pending again first.",
    )
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
