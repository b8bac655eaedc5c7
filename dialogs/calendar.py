"""aiogram-dialog's ``Calendar`` in the person's language, shared by the features that ask for a day: month
and weekday names from Babel (CLDR), no day before today; with ``marked``, days up to the end of the month of
the last marked day and the marked days (free places) shown with ✅, else a year ahead.

aiogram-dialog renders names with ``strftime``, which speaks the server's locale for everybody; here every
label is a Babel text in the locale of the update (``middleware_data["locale"]``), so an Arabic participant
reads ``ديسمبر`` and ``إثنين`` where a German one reads ``Dezember`` and ``Mo.``. Weeks start on Monday, as in
Germany, where the days take place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiogram.types import CallbackQuery, InlineKeyboardButton
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.api.internal import RawKeyboard
from aiogram_dialog.api.protocols import DialogProtocol
from aiogram_dialog.widgets.kbd import Calendar, CalendarScope, CalendarUserConfig
from aiogram_dialog.widgets.kbd.calendar_kbd import CalendarConfig, CalendarDaysView, CalendarScopeView
from aiogram_dialog.widgets.text import Text
from babel.dates import format_date, get_day_names

NOOP = "x"  # a cell that is not a day (a blank, a weekday name, the month): an answer that says what to press


def _locale(manager: DialogManager) -> str:
    return str(manager.middleware_data.get("locale") or "de")


class _Babel(Text):
    """A calendar label rendered by Babel in the person's locale."""

    def __init__(self, render: Callable[[dict[str, Any], str], str]) -> None:
        super().__init__()
        self.render = render

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        return self.render(data, _locale(manager))


def _weekday(data: dict[str, Any], locale: str) -> str:
    return str(get_day_names("short", context="stand-alone", locale=locale)[data["date"].weekday()])


def _month_year(data: dict[str, Any], locale: str) -> str:
    return "🗓 " + format_date(data["date"], "LLLL y", locale=locale)


def _prev_month(data: dict[str, Any], locale: str) -> str:
    return "◀️ " + format_date(data["date"], "LLLL", locale=locale)


def _next_month(data: dict[str, Any], locale: str) -> str:
    return format_date(data["date"], "LLLL", locale=locale) + " ▶️"


class _DaysView(CalendarDaysView):
    """The month of days, without the zoom to months and years (the days on offer are a few weeks ahead)."""

    async def _render_header(
        self, config: CalendarConfig, offset: date, data: dict[str, Any], manager: DialogManager
    ) -> list[InlineKeyboardButton]:
        row = await super()._render_header(config, offset, data, manager)
        for button in row:
            button.callback_data = self.callback_generator(NOOP)
        return row

    async def _render_pager(
        self, config: CalendarConfig, offset: date, data: dict[str, Any], manager: DialogManager
    ) -> list[InlineKeyboardButton]:
        row = await super()._render_pager(config, offset, data, manager)
        return [row[0], row[2]] if len(row) == 3 else row  # previous and next month, no zoom


class LocalCalendar(Calendar):
    """A calendar of days, with ✅ on the days the window's getter lists under ``marked`` (ISO dates) if given.

    ``hint``: the msgid answered to a press on anything that is not a day.
    """

    def __init__(self, id: str, on_click: Any, *, hint: str, marked: str | None = None, when: Any = None) -> None:
        self.marked = marked
        self.hint = hint
        super().__init__(id=id, on_click=on_click, when=when)

    def _day(self, data: dict[str, Any], _locale_code: str) -> str:
        day: date = data["date"]
        marked = data["data"].get(self.marked, ()) if self.marked else ()
        return f"✅{day.day}" if day.isoformat() in marked else str(day.day)

    def _init_views(self) -> dict[CalendarScope, CalendarScopeView]:
        days = _DaysView(
            self._item_callback_data,
            date_text=_Babel(self._day),
            today_text=_Babel(self._day),
            weekday_text=_Babel(_weekday),
            header_text=_Babel(_month_year),
            prev_month_text=_Babel(_prev_month),
            next_month_text=_Babel(_next_month),
        )
        return dict.fromkeys(CalendarScope, days)

    async def _get_user_config(self, data: dict[str, Any], manager: DialogManager) -> CalendarUserConfig:
        zone = ZoneInfo(manager.middleware_data["settings"].timezone)
        today = datetime.now(zone).date()
        if self.marked is None:  # any day: a year ahead
            return CalendarUserConfig(firstweekday=0, timezone=cast(Any, zone), min_date=today,
                                      max_date=today + timedelta(days=366))
        marked = sorted(data.get(self.marked, ()))
        last = max(today, date.fromisoformat(marked[-1]) if marked else today)
        end_of_month = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return CalendarUserConfig(firstweekday=0, timezone=cast(Any, zone), min_date=today, max_date=end_of_month)

    async def _render_keyboard(self, data: dict[str, Any], manager: DialogManager) -> RawKeyboard:
        keyboard = [row for row in await super()._render_keyboard(data, manager) if row]
        noop = self._item_callback_data(NOOP)
        for row in keyboard:
            for button in row:
                if isinstance(button, InlineKeyboardButton) and not button.callback_data:
                    button.callback_data = noop  # Telegram refuses empty callback data
        return keyboard

    async def _handle_scope_months(self, data: str, manager: DialogManager) -> None:
        return None  # one scope only: days

    async def _process_item_callback(
        self, callback: CallbackQuery, data: str, dialog: DialogProtocol, manager: DialogManager
    ) -> bool:
        if data == NOOP:
            await callback.answer(_(self.hint))
            manager.show_mode = ShowMode.NO_UPDATE
            return True
        return await super()._process_item_callback(callback, data, dialog, manager)
