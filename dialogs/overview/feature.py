"""Figures for coordinators: how many people registered, share their profile, erased their data."""

from __future__ import annotations

from dialogs.feature import Feature, MenuEntry, Tap
from dialogs.overview.router import show_overview
from dialogs.text import N_
from storage.models import Role


async def _open(tap: Tap) -> None:
    await show_overview(tap.message, tap.session)


feature = Feature(
    name="overview",
    menu=(MenuEntry("overview", N_("📊 Overview"), _open, roles=frozenset({Role.COORDINATOR}), order=15),),
)
