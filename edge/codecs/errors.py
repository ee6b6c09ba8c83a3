"""The one error a codec raises for a payload it cannot accept."""

from __future__ import annotations


class PayloadError(ValueError):
    """A device payload is malformed; `reason` says what is wrong (counted and dropped)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
