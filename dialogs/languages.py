"""The interface languages: own-script names, writing direction, and machine-translation coverage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # gettext catalog and Babel locale
    native_name: str  # shown on the picker, in its own script, so a person finds it without reading German
    rtl: bool = False


# Picker order: the languages most participants speak first, German last (staff and coordinators find it).
LANGUAGES: tuple[Language, ...] = (
    Language("ar", "العربية", rtl=True),
    Language("fa", "فارسی", rtl=True),
    Language("ps", "پښتو", rtl=True),
    Language("uk", "Українська"),
    Language("ru", "Русский"),
    Language("tr", "Türkçe"),
    Language("ku", "Kurmancî"),
    Language("ti", "ትግርኛ"),
    Language("so", "Soomaali"),
    Language("fr", "Français"),
    Language("en", "English"),
    Language("de", "Deutsch"),
)

BY_CODE: dict[str, Language] = {lang.code: lang for lang in LANGUAGES}
CODES: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES)


def is_supported(code: str | None) -> bool:
    return code in BY_CODE


def match_language(code: str | None) -> str | None:
    """Map a client's IETF tag (``pt-BR``, ``uk``, ``ckb``) to one of ours, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].lower()
    if base == "kmr":  # Kurmanji's ISO 639-3 code
        base = "ku"
    if base == "prs":  # Dari is served by the Farsi catalog
        base = "fa"
    return base if base in BY_CODE else None
