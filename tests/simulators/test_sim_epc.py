"""EPC encoders against the GS1 vectors in shared/reference/epc_test_vectors.md."""

from __future__ import annotations

import pytest

from simulators.common.config import SiteConfig
from simulators.common.epc import (
    EpcEncodingError,
    epc_base64url,
    gs1_check_digit,
    make_sscc,
    sgtin96,
    sscc96,
)
from simulators.common.world import World


@pytest.mark.parametrize(
    ("vector", "gtin", "prefix_len", "serial", "filter_value", "hex_epc"),
    [
        ("V1", "80614141123458", 7, 6789, 3, "3074257BF7194E4000001A85"),
        ("V2", "80614141123458", 7, 6789, 1, "3034257BF7194E4000001A85"),
        ("V3", "80614141123458", 7, 12345, 1, "3034257BF7194E4000003039"),
        ("V4", "85071219236581", 11, 0, 6, "30C579D5D4ADB60000000000"),
        ("V5", "08719139005740", 7, 340548, 1, "3036142C8C008F8000053244"),
        ("V6", "00052427185402", 7, 202524899560, 1, "303403332C121B2F276CB8E8"),
    ],
)
def test_sgtin96_matches_the_vectors(vector, gtin, prefix_len, serial, filter_value, hex_epc):
    assert sgtin96(gtin, prefix_len, serial, filter_value) == hex_epc, vector


@pytest.mark.parametrize(
    ("vector", "sscc", "prefix_len", "filter_value", "hex_epc"),
    [
        ("V9", "106141412345678908", 7, 0, "3114257BF4499602D2000000"),
        ("V10", "106141412345678908", 7, 2, "3154257BF4499602D2000000"),
        ("V11", "106141423456789018", 6, 2, "31583BF982DFDC1C35000000"),
        ("V12", "106141412345623458", 12, 0, "31003932449F003039000000"),
    ],
)
def test_sscc96_matches_the_vectors(vector, sscc, prefix_len, filter_value, hex_epc):
    assert sscc96(sscc, prefix_len, filter_value) == hex_epc, vector


def test_impinj_base64_matches_the_vectors():
    assert epc_base64url("3074257BF7194E4000001A85") == "MHQle_cZTkAAABqF"
    assert epc_base64url("3114257BF4499602D2000000") == "MRQle_RJlgLSAAAA"


@pytest.mark.parametrize(
    "call",
    [
        lambda: sgtin96("80614141123459", 7, 1),  # check digit
        lambda: sgtin96("80614141123458", 7, 1 << 38),  # serial beyond 38 bits
        lambda: sgtin96("80614141123458", 5, 1),  # no partition for 5 digits
        lambda: sgtin96("8061414112345", 7, 1),  # 13 digits
        lambda: sscc96("106141412345678909", 7),  # check digit
        lambda: sscc96("106141412345678908", 7, 8),  # filter
    ],
)
def test_bad_inputs_are_refused(call):
    with pytest.raises(EpcEncodingError):
        call()


def test_make_sscc_builds_the_check_digit():
    assert make_sscc(1, "0614141", 234567890) == "106141412345678908"
    assert gs1_check_digit("0871913900574") == 0


def test_every_item_in_the_world_has_a_unique_sgtin96_of_its_sku(demo_site: SiteConfig):
    world = World.from_site(demo_site)
    items = [item for tote in world.totes.values() for item in tote.items]
    assert len(items) == sum(b.qty for s in demo_site.skus for b in s.bins)
    assert len({i.epc for i in items}) == len(items)
    tote = world.totes["TOTE-0002"]  # the second tote of SKU-0001: serials continue
    assert tote.items[0].epc == sgtin96("00614141001002", 7, 41, filter_value=1)
    assert all(i.epc.startswith("30") and i.gtin == tote.gtin for i in tote.items)
