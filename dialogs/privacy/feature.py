"""Privacy for everyone: consents (/privacy), the data export (/mydata), erasure (/delete), retention."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialogs.feature import EVERYONE, CommandSpec, CronJob, Feature, MenuEntry, Tap
from dialogs.privacy.jobs import RETENTION_CRON, retention_job
from dialogs.privacy.router import router, send_my_data, show_privacy
from dialogs.text import N_


async def _open_privacy(tap: Tap) -> None:
    await show_privacy(tap.message, tap.person, tap.session)


async def _open_mydata(tap: Tap) -> None:
    await send_my_data(tap.message, tap.person, tap.session, tap.data["settings"])


def _retention_kwargs(services: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"sessionmaker": services["sessionmaker"], "retention_months": services["settings"].retention_months}


feature = Feature(
    name="privacy",
    routers=(router,),
    menu=(
        MenuEntry("privacy", N_("🔒 Privacy"), _open_privacy, roles=EVERYONE, order=900),
        MenuEntry("mydata", N_("📄 My data"), _open_mydata, roles=EVERYONE, order=910),
    ),
    commands=(
        CommandSpec("privacy", N_("Privacy choices"), N_("/privacy – your consents"), order=40),
        CommandSpec("mydata", N_("My data"), N_("/mydata – see everything we store about you"), order=41),
        CommandSpec("delete", N_("Delete my data"), N_("/delete – delete all your data"), order=42),
    ),
    jobs=(CronJob("retention", RETENTION_CRON, retention_job, _retention_kwargs),),
)
