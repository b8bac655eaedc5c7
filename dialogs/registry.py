"""The features of the bot, in the order the runtime consults them.

Order matters twice: routers are included in this order (a feature's plain commands before the next
one's), and "where does this person continue" asks each feature's resume hook in this order (the
language before registration, registration before the check). The menu orders itself by its entries'
``order``.
"""

from __future__ import annotations

from dialogs.booking.feature import feature as booking
from dialogs.check.feature import feature as check
from dialogs.feature import Feature
from dialogs.language.feature import feature as language
from dialogs.offers.feature import feature as offers
from dialogs.onboarding.feature import feature as onboarding
from dialogs.overview.feature import feature as overview
from dialogs.privacy.feature import feature as privacy

FEATURES: tuple[Feature, ...] = (language, onboarding, privacy, check, booking, offers, overview)
