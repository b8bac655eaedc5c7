"""A booked day as an iCalendar file (RFC 5545), for any phone's calendar app. Pure: no Telegram, no database.

Times are written in UTC (``...Z``): every calendar app shows them in the phone's own time zone, so nobody
has to know that the programme runs on Berlin time.
"""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

PRODID = "-//pro:connect//hospitation//DE"


def event_file(
    *,
    uid: str,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    now: datetime,
    location: str | None = None,
    description: str | None = None,
    url: str | None = None,
) -> bytes:
    """One event; ``uid`` stays the same for the same booking, so importing it again updates the entry."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
