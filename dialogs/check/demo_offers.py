"""Demo pilot companies with hospitation offers, a contact person each, and days to book.

Invented companies, modelled on the region's economy (docs/sources.md, "The region's economy"):
tree nurseries in Ammerland, dairies and food, machine building in the Landkreis Oldenburg, services
and trades in the city of Oldenburg, logistics in Delmenhorst. Names end in "(Demo)" so nobody takes
them for real firms; the towns and postcodes are real, the street names invented. Field ids are those of
the check content; "reachable by" uses the check's transport answers, licences its licence answers.

Each company has a contact person (a fixed demo Telegram id, German, company role and membership), who
gets the booking notices; the terminal demo plays them with ``/as company``. Each offer has days over the
coming four weeks (two weekdays a week, 8:00–12:00 or 9:00–13:00 local time, 1–3 places).

Everything is idempotent: what is there already (matched by company name, offer title, contact id, and an
offer's day by its start) is left as it is, and only what is missing is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.offers.service import add_member
from storage.booking import HospitationSlot
from storage.companies import Company, HospitationOffer
from storage.models import Person, Region, Role

__all__ = [
    "DEMO_COMPANIES", "DemoCompany", "DemoOffer", "DemoSeed", "seed_demo", "seed_demo_contacts", "seed_demo_offers",
    "seed_demo_slots",
]

#: Days are offered this many weeks ahead, from tomorrow.
DEMO_WEEKS = 4
ALL_WAYS = ("public", "bicycle", "car")


@dataclass(frozen=True)
class DemoOffer:
    title: str
    field: str
    address: str
    meeting_point: str
    what_to_bring: str
    clothing: str
    reachable_by: tuple[str, ...] = ALL_WAYS
    transit_minutes: int | None = None
    shifts: bool = False
    heavy_work: bool = False
    licences: tuple[str, ...] = ()
    duration_hours: float = 4


@dataclass(frozen=True)
class DemoCompany:
    name: str
    town: str
    region: Region
    languages: tuple[str, ...]
    contact: str  # the contact person's first name
    contact_telegram_id: int
    offers: tuple[DemoOffer, ...]


ID = "Personalausweis oder Aufenthaltstitel"

DEMO_COMPANIES: tuple[DemoCompany, ...] = (
    DemoCompany(
        "Baumschule Rhododendronhof (Demo)", "Bad Zwischenahn", Region.AMMERLAND, ("de", "ru", "uk"), "Jens", 4_340_001,
        (DemoOffer("Mitarbeit in der Baumschule: Topfen, Schneiden, Pflegen", "horticulture",
                   "Rostruper Baumschulweg 14, 26160 Bad Zwischenahn", "Hofladen am Haupteingang, nach Jens fragen",
                   f"{ID}, Pausenbrot, etwas zu trinken",
                   "Wetterfeste Kleidung und feste Schuhe; Handschuhe bekommen Sie von uns",
                   transit_minutes=25, heavy_work=True),
         DemoOffer("Versand von Pflanzen: Kommissionieren und Verladen", "logistics",
                   "Rostruper Baumschulweg 14, 26160 Bad Zwischenahn", "Versandhalle, Tor 2",
                   f"{ID}, Pausenbrot", "Sicherheitsschuhe (S3); eine Warnweste bekommen Sie von uns",
                   transit_minutes=25, shifts=True, heavy_work=True)),
    ),
    DemoCompany(
        "Ammerländer Käserei (Demo)", "Wiefelstede", Region.AMMERLAND, ("de", "ar", "tr"), "Anke", 4_340_002,
        (DemoOffer("Produktion: Käse herstellen und verpacken", "food",
                   "Käsereiweg 7, 26215 Wiefelstede", "Pforte am Werkstor, dort gibt es die Hygienekleidung",
                   f"{ID}; Schmuck und Uhren bitte zu Hause lassen",
                   "Hygienekleidung und Sicherheitsschuhe stellen wir", transit_minutes=35, shifts=True,
                   heavy_work=True),
         DemoOffer("Hygiene und Reinigung in der Produktion", "cleaning",
                   "Käsereiweg 7, 26215 Wiefelstede", "Pforte am Werkstor", f"{ID}, Pausenbrot",
                   "Arbeitskleidung und Gummistiefel stellen wir", transit_minutes=35, shifts=True)),
    ),
    DemoCompany(
        "Maschinenbau Hunte (Demo)", "Hude", Region.LANDKREIS_OLDENBURG, ("de", "ru", "uk", "fa"), "Sergej", 4_340_003,
        (DemoOffer("Metallbearbeitung: Sägen, Bohren, Schweißen", "metal",
                   "Gewerbering 12, 27798 Hude", "Empfang in der Verwaltung, Eingang B", f"{ID}, Pausenbrot",
                   "Sicherheitsschuhe (S3); Schutzbrille und Handschuhe bekommen Sie von uns",
                   transit_minutes=15, shifts=True),
         DemoOffer("Schaltschrankbau und Verdrahtung", "electrical",
                   "Gewerbering 12, 27798 Hude", "Empfang in der Verwaltung, Eingang B", f"{ID}, Pausenbrot",
                   "Sicherheitsschuhe", transit_minutes=15)),
    ),
    DemoCompany(
        "Landtechnik Wildeshausen (Demo)", "Wildeshausen", Region.LANDKREIS_OLDENBURG, ("de", "tr"), "Mehmet",
        4_340_004,
        (DemoOffer("Werkstatt: Traktoren und Landmaschinen warten", "vehicles",
                   "Am Landtechnikpark 3, 27793 Wildeshausen", "Werkstattbüro neben Halle 1", f"{ID}, Pausenbrot",
                   "Arbeitshose und Sicherheitsschuhe; einen Overall leihen wir Ihnen", transit_minutes=40,
                   heavy_work=True),
         DemoOffer("Mitarbeit auf dem Versuchshof", "agriculture",
                   "Hof Düngstrup 5, 27793 Wildeshausen", "Hofbüro am Kuhstall",
                   f"{ID}, Pausenbrot, Kleidung zum Wechseln", "Gummistiefel und wetterfeste Kleidung",
                   reachable_by=("bicycle", "car"), shifts=True, heavy_work=True, licences=("T",),
                   duration_hours=5)),
    ),
    DemoCompany(
        "Haustechnik Oldenburg (Demo)", "Oldenburg", Region.STADT_OLDENBURG, ("de", "ar", "fa"), "Katrin", 4_340_005,
        (DemoOffer("Sanitär und Heizung: Rohre verlegen, Bäder montieren", "shk",
                   "Kanalweg 21, 26135 Oldenburg", "Lager im Hof; von dort geht es gemeinsam zur Baustelle",
                   f"{ID}, Pausenbrot", "Arbeitshose und Sicherheitsschuhe",
                   reachable_by=("public", "bicycle", "car", "none"), transit_minutes=15, heavy_work=True),
         DemoOffer("Elektroinstallation in Wohnhäusern", "electrical",
                   "Kanalweg 21, 26135 Oldenburg", "Lager im Hof", f"{ID}, Pausenbrot",
                   "Arbeitshose und Sicherheitsschuhe", reachable_by=("public", "bicycle", "car", "none"),
                   transit_minutes=15)),
    ),
    DemoCompany(
        "Logistikcampus Delmenhorst (Demo)", "Delmenhorst", Region.DELMENHORST, ("de", "ar", "ps", "fa", "ti"),
        "Ahmad", 4_340_006,
        (DemoOffer("Lager: Wareneingang, Kommissionieren, Stapler", "logistics",
                   "Am Güterbahnhof 40, 27753 Delmenhorst", "Pförtnerhaus an Tor 1", f"{ID}, Pausenbrot",
                   "Sicherheitsschuhe (S3); eine Warnweste bekommen Sie von uns", transit_minutes=20, shifts=True,
                   heavy_work=True, licences=("forklift",), duration_hours=6),),
    ),
    DemoCompany(
        "Holzbau Edewecht (Demo)", "Edewecht", Region.AMMERLAND, ("de", "ku"), "Lars", 4_340_007,
        (DemoOffer("Tischlerei: Möbel und Fenster bauen", "wood",
                   "Tischlerweg 6, 26188 Edewecht", "Werkstatt, Eingang neben dem Holzlager", f"{ID}, Pausenbrot",
                   "Sicherheitsschuhe; Gehörschutz bekommen Sie von uns", transit_minutes=30, heavy_work=True),
         DemoOffer("Holzbau auf der Baustelle", "construction",
                   "Tischlerweg 6, 26188 Edewecht", "Hof der Tischlerei; von dort geht es gemeinsam zur Baustelle",
                   f"{ID}, Pausenbrot, etwas zu trinken",
                   "Sicherheitsschuhe (S3) und wetterfeste Kleidung; einen Helm bekommen Sie von uns",
                   transit_minutes=30, heavy_work=True, duration_hours=5)),
    ),
    DemoCompany(
        "Pflegezentrum Ganderkesee (Demo)", "Ganderkesee", Region.LANDKREIS_OLDENBURG, ("de", "ru", "ar", "so"),
        "Olga", 4_340_008,
        (DemoOffer("Pflegehilfe im Seniorenheim", "care",
                   "Am Lindenhof 2, 27777 Ganderkesee", "Empfang im Erdgeschoss",
                   f"{ID}, Nachweis über den Masernschutz, Pausenbrot",
                   "Bequeme, geschlossene Schuhe; Dienstkleidung bekommen Sie von uns", transit_minutes=20,
                   shifts=True, heavy_work=True),
         DemoOffer("Küche und Service im Seniorenheim", "hospitality",
                   "Am Lindenhof 2, 27777 Ganderkesee", "Küche im Erdgeschoss, über den Lieferanteneingang", ID,
                   "Geschlossene, rutschfeste Schuhe; eine Kochjacke bekommen Sie von uns", transit_minutes=20,
                   shifts=True)),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class DemoSeed:
    companies: int
    offers: int
    contacts: int
    slots: int
    already_there: int  # demo companies and offers found from an earlier run, left as they were


def _offer_row(company: Company, demo: DemoCompany, offer: DemoOffer) -> HospitationOffer:
    assert company.id is not None
    return HospitationOffer(
        company_id=company.id, title=offer.title, field=offer.field, town=demo.town, address=offer.address,
        meeting_point=offer.meeting_point, contact_name=demo.contact, what_to_bring=offer.what_to_bring,
        clothing=offer.clothing, reachable_by=list(offer.reachable_by), transit_minutes=offer.transit_minutes,
        shifts=offer.shifts, heavy_work=offer.heavy_work, licences=list(offer.licences),
        duration_hours=offer.duration_hours,
    )


async def _company(session: AsyncSession, name: str) -> Company | None:
    return (await session.exec(select(Company).where(Company.name == name))).first()


async def seed_demo_offers(session: AsyncSession) -> int:
    """Add the demo companies and offers that are missing (matched by name and title); returns how many rows.

    Idempotent: running it again adds nothing; existing rows are not changed.
    """
    added = 0
    for demo in DEMO_COMPANIES:
        company = await _company(session, demo.name)
        if company is None:
            company = Company(name=demo.name, town=demo.town, region=demo.region.value, languages=list(demo.languages))
            session.add(company)
            await session.flush()
            added += 1
        titles = set(
            (await session.exec(select(HospitationOffer.title).where(HospitationOffer.company_id == company.id))).all()
        )
        for offer in demo.offers:
            if offer.title not in titles:
                session.add(_offer_row(company, demo, offer))
                added += 1
    await session.flush()
    return added


async def seed_demo_contacts(session: AsyncSession) -> int:
    """Each demo company's contact person (German, company role, member of the company); returns how many
    people were added. Run after :func:`seed_demo_offers`."""
    added = 0
    for demo in DEMO_COMPANIES:
        company = await _company(session, demo.name)
        if company is None or company.id is None:
            continue
        person = (await session.exec(select(Person).where(Person.telegram_user_id == demo.contact_telegram_id))).first()
        if person is None:
            person = Person(telegram_user_id=demo.contact_telegram_id, chat_id=demo.contact_telegram_id, language="de",
                            roles=[Role.COMPANY.value], first_name=demo.contact)
            session.add(person)
            await session.flush()
            added += 1
        await add_member(session, person, company.id)
    return added


def demo_days(index: int, *, now: datetime, timezone: str) -> list[tuple[datetime, datetime, int]]:
    """The days of the ``index``-th demo offer: (start, end, places), from tomorrow for ``DEMO_WEEKS`` weeks.

    Two weekdays a week (shifted per offer so the days spread over the week), 8:00–12:00 or 9:00–13:00
    local time, 1–3 places.
    """
    zone = ZoneInfo(timezone)
    weekdays = {index % 5, (index + 2) % 5}
    start, places = time(8 + index % 2), 1 + index % 3
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    days = [tomorrow + timedelta(days=n) for n in range(7 * DEMO_WEEKS)]
    return [
        (
            datetime.combine(day, start, zone).astimezone(UTC),
            datetime.combine(day, time(start.hour + 4), zone).astimezone(UTC),
            places,
        )
        for day in days
        if day.weekday() in weekdays
    ]


async def seed_demo_slots(session: AsyncSession, *, now: datetime, timezone: str = "Europe/Berlin") -> int:
    """Days over the coming weeks for every demo offer that lacks them; returns how many were added."""
    added = 0
    index = 0
    for demo in DEMO_COMPANIES:
        company = await _company(session, demo.name)
        for demo_offer in demo.offers:
            days = demo_days(index, now=now, timezone=timezone)
            index += 1
            if company is None:
                continue
            offer = (
                await session.exec(
                    select(HospitationOffer).where(
                        HospitationOffer.company_id == company.id, HospitationOffer.title == demo_offer.title
                    )
                )
            ).first()
            if offer is None or offer.id is None:
                continue
            there = set(
                (
                    await session.exec(
                        select(HospitationSlot.starts_at).where(
                            HospitationSlot.offer_id == offer.id,
                            col(HospitationSlot.starts_at).in_([start for start, _end, _places in days]),
                        )
                    )
                ).all()
            )
            new = [
                HospitationSlot(offer_id=offer.id, starts_at=start, ends_at=end, capacity=places, created_at=now)
                for start, end, places in days
                if start not in there
            ]
            session.add_all(new)
            added += len(new)
    await session.flush()
    return added


async def seed_demo(session: AsyncSession, *, now: datetime, timezone: str = "Europe/Berlin") -> DemoSeed:
    """Companies, offers, contacts and days: everything the demo needs, only what is missing."""
    names = [demo.name for demo in DEMO_COMPANIES]
    companies_there = set((await session.exec(select(Company.name).where(col(Company.name).in_(names)))).all())
    pairs = {(demo.name, offer.title) for demo in DEMO_COMPANIES for offer in demo.offers}
    offers_there = set(
        (
            await session.exec(
                select(Company.name, HospitationOffer.title)
                .join(HospitationOffer, col(HospitationOffer.company_id) == col(Company.id))
                .where(col(Company.name).in_(names))
            )
        ).all()
    ) & pairs
    rows = await seed_demo_offers(session)
    companies = len(DEMO_COMPANIES) - len(companies_there)
    contacts = await seed_demo_contacts(session)
    slots = await seed_demo_slots(session, now=now, timezone=timezone)
    return DemoSeed(
        companies=companies, offers=rows - companies, contacts=contacts, slots=slots,
        already_there=len(companies_there) + len(offers_there),
    )
