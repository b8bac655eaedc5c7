"""Scoring of the potential check: a hand calculation, properties over random answers, stored profiles."""

from __future__ import annotations

import copy
import json
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.check.content import DEFAULT_CONTENT_PATH, SKIP, Answer, CheckContent, Question, load_content
from dialogs.check.scoring import FieldScore, Note, Profile, Reason, render_bar, score

CONTENT = load_content()


def half_up(x: F) -> int:
    return int(x + F(1, 2))


# A person who worked a lot with metal, a little on cars, wood and in a warehouse, started a car
# mechanic training, says no to shifts and speaks A1 German.
ANSWERS: dict[str, Answer] = {
    "interest.machines": "like",
    "interest.build": "like",
    "interest.repair": "not_sure",
    "interest.measure": "dislike",
    "interest.outdoors": "dislike",
    "interest.driving": "like",
    **{f.worked_id: "no" for f in CONTENT.fields},
    "metal.worked": "a_lot",
    "vehicles.worked": "a_little",
    "wood.worked": "a_little",
    "logistics.worked": "a_little",  # the 4th claimed field: not asked in detail (max 3)
    "metal.years": "y1_3",
    "metal.cut": "often",
    "metal.drill": "often",
    "metal.weld": "often",
    "metal.measure": "sometimes",
    "metal.frame": "sometimes",
    "metal.lathe": "never",
    "metal.drawing": SKIP,
    "vehicles.years": "lt1",
    "vehicles.oil": "often",
    "vehicles.tyres": "often",
    "vehicles.brakes": "sometimes",
    "vehicles.engine": "sometimes",
    "vehicles.tractor": "never",
    "vehicles.hydraulics": "never",
    "vehicles.body": "never",
    "wood.years": "none",
    **{t.id: "never" for t in CONTENT.field("wood").tasks},
    "logistics.years": "gt3",  # not on the path: ignored
    "logistics.forklift": "often",  # not on the path: ignored
    "edu.school": "5_8",
    "edu.training": "started",
    "edu.training_field": "vehicles",
    "lang.spoken": ["fa", "ps"],
    "work.shifts": "no",
    "work.physical": "yes",
    "work.licence": ["B"],
    "work.transport": "bicycle",
    "work.start": "now",
}


