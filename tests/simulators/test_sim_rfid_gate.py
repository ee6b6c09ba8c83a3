"""Reader reports: vendor formats and batching, every read reported exactly once."""

from __future__ import annotations

import base64
import json
import random
import re
from datetime import UTC, datetime, timedelta

from simulators.rfid_gate.model import ReaderModel, TagRead, pass_reads

EPC = "3034257BF7194E4000001A85"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def utc_at(sim: float) -> datetime:
    return T0 + timedelta(seconds=sim / 10)


def decode(payload: bytes) -> list[dict]:
    text = payload.decode()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def reports(fmt: str, reads: list[TagRead], seed: int = 5) -> tuple[list[bytes], set[str]]:
    reader = ReaderModel(reader_id="pack-1", fmt=fmt, rng=random.Random(seed))
    reader.add(reads)
    payloads, styles = [], set()
    while (due := reader.next_due()) is not None:
        for report in reader.advance(due):
            styles.add(report.style)
            payloads += reader.encode(report, utc_at)
    return payloads, styles


def test_zebra_objects_carry_hex_epc_dbm_rssi_and_an_event_counter():
    reads = [TagRead(EPC, -48, 1, 0.5), TagRead(EPC, -52, 2, 0.55)]
    payloads, _ = reports("zebra", reads)
    objects = [o for p in payloads for o in decode(p)]
    assert [o["data"]["idHex"] for o in objects] == [EPC.lower()] * 2
    assert [o["data"]["peakRssi"] for o in objects] == [-48, -52]
    assert [o["data"]["eventNum"] for o in objects] == [1, 2]
    assert objects[0]["type"] == "SIMPLE"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", objects[0]["timestamp"])


def test_impinj_objects_carry_url_safe_base64_epc_and_centi_dbm():
    payloads, _ = reports("impinj", [TagRead("3114257BF4499602D2000000", -47, 1, 0.0)])
    [obj] = [o for p in payloads for o in decode(p)]
    assert obj["eventType"] == "tagInventory"
    event = obj["tagInventoryEvent"]
    assert event["epc"] == "MRQle_RJlgLSAAAA"  # V9 as Impinj sends it
    assert base64.urlsafe_b64decode(event["epc"] + "==").hex().upper() == "3114257BF4499602D2000000"
    assert event["peakRssiCdbm"] == -4700
    assert obj["timestamp"].endswith("Z")


def test_reports_batch_as_objects_arrays_and_ndjson_and_lose_nothing():
    rng = random.Random(1)
    epcs = [f"3034257BF7194E40000{n:05X}" for n in range(12)]
    reads = pass_reads(rng, epcs, start=0.0, span_s=3.0)
    payloads, styles = reports("zebra", reads)
    assert styles == {"object", "array", "ndjson"}
    reported = [o["data"]["idHex"].upper() for p in payloads for o in decode(p)]
    assert sorted(reported) == sorted(r.epc for r in reads)


def test_pass_reads_reads_each_tag_three_to_eight_times_around_minus_45_dbm():
    rng = random.Random(2)
    epcs = [f"EPC{n}" for n in range(50)]
    reads = pass_reads(rng, epcs, start=5.0, span_s=1.0)
    for epc in epcs:
        assert 3 <= sum(r.epc == epc for r in reads) <= 8
    assert all(-53 <= r.rssi_dbm <= -37 and 5.0 <= r.at <= 6.0 for r in reads)
    assert reads == sorted(reads, key=lambda r: r.at)
