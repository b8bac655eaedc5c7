"""Content of the potential check: it loads, validates, branches as documented, and extracts fully."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from babel.messages.extract import extract
from babel.messages.pofile import read_po

from dialogs.check.babel_extract import extract_check_yaml, extract_msgids
from dialogs.check.content import (
    DEFAULT_CONTENT_PATH,
    SKIP,
    Answer,
    CheckContent,
    ContentError,
    load_content,
    parse_content,
)

REPO = Path(__file__).resolve().parents[1]
REQUIRED_FIELDS = {
    "metal", "electrical", "vehicles", "shk", "wood", "construction", "logistics", "food",
    "horticulture", "painting", "cleaning", "care", "agriculture", "hospitality",
}  # fmt: skip


@pytest.fixture(scope="module")
def content() -> CheckContent:
    return load_content()


def raw() -> dict[str, Any]:
    with DEFAULT_CONTENT_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def test_content_loads_with_version_and_required_fields(content: CheckContent) -> None:
    assert content.version == 1
    assert content.id == "potential-check"
    assert {f.id for f in content.fields} >= REQUIRED_FIELDS
    for f in content.fields:
        assert f.emoji and f.name and f.hint
        assert 5 <= len(f.tasks) <= 8
        assert all(t.text.startswith("I have ") and t.text.endswith(".") for t in f.tasks)
    assert all(i.emoji for i in content.interests)
    assert load_content() is content, "load_content is cached"


def test_scales_match_the_brief(content: CheckContent) -> None:
    assert [o.id for o in content.scales["frequency"]] == ["never", "sometimes", "often"]
    assert [o.id for o in content.scales["interest"]] == ["like", "not_sure", "dislike"]
    licence = content.question("work.licence")
    assert licence is not None and licence.kind == "multi"
    assert [o.id for o in licence.options] == ["none", "B", "C", "CE", "T", "forklift"]
    transport = content.question("work.transport")
    assert transport is not None and [o.id for o in transport.options] == ["none", "bicycle", "car", "public"]
    languages = content.question("lang.spoken")
    assert languages is not None and languages.kind == "multi" and len(languages.options) == 13


def test_ids_the_scoring_reads_exist(content: CheckContent) -> None:
    from dialogs.check import scoring

    def option_ids(question_id: str) -> set[str]:
        q = content.question(question_id)
        assert q is not None, question_id
        return {o.id for o in q.options}

    assert {"started", "finished"} <= option_ids(scoring.TRAINING)
    assert {f.id for f in content.fields} <= option_ids(scoring.TRAINING_FIELD)
    assert "no" in option_ids(scoring.SHIFTS) and "no" in option_ids(scoring.PHYSICAL)
    assert set(scoring.NO_OWN_TRANSPORT) <= option_ids(scoring.TRANSPORT)
    assert {lic for f in content.fields for lic in f.licences} <= option_ids(scoring.LICENCE)
    assert {"often", "sometimes"} <= {o.id for o in content.scales[content.flow.task.scale]}
    assert "like" in {o.id for o in content.scales[content.flow.interest.scale]}


def all_no(content: CheckContent) -> dict[str, Answer]:
    return {f.worked_id: "no" for f in content.fields}


def test_shortest_and_longest_path(content: CheckContent) -> None:
    shortest = content.questions_for(all_no(content))
    longest_answers: dict[str, Answer] = {f.worked_id: "a_lot" for f in content.fields}
    longest_answers["edu.training"] = "finished"
    longest = content.questions_for(longest_answers)
    # 14 interests + 14 fields + school, training, languages + 5 conditions
    assert len(shortest) == 14 + 14 + 3 + 5 == 36
    # + 3 detailed fields x (years + 7 tasks) + training field
    assert len(longest) == 36 + 3 * 8 + 1 == 61
    assert len(content.questions_for({})) == 36
    sections = [q.section for q in longest]
    assert sections == sorted(sections, key=[s.id for s in content.sections].index), "sections stay in order"


def test_detailed_fields_prefer_a_lot_then_file_order(content: CheckContent) -> None:
    answers: dict[str, Answer] = {
        "metal.worked": "a_little",
        "electrical.worked": "a_little",
        "care.worked": "a_lot",
        "cleaning.worked": "a_little",
        "food.worked": "a_lot",
    }
    assert [f.id for f in content.detailed_fields(answers)] == ["metal", "food", "care"]
    path = [q.id for q in content.questions_for(answers)]
    assert "metal.years" in path and "food.cut" not in path and "food.meat" in path
    assert "electrical.years" not in path and "cleaning.offices" not in path


def test_path_does_not_depend_on_answer_order(content: CheckContent) -> None:
    answers: dict[str, Answer] = {
        "wood.worked": "a_lot",
        "edu.training": "started",
        "metal.worked": "a_little",
    }
    reversed_answers = dict(reversed(list(answers.items())))
    assert content.questions_for(answers) == content.questions_for(reversed_answers)


def test_training_field_only_after_training(content: CheckContent) -> None:
    ids = lambda a: [q.id for q in content.questions_for(a)]  # noqa: E731
    assert "edu.training_field" not in ids({"edu.training": "none"})
    assert "edu.training_field" not in ids({"edu.training": SKIP})
    assert "edu.training_field" in ids({"edu.training": "started"})
    q = content.question("edu.training_field")
    assert q is not None
    assert [o.id for o in q.options] == [f.id for f in content.fields] + ["other"]


def test_progress_and_next_question(content: CheckContent) -> None:
    answers: dict[str, Answer] = {}
    assert content.progress(answers) == (0, 36)
    first = content.next_question(answers)
    assert first is not None and first.id == "interest.machines" and first.prompt == "Do you like this?"
    answers[first.id] = SKIP
    second = content.next_question(answers)
    assert second is not None and second.id == "interest.outdoors"
    assert content.progress(answers) == (1, 36)
    answers["metal.worked"] = "a_lot"
    assert content.progress(answers) == (2, 44)
    # Answer everything on the path with its first option: then the check is complete.
    while (q := content.next_question(answers)) is not None:
        answers[q.id] = q.options[0].id if q.kind == "single" else [q.options[0].id]
    done, total = content.progress(answers)
    assert done == total


def test_accepts_single_multi_and_exclusive(content: CheckContent) -> None:
    licence = content.question("work.licence")
    weld = content.question("metal.weld")
    assert licence is not None and weld is not None
    assert licence.accepts(["B", "C"]) and licence.accepts(["none"]) and licence.accepts(SKIP)
    assert not licence.accepts(["none", "B"]) and not licence.accepts([]) and not licence.accepts(["B", "B"])
    assert not licence.accepts("B") and not licence.accepts(["X"])
    assert weld.accepts("often") and not weld.accepts(["often"]) and not weld.accepts("always")
    assert not weld.accepts(None)


def test_field_questions_carry_heading_and_prompt(content: CheckContent) -> None:
    weld = content.question("metal.weld")
    worked = content.question("metal.worked")
    assert weld is not None and worked is not None
    assert (weld.title, weld.prompt, weld.text, weld.field) == (
        "Metal",
        "How often have you done this?",
        "I have welded metal.",
        "metal",
    )
    assert worked.text == "Have you done this kind of work?" and worked.hint and worked.emoji == "🔩"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["fields"][0]["tasks"].append(dict(d["fields"][0]["tasks"][0])), "duplicate"),
        (lambda d: d["interests"][0]["fields"].update({"astronaut": 1}), "unknown fields"),
        (lambda d: d["questions"][0].update({"when": {"work.start": ["now"]}}), "not asked earlier"),
        (lambda d: d["questions"][0].update({"scale": "nope", "options": []}), "unknown scale"),
        (lambda d: d["fields"][0]["tasks"][0].update({"id": "wood.x"}), "must start with metal."),
        (lambda d: d["fields"][0].update({"image": "../secret.png"}), "relative"),
        (lambda d: d["fields"][0].update({"audio": {"xx": "a.ogg"}}), "unknown language"),
        (lambda d: d["fields"][0].update({"tasks": d["fields"][0]["tasks"][:4]}), "at least 5"),
        (lambda d: d["scoring"]["weights"].update({"interest": 0.5}), "must not exceed 1"),
        (lambda d: d["sections"].pop(2), "sections missing"),
        (lambda d: d["interests"].pop(6), "field care has no interest item"),
    ],
)
def test_invalid_content_is_rejected(change: Any, message: str) -> None:
    data = copy.deepcopy(raw())
    change(data)
    with pytest.raises(ContentError, match=message):
        parse_content(data)


def test_image_and_audio_are_attached_to_questions(tmp_path: Path) -> None:
    data = copy.deepcopy(raw())
    data["fields"][0]["tasks"][2].update({"image": "img/weld.png", "audio": {"ar": "audio/ar/weld.ogg"}})
    data["interests"][0]["image"] = "img/machines.png"
    path = tmp_path / "content.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    content = load_content(path)
    weld = content.question("metal.weld")
    assert weld is not None and weld.image == "img/weld.png"
    assert weld.audio == {"ar": "audio/ar/weld.ogg"}
    assert content.media_path("img/weld.png") == tmp_path / "img" / "weld.png"
    machines = content.question("interest.machines")
    assert machines is not None and machines.image == "img/machines.png" and machines.audio is None


def test_extractor_yields_every_text_with_item_ids(content: CheckContent) -> None:
    with DEFAULT_CONTENT_PATH.open("rb") as fh:
        messages = list(extract_check_yaml(fh, ("_",), (), {}))
    assert [m[2] for m in messages] == extract_msgids(DEFAULT_CONTENT_PATH)
    # Two independent readings of the file agree: the extractor's YAML walk and the schema.
    assert [m[2] for m in messages] == [text for _, text in content.iter_texts()]
    assert set(extract_msgids(DEFAULT_CONTENT_PATH)) == content.msgids()
    by_text = {m[2]: m for m in messages}
    assert by_text["I have welded metal."][3] == ["id: metal.weld"]
    assert by_text["Welding, drilling, cutting, machines"][3] == ["id: metal.hint"]
    assert by_text["Arabic"][3] == ["id: lang.spoken.ar"]
    lines = DEFAULT_CONTENT_PATH.read_text(encoding="utf-8").splitlines()
    assert "I have welded metal." in lines[by_text["I have welded metal."][0] - 1]
    # No id, emoji or number slipped in as a message.
    assert not {"metal", "metal.weld", "🔩", "A2"} & content.msgids()


def test_extractor_through_babel_api_and_cli(tmp_path: Path, content: CheckContent) -> None:
    method = "dialogs.check.babel_extract:extract_check_yaml"
    with DEFAULT_CONTENT_PATH.open("rb") as fh:
        found = {m[1] for m in extract(method, fh, keywords={"_": None})}
    assert found == content.msgids()

    mapping = tmp_path / "babel.cfg"
    # Dotted method name: Babel splits the section header at the first colon.
    mapping.write_text(
        "[dialogs.check.babel_extract.extract_check_yaml: **/check/*.yaml]\n", encoding="utf-8"
    )
    pot = tmp_path / "messages.pot"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(mapping),
            "-o",
            str(pot),
            "dialogs",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        catalog = read_po(fh)
    assert {m.id for m in catalog if m.id} == content.msgids()
    assert "id: metal.weld" in catalog["I have welded metal."].auto_comments
