"""Who may practise where: a provider's state licenses, and whether one is active in a state on a day.

The telehealth rule (interstate licensure): a provider sees a patient only under an active license of the state
the patient is in on the visit date. :func:`licensed_in` is that rule; ``domain.services.licensure`` loads a
provider's licenses from the store and calls it.

A license is active on a day when it was issued on or before that day, has not expired before it, and a person
has not set it aside: ``pending`` (applied for, not granted) and ``revoked`` never count; ``expired`` (the status
the credentialing workflow writes when a license lapses unrenewed) still counts for a day inside its dates, so a
question about a past visit gets the answer of that day.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# ``credentials.status`` values a license may have on a day it was valid.
_VALID_STATUSES = frozenset({"active", "expired"})

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split()
)


@dataclass(frozen=True)
class License:
    """One state license as the rule needs it (a ``credentials`` row of kind ``state_license``)."""

    state: str  # two-letter USPS code
    status: str  # active, expired, pending, revoked
    issued_on: date
    expires_on: date | None = None
    credential_id: str = ""

    def active_on(self, day: date) -> bool:
        return (
            self.status in _VALID_STATUSES
            and self.issued_on <= day
            and (self.expires_on is None or day <= self.expires_on)
        )


def normalize_state(state: str) -> str:
    """``" or "`` -> ``"OR"``; anything that is not a USPS state or territory code -> ``""``."""
    code = state.strip().upper()
    return code if code in US_STATES else ""


def licensed_in(licenses: Iterable[License], state: str, day: date) -> bool:
    """True when one of ``licenses`` is a license of ``state`` that is active on ``day``."""
    wanted = normalize_state(state)
    return bool(wanted) and any(lic.state == wanted and lic.active_on(day) for lic in licenses)


def license_states(licenses: Iterable[License], day: date) -> list[str]:
    """The states in which the licenses allow practice on ``day``, sorted (for a coordinator's reassignment)."""
    return sorted({lic.state for lic in licenses if lic.state and lic.active_on(day)})


def state_of_issuer(issuer: str) -> str:
    """The state a license's issuer names first (``"OR Medical Board"`` -> ``"OR"``), or ``""``.

    Only for reading rows written before licenses carried their state (the migration that added the column)."""
    first = issuer.strip().split(" ", 1)[0] if issuer.strip() else ""
    return normalize_state(first) if len(first) == 2 else ""


__all__ = ["US_STATES", "License", "license_states", "licensed_in", "normalize_state", "state_of_issuer"]
