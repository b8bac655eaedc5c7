"""Formatted text as Telegram reads it: the visible text and the MessageEntity list of a message written
in HTML, MarkdownV2 or (legacy) Markdown; offsets and lengths count UTF-16 code units.

Malformed markup is refused with Telegram's "can't parse entities" errors. Simplifications: entities
Telegram detects by itself in plain text (URLs, @mentions, /commands, ...) are not added; a
``tg://user?id=`` link stays a text_link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from emulator.models import JSON, bad_request


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_text(source: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """The visible text and its entities (sorted by offset, outer before inner)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        text, entities = html_entities(source)
    elif mode == "markdownv2":
        text, entities = _MarkdownV2(source).parse()
    elif mode == "markdown":
        text, entities = markdown_entities(source)
    else:
        return source, []
    ordered = sorted((e for e in entities if e["length"] > 0), key=lambda e: (e["offset"], -e["length"]))
    return text, ordered


def visible_text(source: str, parse_mode: str | None) -> str:
    return parse_text(source, parse_mode)[0]


def _refuse(detail: str) -> Exception:
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class _Builder:
    """Visible text with a running UTF-16 offset."""

    parts: list[str] = field(default_factory=list)
    offset: int = 0
    entities: list[JSON] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.offset += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: object) -> None:
        self.entities.append({"type": kind, "offset": start, "length": self.offset - start, **extra})

    @property
    def text(self) -> str:
        return "".join(self.parts)


# --------------------------------------------------------------------------- HTML

_HTML_KINDS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji", "tg-time": "date_time",
}  # fmt: skip


@dataclass
class _Open:
    tag: str
    start: int
    kind: str | None  # None: no entity (e.g. <a> without href, <code> giving <pre> its language)
    extra: JSON


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Builder()
        self.stack: list[_Open] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error:
            return
        kind: str | None = _HTML_KINDS.get(tag)
        if kind is None:
            self.error = f'Unsupported start tag "{tag}"'
            return
        values = dict(attrs)
        extra: JSON = {}
        if tag == "span" and values.get("class") != "tg-spoiler":
            self.error = 'Tag "span" must have class "tg-spoiler"'
            return
        if tag == "a":
            href = values.get("href")
            kind, extra = ("text_link", {"url": href}) if href else (None, {})
        elif tag == "blockquote" and "expandable" in values:
            kind = "expandable_blockquote"
        elif tag == "tg-emoji":
            extra = {"custom_emoji_id": values.get("emoji-id") or ""}
        elif tag == "tg-time":
            try:
                extra = {"unix_time": int(values.get("unix") or "")}
            except ValueError:
                self.error = 'Tag "tg-time" must have an integer attribute "unix"'
                return
            if values.get("format"):
                extra["date_time_format"] = values["format"]
        elif tag == "code" and self.stack and self.stack[-1].tag == "pre":
            language = values.get("class") or ""
            if language.startswith("language-"):
                self.stack[-1].extra["language"] = language[len("language-") :]
                kind = None
        self.stack.append(_Open(tag, self.out.offset, kind, extra))

    def handle_endtag(self, tag: str) -> None:
        if self.error:
            return
        if not self.stack:
            self.error = f'Unexpected end tag "{tag}"'
        elif self.stack[-1].tag != tag:
            self.error = f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
        else:
            opened = self.stack.pop()
            if opened.kind is not None:
                self.out.entity(opened.kind, opened.start, **opened.extra)

    def handle_data(self, data: str) -> None:
        if not self.error:
            self.out.add(data)


def html_entities(source: str) -> tuple[str, list[JSON]]:
    if "<" not in source and "&" not in source:
        return source, []
    parser = _Html()
    parser.feed(source)
    parser.close()
    if not parser.error and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1].tag}"'
    if parser.error:
        raise _refuse(parser.error)
    return parser.out.text, parser.out.entities


def html_to_text(source: str) -> str:
    """The visible text of an HTML-formatted message; raises ApiError like Telegram on bad markup."""
    return html_entities(source)[0]


# --------------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_KIND_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}  # fmt: skip


