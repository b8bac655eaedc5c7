"""The profile PDF renders on one page; its text (extracted with pypdf) holds the fields and the name or code."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.i18n import create_i18n
from dialogs.check import SKIP, load_content, score
from dialogs.check.profile_pdf import (
    FontSet,
    MissingFont,
    _codepoints,
    find_fonts,
    participant_pdf,
    render_profile_pdf,
)
from dialogs.check.service import ProfileSheet, anonymous_code

CONTENT = load_content()
LOCALES = Path(__file__).resolve().parent.parent / "locales"


def longest_answers() -> dict[str, object]:
    """Three detailed fields, a training, every fact answered: the fullest sheet there is."""
    answers: dict[str, object] = {}
    worked = {"metal.worked": "a_lot", "electrical.worked": "a_lot", "care.worked": "a_little"}
    while (q := CONTENT.next_question(answers)) is not None:
        if q.id in worked:
            answers[q.id] = worked[q.id]
        elif q.id == "edu.training":
            answers[q.id] = "finished"
        elif q.id == "edu.training_field":
            answers[q.id] = "metal"
        elif q.kind == "multi":
            answers[q.id] = [o.id for o in q.options if o.id not in q.exclusive][:4]
        elif q.section == "details":
            answers[q.id] = q.options[-1].id
        elif q.section == "fields":
            answers[q.id] = "no"
        else:
            answers[q.id] = q.options[0].id
    return answers


def sheet(*, named: bool, free_text: str | None = None) -> ProfileSheet:
    profile = score(longest_answers(), CONTENT, german_level="A1")  # type: ignore[arg-type]
    return ProfileSheet(
        assessment_id=1,
        display_name="Amal" if named else anonymous_code(7),
        named=named,
        region="ammerland",
        german_level="A1",
        completed_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        profile=profile,
        free_text=free_text,
        free_text_de=None,
    )


def text_of(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def english(message: str) -> str:
    return message


def test_german_sheet_with_code_has_fields_and_no_name() -> None:
    i18n = create_i18n(LOCALES, "de")
    de = lambda s: i18n.gettext(s, locale="de")  # noqa: E731
    data = render_profile_pdf(sheet(named=False, free_text="Ich kann Brot backen 🍞"), CONTENT, de, "de")
    pages, text = text_of(data)
    assert data.startswith(b"%PDF") and pages == 1
    code = anonymous_code(7)
    assert code in text and "Amal" not in text
    for f in CONTENT.fields:
        assert " ".join(de(f.name).split()) in text
    assert "Ich kann Brot backen" in text  # the typed text, its emoji dropped


def test_english_sheet_with_name_holds_scores_reasons_and_facts() -> None:
    s = sheet(named=True)
    pages, text = text_of(render_profile_pdf(s, CONTENT, english, "en"))
    assert pages == 1
    assert "Name: Amal" in text
    assert "Metal" in text and str(s.profile.score_of("metal")) in text
    assert "You learned this trade." in text
    assert "How many years did you go to school?" in text


def test_long_free_text_still_fits_one_page() -> None:
    pages, text = text_of(render_profile_pdf(sheet(named=True, free_text="word " * 200), CONTENT, english, "en"))
    assert pages == 1 and "word word" in text


@pytest.mark.parametrize("language", ["ar", "fa", "ps"])
def test_sheet_renders_in_the_participants_script(language: str) -> None:
    """Arabic and Farsi print with DejaVu Sans; Pashto's ۍ (U+06CD) needs Noto Sans Arabic (fonts-noto-core)."""
    i18n = create_i18n(LOCALES, "de")
    result = participant_pdf(sheet(named=True), CONTENT, lambda lang: lambda s: i18n.gettext(s, locale=lang), language)
    pages, text = text_of(result.data)
    assert pages == 1 and "Amal" in text
    pashto_printable = any(0x06CD in _codepoints(p) for p in (find_fonts().regular, *find_fonts().fallbacks))
    if language != "ps" or pashto_printable:
        assert not result.fallback and result.language == language
    else:
        assert result.fallback and result.language == "de"


def test_a_script_without_font_falls_back_to_german_with_a_note() -> None:
    dejavu_only = FontSet(find_fonts().regular, find_fonts().bold, ())
    ethiopic = lambda s: "ብረት " + s  # noqa: E731  (stands in for a Tigrinya catalog)

    with pytest.raises(MissingFont):
        render_profile_pdf(sheet(named=True), CONTENT, ethiopic, "ti", fonts=dejavu_only)
    result = participant_pdf(
        sheet(named=True), CONTENT, lambda lang: ethiopic if lang == "ti" else english, "ti", fonts=dejavu_only
    )
    assert result.fallback and result.language == "de"
    pages, text = text_of(result.data)
    assert pages == 1 and "no font for ti is installed" in text


def test_a_typed_name_in_a_missing_script_does_not_break_the_german_sheet() -> None:
    dejavu_only = FontSet(find_fonts().regular, find_fonts().bold, ())
    s = sheet(named=True)
    s = ProfileSheet(**{**s.__dict__, "display_name": "ሰላም"})
    pages, text = text_of(render_profile_pdf(s, CONTENT, english, "de", fonts=dejavu_only))
    assert pages == 1 and "Name: ???" in text


def test_skipped_facts_are_left_out() -> None:
    answers = {q.id: SKIP for q in CONTENT.questions_for({})}
    profile = score(answers, CONTENT)
    s = ProfileSheet(1, "PC-0000", False, None, None, None, profile, None, None)
    pages, text = text_of(render_profile_pdf(s, CONTENT, english, "en"))
    assert pages == 1 and "No clear field yet." in text and "About the person" not in text
