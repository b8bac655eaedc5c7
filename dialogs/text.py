"""Text helpers that keep mixed-direction messages readable."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE


def isolate(value: object) -> str:
    """Wrap a placeholder value (a Latin name, a number, a date, a link) in Unicode isolation marks.

    Without them an Arabic sentence holding ``Oldenburg 10:30`` can be reordered by the
    bidirectional algorithm; with them the value is laid out on its own and the sentence around it
    stays intact. Harmless in left-to-right text.
    """
    text = str(value)
    if text.startswith(FSI) and text.endswith(PDI):
        return text
    return f"{FSI}{text}{PDI}"


def strip_isolates(text: str) -> str:
    return text.replace(FSI, "").replace(PDI, "")


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, when the reader's language is known."""
    return message


def format_when(moment: datetime, locale: str, tz: str = "Europe/Berlin", *, fmt: str = "medium") -> str:
    """A UTC moment as the person reads it: Babel's pattern for their language, in Berlin time."""
    return format_datetime(moment, fmt, tzinfo=ZoneInfo(tz), locale=locale)


def format_day(moment: datetime, locale: str, tz: str = "Europe/Berlin") -> str:
    return format_date(moment.astimezone(ZoneInfo(tz)), "long", locale=locale)