class _MarkdownV2:
    """Telegram's MarkdownV2: markers open an entity, or close it when it is the innermost open one."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = _Builder()
        self.stack: list[tuple[str, int, int]] = []  # (marker, text offset, source index)
        self.quote: tuple[int, bool] | None = None  # (text offset, expandable) of an open blockquote

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode())

    def parse(self) -> tuple[str, list[JSON]]:
        source, out = self.source, self.out
        i, n = 0, len(source)
        while i < n:
            ch = source[i]
            line_start = i == 0 or source[i - 1] == "\n"
            if ch == "\\" and i + 1 < n:
                out.add(source[i + 1])
                i += 2
            elif line_start and (ch == ">" or source.startswith("**>", i)):
                if self.quote is None:
                    self.quote = (out.offset, ch != ">")
                i += 1 if ch == ">" else 3
            elif ch == "\n" and self.quote is not None and not source.startswith(">", i + 1):
                self.close_quote()
                out.add("\n")
                i += 1
            elif (
                source.startswith("||", i)
                and self.quote
                and self.quote[1]
                and source[i + 2 : i + 3] in ("", "\n")
            ):
                i += 2  # the end of an expandable blockquote
            elif source.startswith("```", i):
                i = self.pre(i)
            elif ch == "`":
                i = self.code(i)
            elif ch == "!" and source.startswith("![", i):
                self.stack.append(("![", out.offset, i))
                i += 2
            elif ch == "[":
                self.stack.append(("[", out.offset, i))
                i += 1
            elif ch == "]" and self.stack and self.stack[-1][0] in ("[", "!["):
                i = self.link(i)
            elif source.startswith("__", i) or source.startswith("||", i) or ch in "*_~":
                marker = source[i : i + 2] if source.startswith(("__", "||"), i) else ch
                if self.stack and self.stack[-1][0] == marker:
                    _, start, _ = self.stack.pop()
                    out.entity(_MDV2_MARKERS[marker], start)
                else:
                    self.stack.append((marker, out.offset, i))
                i += len(marker)
            elif ch in _MDV2_RESERVED:
                raise _refuse(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
            else:
                out.add(ch)
                i += 1
        if self.stack:
            marker, _, index = self.stack[-1]
            kind = _MDV2_MARKERS.get(marker) or ("custom_emoji" if marker == "![" else "text_link")
            raise _refuse(
                f"Can't find end of {_KIND_NAMES[kind]} entity at byte offset {self.byte_offset(index)}"
            )
        self.close_quote()
        return out.text, out.entities

    def close_quote(self) -> None:
        if self.quote is not None:
            start, expandable = self.quote
            self.out.entity("expandable_blockquote" if expandable else "blockquote", start)
            self.quote = None

    def literal_until(self, i: int, end: str) -> tuple[str, int]:
        """Text up to the unescaped ``end`` (``\\`` escapes anything); the index after ``end``."""
        source, parts = self.source, []
        while i < len(source):
            if source[i] == "\\" and i + 1 < len(source):
                parts.append(source[i + 1])
                i += 2
            elif source.startswith(end, i):
                return "".join(parts), i + len(end)
            else:
                parts.append(source[i])
                i += 1
        return "".join(parts), -1

    def pre(self, i: int) -> int:
        body, after = self.literal_until(i + 3, "```")
        if after < 0:
            raise _refuse(f"Can't find end of Pre entity at byte offset {self.byte_offset(i)}")
        extra: JSON = {}
        if "\n" in body:
            first, rest = body.split("\n", 1)
            if first and not any(c.isspace() for c in first):
                body, extra = rest, {"language": first}
        start = self.out.offset
        self.out.add(body)
        self.out.entity("pre", start, **extra)
        return after

    def code(self, i: int) -> int:
        body, after = self.literal_until(i + 1, "`")
        if after < 0:
            raise _refuse(f"Can't find end of Code entity at byte offset {self.byte_offset(i)}")
        start = self.out.offset
        self.out.add(body)
        self.out.entity("code", start)
        return after

    def link(self, i: int) -> int:
        marker, start, index = self.stack.pop()
        if not self.source.startswith("(", i + 1):
            if marker == "![":
                raise _refuse(
                    f"Can't find end of CustomEmoji entity at byte offset {self.byte_offset(index)}"
                )
            raise _refuse("Character ']' is reserved and must be escaped with the preceding '\\'")
        url, after = self.literal_until(i + 2, ")")
        if after < 0:
            raise _refuse(f"Can't find end of a URL at byte offset {self.byte_offset(i + 1)}")
        if marker == "![":
            emoji_id = url.split("id=", 1)[1] if "id=" in url else ""
            self.out.entity("custom_emoji", start, custom_emoji_id=emoji_id)
        else:
            self.out.entity("text_link", start, url=url)
        return after


def markdown_v2_to_text(source: str) -> str:
    """The visible text of a MarkdownV2 message; unescaped reserved characters raise like Telegram."""
    return _MarkdownV2(source).parse()[0]


# --------------------------------------------------------------------------- legacy Markdown

_MD_MARKERS = {"*": "bold", "_": "italic", "`": "code"}


def markdown_entities(source: str) -> tuple[str, list[JSON]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting; ``\\`` escapes."""
    out = _Builder()
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
        elif source.startswith("```", i) or ch in _MD_MARKERS:
            end_marker = "```" if source.startswith("```", i) else ch
            end = source.find(end_marker, i + len(end_marker))
            if end < 0:
                offset = len(source[:i].encode())
                raise _refuse(f"Can't find end of the entity starting at byte offset {offset}")
            body = source[i + len(end_marker) : end]
            extra: JSON = {}
            if end_marker == "```" and "\n" in body:
                first, rest = body.split("\n", 1)
                body, extra = rest, ({"language": first} if first else {})
            start = out.offset
            out.add(body)
            out.entity("pre" if end_marker == "```" else _MD_MARKERS[ch], start, **extra)
            i = end + len(end_marker)
        elif ch == "[" and "](" in source[i:]:
            close = source.index("](", i)
            url_end = source.find(")", close + 2)
            if url_end < 0:
                out.add(ch)
                i += 1
                continue
            start = out.offset
            out.add(source[i + 1 : close])
            out.entity("text_link", start, url=source[close + 2 : url_end])
            i = url_end + 1
        else:
            out.add(ch)
            i += 1
    return out.text, out.entities