def test_hand_calculated_profile() -> None:
    # Formula (content.yaml `scoring`):
    #   E = min(1, 0.2·W + 0.5·T + 0.3·Y + 0.5·R);  I = Σ w·v / Σ w;  score = ⌊100·(0.6·E + 0.4·max(0, I)) + ½⌋
    # metal: W = 1 (a lot), T = (1+1+1+0.5+0.5+0)/6 (drawing skipped) = 2/3, Y = 0.6 (1–3 years), R = 0
    e_metal = F("0.2") * 1 + F("0.5") * F(4, 6) + F("0.3") * F("0.6")
    assert e_metal == F(107, 150)  # 0.7133
    #   interests: machines 3×(+1), build 2×(+1), repair 1×0, measure 2×(−1) → 3/8
    i_metal = F(3 * 1 + 2 * 1 + 1 * 0 + 2 * -1, 3 + 2 + 1 + 2)
    assert i_metal == F(3, 8)
    #   100 × (0.6 × 0.7133 + 0.4 × 0.375) = 42.8 + 15 = 57.8 → 58; E → 71.3 → 71; I → 37.5 → 38
    assert half_up(100 * (F("0.6") * e_metal + F("0.4") * i_metal)) == 58
    # vehicles: W = 0.5, T = (1+1+0.5+0.5+0+0+0)/7 = 3/7, Y = 0.3 (<1 year), R = 0.5 (training started)
    e_vehicles = F("0.2") * F("0.5") + F("0.5") * F(3, 7) + F("0.3") * F("0.3") + F("0.5") * F("0.5")
    assert e_vehicles == F("0.44") + F(3, 14)  # 0.6543
    #   interests: machines 2×(+1), repair 3×0, driving 1×(+1) → 3/6
    i_vehicles = F(2 + 0 + 1, 2 + 3 + 1)
    #   100 × (0.6 × 0.6543 + 0.4 × 0.5) = 39.26 + 20 = 59.26 → 59; E → 65; I → 50
    assert half_up(100 * (F("0.6") * e_vehicles + F("0.4") * i_vehicles)) == 59
    # wood: W = 0.5, all tasks never, Y = 0 → E = 0.1; build 3×(+1), measure 1×(−1), beauty 1×0 → 2/5
    #   100 × (0.06 + 0.16) = 22;  E 10, I 40
    # logistics (not detailed): W = 0.5 → E = 0.1; machines 1, order 3×0, driving 2 → 3/6 → 6 + 20 = 26
    # shk: E = 0; build 1×(+1), repair 2×0 → 1/3 → 40/3 = 13.3 → 13
    # electrical: machines 1, build 1, repair 3×0, measure 1×(−1) → 1/6 → 6.7 → 7
    # food: machines 1×(+1), guests 1, order 1, cooking 2 → 1/5 → 8
    # construction: outdoors 3×(−1), build 2, measure 1×(−1), driving 1 → −1/7 → 0
    # agriculture: machines 1, outdoors 2×(−1), animals 3, plants 1, driving 1 → 0/8 → 0
    # horticulture −2/6, painting −1/4 → 0; cleaning, care, hospitality: nothing liked → 0
    expected_scores = {
        "metal": (58, 71, 38),
        "electrical": (7, 0, 17),
        "vehicles": (59, 65, 50),
        "shk": (13, 0, 33),
        "wood": (22, 10, 40),
        "construction": (0, 0, 0),
        "logistics": (26, 10, 50),
        "food": (8, 0, 20),
        "horticulture": (0, 0, 0),
        "agriculture": (0, 0, 0),
        "painting": (0, 0, 0),
        "cleaning": (0, 0, 0),
        "care": (0, 0, 0),
        "hospitality": (0, 0, 0),
    }
    expected = Profile(
        content_id="potential-check",
        content_version=1,
        fields=tuple(FieldScore(f.id, f.name, f.emoji, *expected_scores[f.id]) for f in CONTENT.fields),
        # above 30, highest first: vehicles 59, metal 58 (logistics 26 and wood 22 stay below)
        top_fields=("vehicles", "metal"),
        reasons=(
            (
                "vehicles",
                (
                    Reason("training_started", "edu.training", "I started, but did not finish"),
                    Reason("worked", "vehicles.years", "Less than 1 year"),
                    Reason("often_done", "vehicles.oil", "I have changed engine oil."),
                    Reason("often_done", "vehicles.tyres", "I have changed tyres."),
                    Reason("likes", "interest.machines", "Working with machines"),  # weight 2
                    Reason("likes", "interest.driving", "Driving vehicles"),  # weight 1
                ),
            ),
            (
                "metal",
                (
                    Reason("worked", "metal.years", "1 to 3 years"),
                    Reason("often_done", "metal.cut", "I have cut or sawn metal."),
                    Reason("often_done", "metal.drill", "I have drilled holes in metal."),
                    Reason("often_done", "metal.weld", "I have welded metal."),
                    Reason("likes", "interest.machines", "Working with machines"),  # weight 3
                    Reason("likes", "interest.build", "Building things with my hands"),  # weight 2
                ),
            ),
        ),
        notes=(
            Note("german", "vehicles", CONTENT.notes.german.text, ("A2",)),
            Note("german", "metal", CONTENT.notes.german.text, ("A2",)),
            Note("shifts", "metal", CONTENT.notes.shifts.text),  # metal industry works shifts
        ),
        facts=(
            ("edu.school", ("5_8",)),
            ("edu.training", ("started",)),
            ("edu.training_field", ("vehicles",)),
            ("lang.spoken", ("fa", "ps")),
            ("work.shifts", ("no",)),
            ("work.physical", ("yes",)),
            ("work.licence", ("B",)),
            ("work.transport", ("bicycle",)),
            ("work.start", ("now",)),
        ),
        german_level="A1",
    )
    assert score(ANSWERS, CONTENT, german_level="A1") == expected


def test_unknown_and_invalid_answers_are_ignored() -> None:
    noisy = {
        **ANSWERS,
        "metal.forge": "often",  # an item of an older content version
        "interest.astronaut": "like",
        "metal.lathe": "always",  # not an option: like no answer
        "lang.spoken": ["fa", "ps"],
    }
    noisy_profile = score(noisy, CONTENT, german_level="A1")
    clean = {k: v for k, v in ANSWERS.items() if k != "metal.lathe"}
    assert noisy_profile == score(clean, CONTENT, german_level="A1")


