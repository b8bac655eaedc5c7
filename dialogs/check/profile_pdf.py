"""The profile as a one-page PDF: German for coordinators and companies, the person's language for them.

Fonts are found at run time among the system's fonts (no font files in the repository). DejaVu Sans
covers Latin, Cyrillic and Arabic script (Arabic, Farsi, Pashto, shaped with HarfBuzz through fpdf2's
``set_text_shaping``). A script none of the installed fonts covers (Ethiopic for Tigrinya, unless
Noto Sans Ethiopic is installed) is not printed as empty boxes: :func:`participant_pdf` then returns
the German sheet with a note saying why, and the caller tells the person in the chat. The Docker image
should install ``fonts-dejavu-core`` and ``fonts-noto-core`` (Debian; the latter brings
NotoSansEthiopic); see docs/check.md.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from dialogs.check.content import CheckContent
from dialogs.check.service import ProfileSheet, reason_lines
from dialogs.languages import BY_CODE, LANGUAGES
from dialogs.onboarding.service import GERMAN_LABELS, REGION_LABELS
from dialogs.text import N_, format_day
from storage.models import GermanLevel, Region

__all__ = [
    "FONT_DIRS",
    "FontSet",
    "MissingFont",
    "RenderedPdf",
    "find_fonts",
    "participant_pdf",
    "render_profile_pdf",
]

Gettext = Callable[[str], str]

FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".fonts",
    Path.home() / ".local/share/fonts",
)
# First found wins. DejaVu (fonts-dejavu-core) is in most Debian images; Noto (fonts-noto-core) is wider.
_REGULAR = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf")
_BOLD = ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf")
# Fonts for scripts the main font lacks; used per glyph by fpdf2 (set_fallback_fonts).
_FALLBACKS = ("NotoSansEthiopic-Regular.ttf", "NotoSansArabic-Regular.ttf", "NotoSerifEthiopic-Regular.ttf",
              "AbyssinicaSIL-Regular.ttf")  # fmt: skip

_ARABIC_SCRIPT = frozenset(lang.code for lang in LANGUAGES if lang.rtl)  # all right-to-left ones use it

TITLE = N_("pro:connect – skills and interests")
NAME = N_("Name: {name}")
CODE = N_("Code: {code}")
REGION = N_("Region: {region}")
GERMAN = N_("German: {level}")
DATE = N_("Date of the check: {date}")
SCORES = N_("Score per field (0 to 100)")
BEST = N_("Best fields and why")
NO_BEST = N_("No clear field yet.")
ABOUT = N_("About the person")
FREE_TEXT = N_("Anything else I can do:")
IN_GERMAN = N_("In German: {text}")
FOOTER = N_("Self-assessment by the participant (questions version {version}). It is not a test.")
FALLBACK_NOTE = N_("This sheet is in German because no font for {language} is installed.")


class MissingFont(RuntimeError):
    """No installed font has glyphs for some characters of the sheet."""

    def __init__(self, characters: Iterable[str]) -> None:
        self.characters = "".join(sorted(set(characters)))
        super().__init__(f"no installed font covers {self.characters!r}")


@dataclass(frozen=True)
class FontSet:
    regular: Path
    bold: Path
    fallbacks: tuple[Path, ...]

    @property
    def all(self) -> tuple[Path, ...]:
        return (self.regular, self.bold, *self.fallbacks)


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    language: str  # the language the sheet is written in
    fallback: bool  # True when the person's language could not be printed and German was used


@functools.lru_cache(maxsize=4)
def find_fonts(dirs: tuple[Path, ...] = FONT_DIRS) -> FontSet:
    """The fonts to use, found on this machine; RuntimeError when there is no usable font at all."""
    found: dict[str, Path] = {}
    wanted = {*_REGULAR, *_BOLD, *_FALLBACKS}
    for directory in dirs:
        if directory.is_dir():
            for path in sorted(directory.rglob("*.[to]tf")):
                if path.name in wanted and path.name not in found:
                    found[path.name] = path
    regular = next((found[n] for n in _REGULAR if n in found), None)
    if regular is None:
        raise RuntimeError(f"no font for the PDF found in {', '.join(map(str, dirs))}: install fonts-dejavu-core")
    bold = next((found[n] for n in _BOLD if n in found), regular)
    return FontSet(regular, bold, tuple(found[n] for n in _FALLBACKS if n in found))


@functools.lru_cache(maxsize=16)
def _codepoints(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _uncovered(texts: Iterable[str], fonts: FontSet) -> set[str]:
    covered = frozenset().union(*(_codepoints(p) for p in (fonts.regular, *fonts.fallbacks)))
    return {
        ch
        for text in texts
        for ch in text
        if ord(ch) not in covered and unicodedata.category(ch) not in ("Zs", "Cc", "Cf", "Mn")
    }


def _printable(text: str, fonts: FontSet) -> str:
    missing = _uncovered([text], fonts)
    return "".join("?" if ch in missing else ch for ch in text)


def _plain(text: str) -> str:
    """Drop pictographs (emoji and their joiners): the PDF fonts have none, and they add nothing on paper."""
    kept = "".join(
        ch for ch in text if unicodedata.category(ch) != "So" and ch not in "\ufe0f\u200d\u20e3\u2068\u2069"
    )
    return " ".join(kept.split())


@dataclass(frozen=True)
class _Texts:
    """Every string of one sheet, already translated and plain."""

    title: str
    identity: str
    details: list[str]
    scores_heading: str
    fields: list[tuple[str, int]]
    best_heading: str
    best: list[tuple[str, list[str]]]
    about_heading: str
    about: list[str]
    free_text: list[str]
    footer: str
    note: str | None

    def all(self) -> list[str]:
        return [
            self.title, self.identity, *self.details, self.scores_heading, *(n for n, _ in self.fields),
            self.best_heading, *(t for t, _ in self.best), *(line for _, ls in self.best for line in ls),
            self.about_heading, *self.about, *self.free_text, self.footer, *([self.note] if self.note else []),
        ]  # fmt: skip


def _texts(sheet: ProfileSheet, content: CheckContent, gettext: Gettext, language: str, note: str | None) -> _Texts:
    profile = sheet.profile
    identity = (gettext(NAME).format(name=sheet.display_name) if sheet.named
                else gettext(CODE).format(code=sheet.display_name))  # fmt: skip
    details: list[str] = []
    if sheet.region is not None and sheet.region in Region.__members__.values():
        details.append(gettext(REGION).format(region=_plain(gettext(REGION_LABELS[Region(sheet.region)]))))
    if sheet.german_level is not None and sheet.german_level in GermanLevel.__members__.values():
        level = GERMAN_LABELS[GermanLevel(sheet.german_level)]
        details.append(gettext(GERMAN).format(level=_plain(gettext(level))))
    if sheet.completed_at is not None:
        details.append(gettext(DATE).format(date=_date(sheet.completed_at, language)))
    fields = [(_plain(gettext(fs.name)), fs.score) for fs in sorted(profile.fields, key=lambda f: -f.score)]
    best = []
    for rank, field_id in enumerate(profile.top_fields, start=1):
        fs = profile.field_score(field_id)
        if fs is not None:
            title = f"{rank}. {_plain(gettext(fs.name))} ({fs.score})"
            best.append((title, [_plain(line) for line in reason_lines(profile, field_id, content, gettext)]))
    about = []
    for question_id, values in profile.facts:
        question = content.question(question_id)
        if question is None:  # asked by an older content version: show the stored ids
            about.append(f"{question_id}: {', '.join(values)}")
            continue
        labels = [gettext(o.text) if (o := question.option(v)) is not None else v for v in values]
        about.append(f"{_plain(gettext(question.text))} {_plain(', '.join(labels))}")
    free = []
    if sheet.free_text:
        free = [gettext(FREE_TEXT), sheet.free_text]
        if sheet.free_text_de and language == "de":
            free.append(gettext(IN_GERMAN).format(text=sheet.free_text_de))
    return _Texts(
        title=gettext(TITLE),
        identity=identity,
        details=details,
        scores_heading=gettext(SCORES),
        fields=fields,
        best_heading=gettext(BEST),
        best=best or [(gettext(NO_BEST), [])],
        about_heading=gettext(ABOUT),
        about=about,
        free_text=free,
        footer=gettext(FOOTER).format(version=profile.content_version),
        note=note,
    )


def _date(moment: datetime, language: str) -> str:
    try:
        return format_day(moment, language)
    except (ValueError, LookupError):  # a locale Babel does not know
        return moment.date().isoformat()


def render_profile_pdf(
    sheet: ProfileSheet,
    content: CheckContent,
    gettext: Gettext,
    language: str,
    *,
    note: str | None = None,
    fonts: FontSet | None = None,
) -> bytes:
    """One A4 page in ``language`` (texts from ``gettext``); MissingFont if the fonts lack its script."""
    fonts = fonts or find_fonts()
    # What people typed (a name, the free text) may hold any script or emoji: print what the fonts have
    # and "?" for the rest rather than refuse the sheet. Only our own translated texts decide MissingFont.
    typed = replace(
        sheet,
        display_name=_printable(sheet.display_name, fonts),
        free_text=_printable(_plain(sheet.free_text), fonts) if sheet.free_text else None,
        free_text_de=_printable(_plain(sheet.free_text_de), fonts) if sheet.free_text_de else None,
    )
    texts = _texts(typed, content, gettext, language, note)
    missing = _uncovered(texts.all(), fonts)
    if missing:
        raise MissingFont(missing)
    rtl = BY_CODE[language].rtl if language in BY_CODE else False
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
        data, fits = _draw(texts, fonts, rtl=rtl, language=language, scale=scale)
        if fits:
            break
    return data


def participant_pdf(
    sheet: ProfileSheet,
    content: CheckContent,
    gettext_for: Callable[[str], Gettext],
    language: str,
    *,
    fonts: FontSet | None = None,
) -> RenderedPdf:
    """The sheet in the person's language, or, when no installed font has its script, the German one with a note."""
    try:
        return RenderedPdf(render_profile_pdf(sheet, content, gettext_for(language), language, fonts=fonts),
                           language, fallback=False)  # fmt: skip
    except MissingFont:
        german = gettext_for("de")
        name = BY_CODE[language].native_name if language in BY_CODE else language
        note = german(FALLBACK_NOTE).format(language=name)
        # The note names the language in its own script, which may be the very script we lack: drop it then.
        fonts = fonts or find_fonts()
        if _uncovered([note], fonts):
            note = german(FALLBACK_NOTE).format(language=language)
        data = render_profile_pdf(sheet, content, german, "de", note=note, fonts=fonts)
        return RenderedPdf(data, "de", fallback=True)


