"""The catalog gate: every message of the source in every catalog, translated, with the same placeholders.

The source messages are extracted afresh from the code and content files (as ``scripts/i18n.py extract``
does), so a string added without running the catalog update fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from dialogs.languages import CODES

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
KEYWORDS = {"_": None, "__": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}  # as scripts/i18n.py
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Scripts a reader of these languages expects; a translation without a single letter of them is a fallback.
SCRIPTS = {
    "ar": r"[\u0600-\u06FF]", "fa": r"[\u0600-\u06FF]", "ps": r"[\u0600-\u06FF]",
    "uk": r"[\u0400-\u04FF]", "ru": r"[\u0400-\u04FF]", "ti": r"[\u1200-\u139F]",
}


@cache
def source_ids() -> frozenset[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return frozenset(ids)


@cache
def catalog(code: str) -> Catalog:
    with (LOCALES / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=code)


def _strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def test_source_has_messages() -> None:
    assert len(source_ids()) > 100


@pytest.mark.parametrize("code", CODES)
def test_catalog_is_complete(code: str) -> None:
    cat = catalog(code)
    present = {m.id if isinstance(m.id, str) else m.id[0]: m for m in cat if m.id}
    missing = sorted(source_ids() - present.keys())
    assert not missing, f"{code}: {len(missing)} messages missing; run scripts/i18n.py update: {missing[:5]}"
    problems = []
    for msgid in sorted(source_ids()):
        message = present[msgid]
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid[:60]!r}")
        for text in _strings(message):
            if not text.strip():
                problems.append(f"empty: {msgid[:60]!r}")
            elif sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(msgid)):
                problems.append(f"placeholders differ: {msgid[:60]!r} -> {text[:60]!r}")
            elif code in SCRIPTS and re.search(r"[A-Za-z]{3}", PLACEHOLDER.sub("", msgid)) and not re.search(
                SCRIPTS[code], text
            ):
                problems.append(f"not in {code} script: {text[:60]!r}")
    assert not problems, f"{code}: {len(problems)} problems: " + "; ".join(problems[:8])


@pytest.mark.parametrize("code", CODES)
def test_catalog_format_is_valid(code: str) -> None:
    """What Poedit and Weblate read: GNU msgfmt's own check, and Babel's python-format check."""
    cat = catalog(code)
    errors = [(m.id, err) for m, errs in cat.check() for err in errs]
    assert not errors, errors[:5]
    if shutil.which("msgfmt"):
        po = LOCALES / code / "LC_MESSAGES" / "messages.po"
        result = subprocess.run(["msgfmt", "--check-format", "-o", "/dev/null", str(po)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