def test_constraint_notes() -> None:
    answers: dict[str, Answer] = {
        "interest.plants": "like",
        "interest.animals": "like",
        "interest.outdoors": "like",
        "interest.driving": "like",
        "interest.order": "like",
        "interest.care": "like",
        "work.shifts": "no",
        "work.physical": "no",
        "work.transport": "public",
        "work.licence": ["none"],
    }
    profile = score(answers, CONTENT, german_level="A2")
    assert profile.top_fields == ("care", "agriculture", "logistics")
    kinds = {f: {n.kind for n in profile.notes_for(f)} for f in profile.top_fields}
    assert kinds == {
        "care": {"german", "shifts", "heavy_work"},  # care needs B1
        "agriculture": {"shifts", "heavy_work", "transport", "licence"},
        "logistics": {"shifts", "heavy_work", "licence"},
    }
    licence = next(n for n in profile.notes_for("logistics") if n.kind == "licence")
    assert licence.params == ("forklift", "C", "CE")
    # No German level known, unknown level string, or licences skipped: no such notes.
    for level in (None, "fluent"):
        assert "german" not in {n.kind for n in score(answers, CONTENT, german_level=level).notes}
    skipped = score({**answers, "work.licence": SKIP}, CONTENT)
    assert "licence" not in {n.kind for n in skipped.notes}


def test_ties_follow_content_order() -> None:
    everything_liked = {i.id: "like" for i in CONTENT.interests}
    profile = score(everything_liked, CONTENT)
    assert set(profile.scores.values()) == {40}
    assert profile.top_fields == ("metal", "electrical", "vehicles")


def test_changing_an_answer_off_the_path_drops_its_details() -> None:
    answers = {**ANSWERS, "metal.worked": "no"}
    profile = score(answers, CONTENT)
    assert profile.field_score("metal") == FieldScore("metal", "Metal", "🔩", 15, 0, 38)
    # logistics moves up into the three detailed fields: its years (> 3) and forklift now count.
    assert profile.score_of("logistics") == half_up(100 * (F("0.6") * F("0.9") + F("0.4") * F(1, 2)))


def test_profile_round_trips_through_json() -> None:
    profile = score(ANSWERS, CONTENT, german_level="A1")
    stored = json.loads(json.dumps(profile.to_dict()))
    assert stored["content_version"] == 1 and stored["schema"] == 1
    assert Profile.from_dict(stored) == profile
    assert profile.is_current(CONTENT)


def modified_content(tmp_path: Path) -> CheckContent:
    """Version 2: metal renamed, the welding task and the measuring interest removed, weights changed."""
    with DEFAULT_CONTENT_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = copy.deepcopy(yaml.safe_load(fh))
    data["version"] = 2
    metal = data["fields"][0]
    metal["name"] = "Metal and steel"
    metal["tasks"] = [t for t in metal["tasks"] if t["id"] != "metal.weld"]
    data["interests"] = [i for i in data["interests"] if i["id"] != "interest.measure"]
    data["scoring"]["weights"] = {"experience": 0.7, "interest": 0.3}
    path = tmp_path / "content.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_content(path)


def test_old_profile_stays_readable_after_content_version_changes(tmp_path: Path) -> None:
    stored = json.loads(json.dumps(score(ANSWERS, CONTENT, german_level="A1").to_dict()))
    v2 = modified_content(tmp_path)
    assert v2.version == 2 and v2.question("metal.weld") is None

    old = Profile.from_dict(stored)
    assert old.content_version == 1 and not old.is_current(v2)
    # Everything needed to show it is inside the profile, including texts v2 no longer has.
    assert old.field_score("metal") == FieldScore("metal", "Metal", "🔩", 58, 71, 38)
    assert Reason("often_done", "metal.weld", "I have welded metal.") in old.reasons_for("metal")
    assert render_bar(old.score_of("metal") or 0) == "▓▓▓▓▓▓░░░░"

    # Re-scoring the same stored answers under v2 works; the removed ids are simply not counted.
    new = score(ANSWERS, v2, german_level="A1")
    assert new.content_version == 2 and new.is_current(v2)
    assert new.field_score("metal") is not None and new.field_score("metal").name == "Metal and steel"  # type: ignore[union-attr]
    assert all(r.item != "metal.weld" for r in new.reasons_for("metal"))


def test_from_dict_ignores_unknown_keys_and_rejects_newer_schema() -> None:
    stored = score(ANSWERS, CONTENT).to_dict()
    assert Profile.from_dict({**stored, "added_later": 1}) == Profile.from_dict(stored)
    with pytest.raises(ValueError, match="newer"):
        Profile.from_dict({**stored, "schema": 99})


