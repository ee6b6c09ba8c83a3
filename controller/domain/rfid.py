"""Judging a closed carton by the RFID reads of its pack-station gate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    PENDING = "pending"
    MATCH = "match"
    MISMATCH = "mismatch"


@dataclass
class CartonCheck:
    """Expected GTIN counts of one carton against the distinct items its gate has read.

    A tag is counted once however often it is read. The carton matches as soon as the
    counts are equal; when the window closes without that, it is a mismatch.
    """

    order_id: str
    station_id: str
    expected: Counter[str]
    deadline: datetime
    seen: dict[str, str] = field(default_factory=dict)  # epc hex -> gtin

    def add(self, epc_hex: str, gtin: str) -> Verdict:
        self.seen.setdefault(epc_hex, gtin)
        return Verdict.MATCH if self.counts() == self.expected else Verdict.PENDING

    def wants(self, gtin: str) -> bool:
        """Whether this carton still misses an item of `gtin`."""
        return self.counts()[gtin] < self.expected[gtin]

    def counts(self) -> Counter[str]:
        return Counter(self.seen.values())

    def judge_at(self, now: datetime) -> Verdict:
        if self.counts() == self.expected:
            return Verdict.MATCH
        return Verdict.MISMATCH if now >= self.deadline else Verdict.PENDING

    def difference(self) -> dict[str, dict[str, int]]:
        """What is missing and what is extra, by GTIN."""
        seen = self.counts()
        return {
            "missing": dict(self.expected - seen),
            "extra": dict(seen - self.expected),
        }
