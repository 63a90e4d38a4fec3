"""The VENDTRACK_PROCUREMENT_SEND_* variables: the e-mail retry policy, parsed at start (a bad value stops it).

Kept free of heavy imports: `procurement.plugin` declares these in `core.settings.EXTRA_VARIABLES` when it is
imported, before the settings are loaded; `transmit.RetryPolicy.from_settings` reads the parsed values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.settings import PREFIX, SettingsError

MAX_ATTEMPTS = "procurement_send_max_attempts"
BACKOFF_S = "procurement_send_backoff_s"
CLAIM_TIMEOUT_S = "procurement_send_claim_timeout_s"
PUBLIC_URL = "procurement_public_url"  # the base URL suppliers reach (signed links in the PO e-mail)

MAX_BACKOFF_S = 3600.0  # the wait between attempts never exceeds RetryPolicy.max_delay (1 hour)
MIN_CLAIM_TIMEOUT_S = 60.0  # well above the 20 s SMTP timeout, so a live sender is never taken over


@dataclass(frozen=True, slots=True)
class SendRetryValues:
    max_attempts: int = 8
    backoff_s: float = 60.0
    claim_timeout_s: float = 600.0


def _max_attempts(name: str, raw: str) -> str:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not valid: use a whole number from 1 to 100 (attempts, e.g. 8)")
    return str(int(text))


def _seconds(low: float, high: float, low_inclusive: bool, why: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value >= low if low_inclusive else value > low) and value <= high
        if not ok:
            bound = f"from {low:g}" if low_inclusive else f"above {low:g}"
            raise SettingsError(f"{PREFIX}{name}={raw!r} is not valid: use seconds {bound} to {high:g} ({why})")
        return repr(value)

    return parse


def _public_url(name: str, raw: str) -> str:
    text = raw.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or len(text) > 300 or any(c.isspace() for c in text):
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not valid: use the https URL suppliers reach, "
                            "e.g. https://buy.example.com")  # fmt: skip
    return text


PARSERS: dict[str, Callable[[str, str], str]] = {
    MAX_ATTEMPTS: _max_attempts,
    PUBLIC_URL: _public_url,
    BACKOFF_S: _seconds(0, MAX_BACKOFF_S, False, "the wait after the first failed attempt; it doubles each time"),
    CLAIM_TIMEOUT_S: _seconds(
        MIN_CLAIM_TIMEOUT_S, 86400, True, "after this a send still marked 'sending' is taken over by the worker"
    ),
}


def retry_values(extra: Mapping[str, str]) -> SendRetryValues:
    """The retry values from `Settings.extra` (already validated at start), defaults for those not set."""
    default = SendRetryValues()
    return SendRetryValues(
        max_attempts=int(extra.get(MAX_ATTEMPTS, default.max_attempts)),
        backoff_s=float(extra.get(BACKOFF_S, default.backoff_s)),
        claim_timeout_s=float(extra.get(CLAIM_TIMEOUT_S, default.claim_timeout_s)),
    )
