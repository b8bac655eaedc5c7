"""Registration of participants: consent per purpose, first name, region, German level, phone."""

from __future__ import annotations

from dialogs.feature import Feature
from dialogs.onboarding.flow import dialog, resume

feature = Feature(name="onboarding", dialogs=(dialog,), resume=resume)
