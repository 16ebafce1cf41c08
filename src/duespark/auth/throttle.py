"""Login throttling rules, as pure functions of past failures and ``now``.

After ``ACCOUNT_LIMIT`` failures for one address within ``WINDOW``, further attempts are
refused (even with the right password) until the oldest of those failures leaves the
window. A looser per-network-address limit slows one machine trying many accounts.
Refused attempts are not recorded, so a lockout ends on time instead of extending itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 30


def seconds_locked(failures: Sequence[datetime], *, limit: int, now: datetime) -> int | None:
    """Seconds until another attempt is allowed, or None when attempts are allowed now."""
    recent = sorted(moment for moment in failures if moment > now - WINDOW)
    if len(recent) < limit:
        return None
    unlock_at = recent[-limit] + WINDOW
    return max(1, math.ceil((unlock_at - now).total_seconds()))
