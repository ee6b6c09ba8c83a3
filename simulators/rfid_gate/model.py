"""What an RFID gate reads and how its reader reports it, as pure functions and a model.

A tag in the field is read several times with varying RSSI; tags in totes standing nearby
are sometimes read weakly. The reader reports in its vendor's JSON (`zebra` or `impinj`,
see docs/protocols.md) and, like real readers, sometimes one object per message,
sometimes a JSON array, sometimes newline-delimited objects.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.common.clock import impinj_timestamp, zebra_timestamp
from simulators.common.epc import epc_base64url

STRONG_RSSI_DBM = -45.0
STRONG_RSSI_SPREAD_DB = 8.0
STRAY_RSSI_DBM = (-86.0, -76.0)  # always below any sensible min_rssi_dbm (the demo's: -65/-70)
REPORT_DELAY_S = 0.2  # sim seconds a reader gathers reads before it reports them
STYLES = ("object", "array", "ndjson")
STYLE_WEIGHTS = (0.5, 0.25, 0.25)


@dataclass(frozen=True)
class TagRead:
    epc: str  # upper-case hex
    rssi_dbm: float
    antenna: int
    at: float  # sim seconds


@dataclass(frozen=True)
class Report:
    style: str  # object | array | ndjson
    reads: tuple[TagRead, ...]


def pass_reads(
    rng: random.Random,
    epcs: Iterable[str],
    *,
    start: float,
    span_s: float = 1.0,
    reads_per_tag: tuple[int, int] = (3, 8),
    rssi_dbm: float = STRONG_RSSI_DBM,
    spread_db: float = STRONG_RSSI_SPREAD_DB,
    antennas: tuple[int, ...] = (1, 2),
) -> list[TagRead]:
    """Tags carried through the gate: each read `reads_per_tag` times over `span_s`."""
    reads = []
    for epc in epcs:
        for _ in range(rng.randint(*reads_per_tag)):
            reads.append(
                TagRead(
                    epc=epc,
                    rssi_dbm=round(rssi_dbm + rng.uniform(-spread_db, spread_db)),
                    antenna=rng.choice(antennas),
                    at=start + rng.uniform(0.0, span_s),
                )
            )
    reads.sort(key=lambda r: r.at)
    return reads


def stray_reads(
    rng: random.Random,
    nearby_epcs: list[str],
    *,
    start: float,
    span_s: float = 1.0,
    count: tuple[int, int] = (1, 4),
    antennas: tuple[int, ...] = (1, 2),
) -> list[TagRead]:
    """A few weak reads of tags standing near the gate (items in totes at the station)."""
    if not nearby_epcs:
        return []
    return sorted(
        (
            TagRead(
                epc=rng.choice(nearby_epcs),
                rssi_dbm=round(rng.uniform(*STRAY_RSSI_DBM)),
                antenna=rng.choice(antennas),
                at=start + rng.uniform(0.0, span_s),
            )
            for _ in range(rng.randint(*count))
        ),
        key=lambda r: r.at,
    )


class ReaderModel:
    """A reader's reporting: it buffers reads and reports them in batches."""

    def __init__(self, *, reader_id: str, fmt: str, rng: random.Random) -> None:
        if fmt not in ("zebra", "impinj"):
            raise ValueError(f"unknown reader format {fmt!r}")
        self.reader_id = reader_id
        self.fmt = fmt
        self.hostname = f"impinj-{reader_id}" if fmt == "impinj" else reader_id
        self._rng = rng
        self._pending: list[TagRead] = []
        self._event_num = 0

    def add(self, reads: Iterable[TagRead]) -> None:
        self._pending.extend(reads)
        self._pending.sort(key=lambda r: r.at)

    def next_due(self) -> float | None:
        return self._pending[0].at + REPORT_DELAY_S if self._pending else None

    def advance(self, now: float) -> list[Report]:
        reports = []
        while self._pending and self._pending[0].at + REPORT_DELAY_S <= now:
            cutoff = self._pending[0].at + REPORT_DELAY_S
            batch = [r for r in self._pending if r.at <= cutoff]
            self._pending = self._pending[len(batch) :]
            style = self._rng.choices(STYLES, STYLE_WEIGHTS)[0]
            reports.append(Report(style, tuple(batch)))
        return reports

    def encode(self, report: Report, utc_at: Callable[[float], datetime]) -> list[bytes]:
        """The MQTT payloads of one report."""
        objects = [self._object(read, utc_at(read.at)) for read in report.reads]
        if report.style == "array":
            return [json.dumps(objects, separators=(",", ":")).encode()]
        if report.style == "ndjson":
            return ["\n".join(json.dumps(o, separators=(",", ":")) for o in objects).encode()]
        return [json.dumps(o, separators=(",", ":")).encode() for o in objects]

    def _object(self, read: TagRead, moment: datetime) -> dict[str, Any]:
        if self.fmt == "zebra":
            self._event_num += 1
            return {
                "type": "SIMPLE",
                "timestamp": zebra_timestamp(moment),
                "data": {
                    "idHex": read.epc.lower(),
                    "antenna": read.antenna,
                    "peakRssi": int(read.rssi_dbm),
                    "reads": 1,
                    "eventNum": self._event_num,
                    "format": "epc",
                },
            }
        return {
            "timestamp": impinj_timestamp(moment),
            "hostname": self.hostname,
            "eventType": "tagInventory",
            "tagInventoryEvent": {
                "epc": epc_base64url(read.epc),
                "antennaPort": read.antenna,
                "peakRssiCdbm": round(read.rssi_dbm * 100),
            },
        }