@pytest.mark.parametrize(
    ("value", "width", "bar"),
    [
        (0, 10, "░░░░░░░░░░"),
        (4, 10, "░░░░░░░░░░"),
        (5, 10, "▓░░░░░░░░░"),
        (58, 10, "▓▓▓▓▓▓░░░░"),
        (100, 10, "▓▓▓▓▓▓▓▓▓▓"),
        (150, 5, "▓▓▓▓▓"),
        (-3, 5, "░░░░░"),
        (50, 4, "▓▓░░"),
    ],
)
def test_render_bar(value: int, width: int, bar: str) -> None:
    assert render_bar(value, width) == bar


def test_render_bar_rejects_zero_width() -> None:
    with pytest.raises(ValueError):
        render_bar(50, 0)


# --------------------------------------------------------------------------- properties


def answer_for(question: Question) -> st.SearchStrategy[Answer]:
    ids = [o.id for o in question.options]
    if question.kind == "single":
        return st.sampled_from([*ids, SKIP])
    plain = [i for i in ids if i not in question.exclusive]
    return st.one_of(
        st.just(SKIP),
        st.sampled_from(list(question.exclusive) or plain).map(lambda i: [i]),
        st.lists(st.sampled_from(plain), min_size=1, unique=True),
    )


# Any answer to any question of any path (branches included), plus ids no content version knows.
any_answers = st.fixed_dictionaries(
    {},
    optional={q.id: answer_for(q) for q in CONTENT.all_questions}
    | {f"old.item{i}": st.sampled_from(["often", "like", "yes"]) for i in range(3)},
)


@settings(max_examples=150, deadline=None)
@given(answers=any_answers, german=st.sampled_from([None, "A1", "A2", "B1", "C2", "none"]))
def test_scores_stay_in_range(answers: dict[str, Answer], german: str | None) -> None:
    profile = score(answers, CONTENT, german_level=german)
    assert [fs.field for fs in profile.fields] == [f.id for f in CONTENT.fields]
    for fs in profile.fields:
        assert 0 <= fs.score <= 100 and 0 <= fs.experience <= 100 and 0 <= fs.interest <= 100
    top_scores = [profile.score_of(f) or 0 for f in profile.top_fields]
    assert len(profile.top_fields) <= 3 and all(s > CONTENT.scoring.top_threshold for s in top_scores)
    assert top_scores == sorted(top_scores, reverse=True)
    others = [fs.score for fs in profile.fields if fs.field not in profile.top_fields]
    if len(profile.top_fields) == 3:
        assert all(s <= min(top_scores) for s in others)
    assert {r[0] for r in profile.reasons} == set(profile.top_fields)
    assert Profile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile


@settings(max_examples=100, deadline=None)
@given(answers=any_answers, data=st.data())
def test_profile_does_not_depend_on_answer_order(answers: dict[str, Answer], data: st.DataObject) -> None:
    shuffled = dict(data.draw(st.permutations(list(answers.items()))))
    assert score(shuffled, CONTENT) == score(answers, CONTENT)


def never_answers() -> st.SearchStrategy[dict[str, Answer]]:
    """Any mix of never / dislike / not sure / no training / no years, with worked and conditions free."""
    negative: dict[str, st.SearchStrategy[Answer]] = {}
    for q in CONTENT.all_questions:
        if q.section == "interests":
            negative[q.id] = st.sampled_from(["dislike", "not_sure", SKIP])
        elif q.id.endswith(".years"):
            negative[q.id] = st.sampled_from(["none", SKIP])
        elif q.section == "details":
            negative[q.id] = st.sampled_from(["never", SKIP])
        elif q.id == "edu.training":
            negative[q.id] = st.just("none")
        else:
            negative[q.id] = answer_for(q)
    return st.fixed_dictionaries({}, optional=negative)


@settings(max_examples=150, deadline=None)
@given(answers=never_answers())
def test_all_never_and_dislike_gives_no_strengths(answers: dict[str, Answer]) -> None:
    profile = score(answers, CONTENT)
    assert profile.top_fields == ()
    assert profile.reasons == () and profile.notes == ()
    # Saying "yes, a lot" to a field without a single task done is worth at most 0.6 × 0.2 = 12 points.
    assert max(profile.scores.values()) <= 12


@settings(max_examples=50, deadline=None)
@given(answers=st.fixed_dictionaries({}, optional={q.id: answer_for(q) for q in CONTENT.all_questions}))
def test_all_never_strictly_gives_zero(answers: dict[str, Answer]) -> None:
    strictly_never = {
        **answers,
        **{f.worked_id: "no" for f in CONTENT.fields},
        **{i.id: "dislike" for i in CONTENT.interests},
        "edu.training": "none",
    }
    assert set(score(strictly_never, CONTENT).scores.values()) == {0}
