"""Dialog states, all in one place (aiogram-dialog convention)."""

from aiogram.fsm.state import State, StatesGroup


class Onboarding(StatesGroup):
    welcome = State()
    consent_store = State()
    notice = State()
    consent_share = State()
    consent_contact = State()
    name = State()
    region = State()
    german = State()
    phone = State()


class CheckSG(StatesGroup):
    question = State()
    free_text = State()
    summary = State()
    section = State()
    result = State()
    restart = State()
