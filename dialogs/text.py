"""Text helpers that keep mixed-direction messages readable."""

from __future__ import annotations

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


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction; it is translated later, when the reader's language is known."""
    return message
