"""Offers and days as a feature: coordinators (every company) and company staff (their own company) create
hospitation offers and the days people can book, in the bot."""

from __future__ import annotations

from dialogs.feature import CommandSpec, Feature, MenuEntry, Tap
from dialogs.offers.flow import dialog, open_offers_admin
from dialogs.offers.router import others_router, router
from dialogs.text import N_
from storage.models import Person, Role

STAFF = frozenset({Role.COORDINATOR, Role.COMPANY})


def _shown(person: Person) -> bool:
    """Coordinators always; company staff when they act for a company. The company role is given with a
    person's first membership and taken with their last (``service.add_member`` / ``remove_member``), so
    the role answers that without a query; opening the entry checks the membership itself."""
    return person.has_role(Role.COORDINATOR) or person.has_role(Role.COMPANY)


async def _open(tap: Tap) -> None:
    await open_offers_admin(tap.message, tap.person, tap.session, tap.manager)


feature = Feature(
    name="offers",
    routers=(router, others_router),
    dialogs=(dialog,),
    menu=(MenuEntry("offers_admin", N_("🏭 Offers and days"), _open, roles=STAFF, shown=_shown, order=25),),
    commands=(
        CommandSpec("companies", N_("🏭 Offers and days"),
                    N_("For coordinators and companies: /companies – hospitation offers and their days."),
                    roles=STAFF, menu=False, block=1),
    ),
)
