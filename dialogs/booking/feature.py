"""Hospitation booking as a feature: offers that fit, booking a day, my appointments, and what follows."""

from __future__ import annotations

from dialogs.booking.flow import dialog, open_my_appointments, open_offers
from dialogs.booking.router import commands, router
from dialogs.booking.service import TEMPLATES
from dialogs.feature import CommandSpec, Feature, MenuEntry, Tap, navigator_of
from dialogs.text import N_
from storage.models import Role

PARTICIPANT = frozenset({Role.PARTICIPANT})


async def _offers(tap: Tap) -> None:
    await open_offers(tap.message, tap.person, tap.session, tap.manager, navigator_of(tap.data))


async def _appointments(tap: Tap) -> None:
    await open_my_appointments(tap.message, tap.person, tap.session, tap.manager)


feature = Feature(
    name="booking",
    routers=(commands, router),
    dialogs=(dialog,),
    menu=(
        MenuEntry("offers", N_("🏭 Offers for me"), _offers, roles=PARTICIPANT, order=11),
        MenuEntry("appointments", N_("📅 My appointments"), _appointments, roles=PARTICIPANT, order=12),
    ),
    commands=(
        CommandSpec("offers", N_("Offers for me"), N_("/offers – hospitation offers that fit you"),
                    roles=PARTICIPANT, order=21),
        CommandSpec("appointments", N_("My appointments"), N_("/appointments – your booked days"),
                    roles=PARTICIPANT, order=22),
    ),
    templates=TEMPLATES,
)
