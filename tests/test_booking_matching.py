"""The fit of an offer, computed by hand: the field leads, everything else adjusts within bounds."""

from __future__ import annotations

from dialogs.booking.matching import MIN_FIELD_SCORE, MIN_FIT, OfferFacts, PersonFacts, fit, rank


def kinds(person: PersonFacts, offer: OfferFacts) -> list[str]:
    return [r.kind for r in fit(person, offer).reasons]


def test_experience_beats_being_near_and_sharing_a_language() -> None:
    """The old ranking put an interest-only field near home above three years of work elsewhere."""
    person = PersonFacts(field_scores={"metal": 80, "food": 40}, region="ammerland", languages=("ar",),
                         transport="public")
    welding_far = OfferFacts(field="metal", region="delmenhorst", reachable_by=("car",))
    bakery_near = OfferFacts(field="food", region="ammerland", staff_languages=("de", "ar"),
                             reachable_by=("public",), transit_minutes=25)
    # metal: 80 − 15 (not reachable by bus) = 65; food: 40 + min(15, 8 + 5 + 5) = 55
    assert fit(person, welding_far).score == 65
    assert fit(person, bakery_near).score == 55
    assert [offer_id for offer_id, _ in rank(person, {1: bakery_near, 2: welding_far})] == [2, 1]


def test_bonus_is_capped_at_15_and_malus_at_30() -> None:
    person = PersonFacts(field_scores={"care": 50}, region="delmenhorst", languages=("ru", "uk"), transport="car",
                         shifts_ok=False, heavy_ok=False, licences=())
    friendly = OfferFacts(field="care", region="delmenhorst", staff_languages=("ru",), reachable_by=("car",))
    assert fit(person, friendly).score == 50 + 15  # 8 + 5 + 5 = 18, capped
    hard = OfferFacts(field="care", reachable_by=("public",), shifts=True, heavy_work=True, licences=("B",))
    # −15 (unreachable by car) −10 (shifts) −10 (heavy) −15 (licence) = −50, capped at −30
    assert fit(person, hard).score == 20
    assert kinds(person, hard) == ["field", "unreachable", "shifts", "heavy", "licence"]


def test_unknown_answers_neither_help_nor_hurt() -> None:
    person = PersonFacts(field_scores={"wood": 60})
    offer = OfferFacts(field="wood", region="ammerland", reachable_by=("public",), shifts=True, heavy_work=True)
    assert fit(person, offer).score == 60 and kinds(person, offer) == ["field"]


def test_threshold_hides_offers_that_do_not_fit() -> None:
    person = PersonFacts(field_scores={"metal": MIN_FIELD_SCORE - 1, "wood": MIN_FIELD_SCORE, "care": 45},
                         region="ammerland", transport="none")
    near = OfferFacts(field="metal", region="ammerland")
    assert not fit(person, near).shown  # 29 + 8 = 37 but the field itself is too weak
    assert fit(person, OfferFacts(field="wood")).score == 30 and not fit(person, OfferFacts(field="wood")).shown
    far = OfferFacts(field="care", reachable_by=("car",))
    assert fit(person, far).score == 30 and not fit(person, far).shown  # 45 − 15 < MIN_FIT
    assert fit(person, OfferFacts(field="care")).score == 45 >= MIN_FIT and fit(person, OfferFacts(field="care")).shown


def test_reasons_carry_what_the_flow_says() -> None:
    person = PersonFacts(field_scores={"logistics": 70}, region="delmenhorst", languages=("ti", "ar"),
                         transport="public", licences=("forklift",))
    offer = OfferFacts(field="logistics", region="delmenhorst", staff_languages=("de", "ti"),
                       reachable_by=("public", "bicycle"), transit_minutes=25, licences=("forklift",))
    result = fit(person, offer)
    assert {r.kind: dict(r.values) for r in result.reasons} == {
        "field": {"score": 70},
        "region": {},
        "reachable": {"transport": "public", "minutes": 25},
        "language": {"languages": ("ti",)},
    }
    assert result.score == 70 + 15


def test_ties_go_to_the_stronger_field_then_the_older_offer() -> None:
    person = PersonFacts(field_scores={"metal": 60, "wood": 52}, region="ammerland")
    offers = {
        3: OfferFacts(field="wood", region="ammerland"),  # 52 + 8 = 60
        2: OfferFacts(field="metal"),  # 60
        1: OfferFacts(field="metal"),  # 60
    }
    assert [offer_id for offer_id, _ in rank(person, offers)] == [1, 2, 3]