# ----------------------------------------------------------------------------------------- drawing

_LINE = 5.0
_BAR_WIDTH = 60.0
_SCORE_WIDTH = 12.0


def _draw(texts: _Texts, fonts: FontSet, *, rtl: bool, language: str, scale: float) -> tuple[bytes, bool]:
    """Lay the sheet out at ``scale`` × the normal type size; also tell whether it fitted on the page."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 12, 15)
    pdf.set_title(texts.title)
    pdf.set_creator("pro:connect")
    pdf.add_font("body", "", str(fonts.regular))
    pdf.add_font("body", "B", str(fonts.bold))
    fallback_names = []
    for index, path in enumerate(fonts.fallbacks):
        pdf.add_font(f"fallback{index}", "", str(path))
        fallback_names.append(f"fallback{index}")
    if fallback_names:
        pdf.set_fallback_fonts(fallback_names, exact_match=False)
    if language in _ARABIC_SCRIPT:
        pdf.set_text_shaping(use_shaping_engine=True, script="arab", language=language)
    else:
        pdf.set_text_shaping(use_shaping_engine=True)
    pdf.add_page()
    align = "R" if rtl else "L"
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, size: float = 9.5, *, bold: bool = False, gap: float = 0.0) -> None:
        pdf.set_font("body", "B" if bold else "", size * scale)
        pdf.multi_cell(width, size * scale * 0.5, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if gap:
            pdf.ln(gap)

    para(texts.title, 15, bold=True, gap=1)
    para(texts.identity, 12, bold=True)
    for detail in texts.details:
        para(detail)
    if texts.note:
        pdf.ln(1)
        para(texts.note, 9.5, bold=True)
    pdf.ln(3)

    para(texts.scores_heading, 11.5, bold=True, gap=1)
    name_width = width - _BAR_WIDTH - _SCORE_WIDTH - 4
    line = _LINE * scale
    for name, value in texts.fields:
        y = pdf.get_y()
        pdf.set_font("body", "", 9.5 * scale)
        bar_x = pdf.l_margin + _SCORE_WIDTH + 2 if rtl else pdf.l_margin + name_width + 2
        name_x = pdf.l_margin + width - name_width if rtl else pdf.l_margin
        score_x = pdf.l_margin if rtl else pdf.l_margin + width - _SCORE_WIDTH
        pdf.set_xy(name_x, y)
        pdf.cell(name_width, line, name, align=align)
        pdf.set_draw_color(160, 160, 160)
        pdf.set_fill_color(235, 235, 235)
        pdf.rect(bar_x, y + 1, _BAR_WIDTH, line - 2, style="DF")
        filled = _BAR_WIDTH * max(0, min(100, value)) / 100
        if filled > 0:
            pdf.set_fill_color(40, 110, 170)
            pdf.rect(bar_x + (_BAR_WIDTH - filled if rtl else 0), y + 1, filled, line - 2, style="F")
        pdf.set_xy(score_x, y)
        pdf.cell(_SCORE_WIDTH, line, str(value), align="R" if not rtl else "L")
        pdf.set_xy(pdf.l_margin, y + line)
    pdf.ln(3)

    para(texts.best_heading, 11.5, bold=True, gap=1)
    for title, lines in texts.best:
        para(title, 10, bold=True)
        for reason in lines:
            para(reason, 9)
        pdf.ln(1)
    pdf.ln(2)

    if texts.about:
        para(texts.about_heading, 11.5, bold=True, gap=1)
        for fact in texts.about:
            para(fact, 8.5)
        pdf.ln(2)
    for index, free in enumerate(texts.free_text):
        para(free, 9, bold=index == 0)

    fits = pdf.page_no() == 1 and pdf.get_y() <= pdf.h - 15
    pdf.set_xy(pdf.l_margin, pdf.h - 14)
    para(texts.footer, 7.5)
    return bytes(pdf.output()), fits
