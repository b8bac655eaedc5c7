"""Write translations into the catalogs from a Python or JSON mapping ``{msgid: {lang: msgstr}}``.

A tool for translators working in bulk (Poedit and Weblate remain the editors of record):

    python scripts/fill_po.py translations.json   # or a .py file defining T = {...}
    python scripts/fill_po.py --lang fr fr.json    # a one-language file {msgid: msgstr}

Only messages present in the catalog are touched; the files are rewritten in Babel's standard layout.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def load(path: Path) -> dict[str, dict[str, str | list[str]]]:
    if path.suffix == ".json":
        data: dict[str, dict[str, str | list[str]]] = json.loads(path.read_text("utf-8"))
        return data
    return runpy.run_path(str(path))["T"]  # type: ignore[no-any-return]


def fill(mapping: dict[str, dict[str, str | list[str]]]) -> dict[str, int]:
    written: dict[str, int] = {}
    for po_path in sorted(LOCALES.glob("*/LC_MESSAGES/messages.po")):
        lang = po_path.parent.parent.name
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        count = 0
        for message in catalog:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            value = mapping.get(key, {}).get(lang)
            if value is None:
                continue
            message.string = tuple(value) if isinstance(value, list) else value
            message.flags.discard("fuzzy")
            count += 1
        with po_path.open("wb") as f:
            write_po(f, catalog, width=76, omit_header=False)
        written[lang] = count
    return written


def load_one(lang: str, path: Path) -> dict[str, dict[str, str | list[str]]]:
    data: dict[str, str | list[str]] = json.loads(path.read_text("utf-8"))
    return {msgid: {lang: text} for msgid, text in data.items()}


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--lang"]:
        print(fill(load_one(args[1], Path(args[2]))))
    else:
        for arg in args:
            print(fill(load(Path(arg))))
