"""Which delay tier a message waits in: the largest not longer than what remains, so tiers stay in due order."""

from __future__ import annotations

from streams.topics import DELAY_TIERS


def tier_for(remaining_seconds: float) -> int:
    fitting = [t for t in DELAY_TIERS if t <= remaining_seconds]
    return fitting[-1] if fitting else DELAY_TIERS[0]
