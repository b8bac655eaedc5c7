"""Demo pilot companies with hospitation offers, for the demo and for trying out the matching.

Invented companies, modelled on the region's economy (docs/sources.md, "The region's economy"):
tree nurseries in Ammerland, dairies and food, machine building in the Landkreis Oldenburg, services
and trades in the city of Oldenburg, logistics in Delmenhorst. Names end in "(Demo)" so nobody takes
them for real firms. Field ids are those of the check content.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.companies import Company, HospitationOffer
from storage.models import Region

__all__ = ["DEMO_COMPANIES", "DemoCompany", "seed_demo_offers"]


@dataclass(frozen=True)
class DemoCompany:
    name: str
    town: str
    region: Region
    languages: tuple[str, ...]
    offers: tuple[tuple[str, str], ...]  # (title, field id)


DEMO_COMPANIES: tuple[DemoCompany, ...] = (
    DemoCompany(
        "Baumschule Rhododendronhof (Demo)", "Bad Zwischenahn", Region.AMMERLAND, ("de", "ru", "uk"),
        (("Mitarbeit in der Baumschule: Topfen, Schneiden, Pflegen", "horticulture"),
         ("Versand von Pflanzen: Kommissionieren und Verladen", "logistics")),
    ),
    DemoCompany(
        "Ammerländer Käserei (Demo)", "Wiefelstede", Region.AMMERLAND, ("de", "ar", "tr"),
        (("Produktion: Käse herstellen und verpacken", "food"),
         ("Hygiene und Reinigung in der Produktion", "cleaning")),
    ),
    DemoCompany(
        "Maschinenbau Hunte (Demo)", "Hude", Region.LANDKREIS_OLDENBURG, ("de", "ru", "uk", "fa"),
        (("Metallbearbeitung: Sägen, Bohren, Schweißen", "metal"),
         ("Schaltschrankbau und Verdrahtung", "electrical")),
    ),
    DemoCompany(
        "Landtechnik Wildeshausen (Demo)", "Wildeshausen", Region.LANDKREIS_OLDENBURG, ("de", "tr"),
        (("Werkstatt: Traktoren und Landmaschinen warten", "vehicles"),
         ("Mitarbeit auf dem Versuchshof", "agriculture")),
    ),
    DemoCompany(
        "Haustechnik Oldenburg (Demo)", "Oldenburg", Region.STADT_OLDENBURG, ("de", "ar", "fa"),
        (("Sanitär und Heizung: Rohre verlegen, Bäder montieren", "shk"),
         ("Elektroinstallation in Wohnhäusern", "electrical")),
    ),
    DemoCompany(
        "Logistikcampus Delmenhorst (Demo)", "Delmenhorst", Region.DELMENHORST, ("de", "ar", "ps", "fa", "ti"),
        (("Lager: Wareneingang, Kommissionieren, Stapler", "logistics"),),
    ),
    DemoCompany(
        "Holzbau Edewecht (Demo)", "Edewecht", Region.AMMERLAND, ("de", "ku"),
        (("Tischlerei: Möbel und Fenster bauen", "wood"),
         ("Holzbau auf der Baustelle", "construction")),
    ),
    DemoCompany(
        "Pflegezentrum Ganderkesee (Demo)", "Ganderkesee", Region.LANDKREIS_OLDENBURG, ("de", "ru", "ar", "so"),
        (("Pflegehilfe im Seniorenheim", "care"),
         ("Küche und Service im Seniorenheim", "hospitality")),
    ),
)  # fmt: skip


async def seed_demo_offers(session: AsyncSession) -> int:
    """Add the demo companies and offers that are missing (matched by name and title); returns how many rows.

    Idempotent: running it again adds nothing; existing rows are not changed.
    """
    added = 0
    for demo in DEMO_COMPANIES:
        company = (await session.exec(select(Company).where(Company.name == demo.name))).first()
        if company is None:
            company = Company(name=demo.name, town=demo.town, region=demo.region.value, languages=list(demo.languages))
            session.add(company)
            await session.flush()
            added += 1
        assert company.id is not None
        titles = set(
            (await session.exec(select(HospitationOffer.title).where(HospitationOffer.company_id == company.id))).all()
        )
        for title, field_id in demo.offers:
            if title not in titles:
                session.add(HospitationOffer(company_id=company.id, title=title, field=field_id, town=demo.town))
                added += 1
    await session.flush()
    return added
