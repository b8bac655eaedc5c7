"""Catalog chores, scripted so that a new string lands in every language.

    python scripts/i18n.py extract   # sources -> locales/messages.pot
    python scripts/i18n.py update    # .pot -> every locales/<lang>/LC_MESSAGES/messages.po (new ids empty)
    python scripts/i18n.py stats     # per-language completeness; exit 1 if any catalog is incomplete
    python scripts/i18n.py compile   # .po -> .mo (the bot also does this at start)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
# Only the markers our code uses for literal messages; `gettext(...)` with a computed id (content texts,
# stored button labels) must not be extracted.
KEYWORDS = ["_", "__", "N_", "ngettext:1,2", "pgettext:1c,2"]
sys.path.insert(0, str(ROOT))

from dialogs.languages import CODES  # noqa: E402


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    os.chdir(ROOT)  # relative source references, the same on every machine
    keywords = [arg for kw in KEYWORDS for arg in ("-k", kw)]
    pybabel(
        "extract", "-F", str(ROOT / "babel.cfg"), *keywords, "--no-default-keywords",
        "--add-comments=TRANSLATORS:", "--sort-by-file", "--project=pro:connect",
        "--copyright-holder=pro:connect", "-o", str(POT), ".",
    )


def update() -> None:
    for code in CODES:
        po = LOCALES / code / "LC_MESSAGES" / "messages.po"
        if po.exists():
            # No fuzzy matching: a guessed translation marked fuzzy is invisible to users and easy to miss.
            pybabel("update", "-i", str(POT), "-d", str(LOCALES), "-l", code, "--no-fuzzy-matching",
                    "--ignore-obsolete")
        else:
            pybabel("init", "-i", str(POT), "-d", str(LOCALES), "-l", code)
    fill_source_catalog()


SOURCE_LANGUAGE = "en"


def fill_source_catalog() -> None:
    """The English catalog is the source itself: every msgstr equals its msgid, so it is never incomplete."""
    from babel.messages.pofile import write_po

    po = LOCALES / SOURCE_LANGUAGE / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=SOURCE_LANGUAGE)
    for message in catalog:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
    with po.open("wb") as f:
        write_po(f, catalog, width=76)


def compile_() -> None:
    from bot.i18n import compile_catalogs

    print(f"compiled {compile_catalogs(LOCALES)} catalogs")


def stats() -> int:
    """Print per-language completeness; return 1 when any catalog lacks, empties or fuzzes a message."""
    with POT.open("rb") as f:
        template = read_po(f)
    ids = {m.id for m in template if m.id}
    worst = 0
    for code in CODES:
        po = LOCALES / code / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            print(f"{code}: missing catalog")
            worst = 1
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=code)
        done = sum(
            1 for m in catalog
            if m.id in ids and not m.fuzzy
            and (all(m.string) if isinstance(m.string, tuple) else bool(m.string))
        )
        pct = 100 * done / len(ids) if ids else 100.0
        print(f"{code}: {done}/{len(ids)} translated ({pct:.0f} %)")
        if done < len(ids):
            worst = 1
    return worst


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else "all"
    if action in ("extract", "all"):
        extract()
    if action in ("update", "all"):
        update()
    if action in ("compile", "all"):
        compile_()
    if action in ("stats", "all"):
        return stats()
    if action not in ("extract", "update", "compile", "stats", "all"):
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
