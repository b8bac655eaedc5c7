"""How well a hospitation offer fits a participant: a pure function a coordinator can check by hand.

The fit is led by the profile's score in the offer's field (0–100). Everything else adjusts it within
bounds — together at most +15 and at least −30 — so that being near, or sharing a language, can never
lift a field the person has no experience in above one they have worked in for years:

    fit = clamp(field score + clamp(adjustments, −30, +15), 0, 100)

| adjustment | when |
|---|---|
| +8  | the company is in the person's region |
| +5  | the person can get there: their way to work (check: "How can you get to work?") is one the site is reachable by |
| −15 | they cannot: the site is not reachable their way (only when both are known) |
| +5  | staff speak a language of the person other than German |
| −10 | the work has early, late or night shifts and the person said they cannot work shifts |
| −10 | the work is heavy and the person said they cannot do heavy work |
| −15 | the work needs a licence or permit the person does not have |

An offer is shown only when the field score is at least ``MIN_FIELD_SCORE`` (the person has some
experience or clear interest in the field) and the fit at least ``MIN_FIT``. docs/booking.md explains it
with worked examples; tests/test_booking_matching.py computes them by hand.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

MIN_FIELD_SCORE = 30
MIN_FIT = 40
MAX_BONUS, MAX_MALUS = 15, -30
REGION, REACHABLE, UNREACHABLE, LANGUAGE, SHIFTS, HEAVY, LICENCE = 8, 5, -15, 5, -10, -10, -15


@dataclass(frozen=True)
class PersonFacts:
    """What the check and the registration say about the person, as the matching needs it."""

    field_scores: Mapping[str, int]
    region: str | None = None
    languages: Collection[str] = ()  # spoken, besides German (interface codes)
    transport: str | None = None  # "none" (on foot), "bicycle", "car", "public"
    shifts_ok: bool | None = None
    heavy_ok: bool | None = None
    licences: Collection[str] = ()


@dataclass(frozen=True)
class OfferFacts:
    field: str
    region: str | None = None
    staff_languages: Collection[str] = ()
    reachable_by: Collection[str] = ()
    transit_minutes: int | None = None
    shifts: bool = False
    heavy_work: bool = False
    licences: Collection[str] = ()


@dataclass(frozen=True)
class Reason:
    """One reason in plain words, rendered by the flow: ``kind`` names the sentence, ``values`` fill it."""

    kind: str  # field, region, reachable, transit, unreachable, language, shifts, heavy, licence
    points: int
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Fit:
    score: int
    field_score: int
    reasons: tuple[Reason, ...]

    @property
    def shown(self) -> bool:
        return self.field_score >= MIN_FIELD_SCORE and self.score >= MIN_FIT


def fit(person: PersonFacts, offer: OfferFacts) -> Fit:
    field_score = int(person.field_scores.get(offer.field, 0))
    reasons = [Reason("field", field_score, {"score": field_score})]
    if person.region and offer.region and person.region == offer.region:
        reasons.append(Reason("region", REGION))
    if person.transport and offer.reachable_by:
        if person.transport in offer.reachable_by:
            values: dict[str, object] = {"transport": person.transport}
            if person.transport == "public" and offer.transit_minutes is not None:
                values["minutes"] = offer.transit_minutes
            reasons.append(Reason("reachable", REACHABLE, values))
        else:
            reasons.append(Reason("unreachable", UNREACHABLE, {"ways": tuple(sorted(offer.reachable_by))}))
    shared = sorted(set(person.languages) & set(offer.staff_languages) - {"de"})
    if shared:
        reasons.append(Reason("language", LANGUAGE, {"languages": tuple(shared)}))
    if offer.shifts and person.shifts_ok is False:
        reasons.append(Reason("shifts", SHIFTS))
    if offer.heavy_work and person.heavy_ok is False:
        reasons.append(Reason("heavy", HEAVY))
    missing = sorted(set(offer.licences) - set(person.licences))
    if missing:
        reasons.append(Reason("licence", LICENCE, {"licences": tuple(missing)}))
    adjustment = max(MAX_MALUS, min(MAX_BONUS, sum(r.points for r in reasons[1:])))
    score = max(0, min(100, field_score + adjustment))
    return Fit(score=score, field_score=field_score, reasons=tuple(reasons))


def rank(person: PersonFacts, offers: Mapping[int, OfferFacts]) -> list[tuple[int, Fit]]:
    """The offers that are shown, best first (ties: higher field score, then offer id)."""
    fits = [(offer_id, fit(person, facts)) for offer_id, facts in offers.items()]
    shown = [(offer_id, f) for offer_id, f in fits if f.shown]
    shown.sort(key=lambda item: (-item[1].score, -item[1].field_score, item[0]))
    return shown
