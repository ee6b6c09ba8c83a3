"""Checklist sections A and B: topics, headers, formatting, ids (items 2, 3, 8, 9, 11, 12,
14, 15, 16)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from controller.vda5050.actions import ActionParameter, ActionSpec
from controller.vda5050.errors import InvalidId, InvalidTopicLevel
from controller.vda5050.events import OrderRefused, Publish
from controller.vda5050.headers import (
    PUBLISHED_TOPICS,
    SUBSCRIBED_TOPICS,
    AgvAddress,
    ProtocolVersion,
    Topic,
    parse_timestamp,
    utc_timestamp,
)
from controller.vda5050.ids import check_id, uuid_ids
from controller.vda5050.master import AgvMaster
from controller.vda5050.order_builder import NodeSpec
from tests.unit.vda5050.samples import (
    ADDRESS,
    MAP,
    NOW,
    ROUTE,
    factsheet,
    later,
    of_type,
    online_master,
    order_state,
    published,
)
from tests.vda5050_schemas import raw_validator


def test_mc_02_order_and_instant_actions_topics_and_the_subscriptions() -> None:
    assert ADDRESS.topic(Topic.ORDER) == "uagv/v2/acme/agv-001/order"
    assert ADDRESS.topic(Topic.INSTANT_ACTIONS) == "uagv/v2/acme/agv-001/instantActions"
    assert set(PUBLISHED_TOPICS) == {Topic.ORDER, Topic.INSTANT_ACTIONS}
    assert set(SUBSCRIBED_TOPICS) == {Topic.STATE, Topic.CONNECTION, Topic.FACTSHEET}
    custom = AgvAddress("acme", "agv-001", interface_name="plant7")
    assert custom.topic(Topic.STATE) == "plant7/v2/acme/agv-001/state"
    mc = online_master()
    out = mc.send_order("o-1", ROUTE, released=3, now=later(1))
    assert [(p.topic_name) for p in out if isinstance(p, Publish)] == ["uagv/v2/acme/agv-001/order"]


@pytest.mark.parametrize(
    ("manufacturer", "serial", "interface"),
    [
        ("acme", "agv/001", "uagv"),
        ("acme", "agv+1", "uagv"),
        ("acme", "agv#1", "uagv"),
        ("acme", "$agv", "uagv"),
        ("acme", "agv 001", "uagv"),  # not in ^[A-Za-z0-9_.:-]+$
        ("acme", "", "uagv"),
        ("ac/me", "agv-001", "uagv"),
        ("acme", "agv-001", "u#agv"),
    ],
)
def test_mc_03_topic_levels_refuse_separators_wildcards_and_bad_serials(
    manufacturer: str, serial: str, interface: str
) -> None:
    with pytest.raises(InvalidTopicLevel):
        AgvAddress(manufacturer, serial, interface_name=interface)


def test_mc_08_every_outgoing_message_has_the_five_header_fields() -> None:
    mc = online_master()
    out = mc.send_order("o-1", ROUTE, released=3, now=later(1))
    out += mc.cancel_order(later(2))
    messages = published(out)
    assert {m.get("actions") is None for m in messages} == {True, False}  # order + instant
    for message in messages:
        assert {"headerId", "timestamp", "version", "manufacturer", "serialNumber"} <= set(message)
        assert (message["manufacturer"], message["serialNumber"]) == ("acme", "agv-001")


def test_mc_09_header_ids_count_per_agv_per_topic() -> None:
    one = online_master()  # its stateRequest on ONLINE used instantActions headerId 0
    other = AgvMaster(AgvAddress("acme", "agv-002"))
    first = published(one.send_order("o-1", ROUTE, released=4, now=later(1)), Topic.ORDER)[0]
    one.on_state(order_state(first, 2, later(2)), later(2))
    one.cancel_order(later(3))
    assert first["headerId"] == 0
    resent = published(one.tick(later(60)), Topic.INSTANT_ACTIONS)  # cancelOrder not echoed
    assert [m["headerId"] for m in resent] == [2]  # instantActions: 0, 1, 2 — its own counter
    assert other.headers.header(Topic.ORDER, NOW)["headerId"] == 0  # per AGV
    # The counters can be persisted and continued consistently after a restart.
    restarted = AgvMaster(ADDRESS, header_ids=one.header_ids)
    assert restarted.headers.header(Topic.ORDER, NOW)["headerId"] == 1
    assert restarted.headers.header(Topic.INSTANT_ACTIONS, NOW)["headerId"] == 3


def test_mc_11_timestamps_are_utc_with_fraction_and_z_and_rfc3339_is_parsed() -> None:
    cet = timezone(timedelta(hours=1))
    assert utc_timestamp(datetime(2026, 11, 22, 10, 15, 3, 120000, tzinfo=cet)) == (
        "2026-11-22T09:15:03.12Z"
    )
    assert utc_timestamp(datetime(2026, 11, 22, 9, 15, 3, tzinfo=UTC)) == (
        "2026-11-22T09:15:03.00Z"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ", utc_timestamp(NOW))
    with pytest.raises(ValueError, match="aware"):
        utc_timestamp(datetime(2026, 11, 22, 9, 15, 3))
    expected = datetime(2026, 11, 22, 9, 15, 3, 100000, tzinfo=UTC)
    for text in (
        "2026-11-22T09:15:03.1Z",
        "2026-11-22t10:15:03.100+01:00",
        "2026-11-22T09:15:03.100000z",
    ):
        assert parse_timestamp(text) == expected


def test_mc_12_version_is_the_full_protocol_version_per_agv_with_matching_major() -> None:
    old = AgvMaster(AgvAddress("acme", "agv-900", ProtocolVersion.V2_0))
    header = old.headers.header(Topic.ORDER, NOW)
    assert header["version"] == "2.0.0"
    assert old.address.topic(Topic.ORDER) == "uagv/v2/acme/agv-900/order"
    assert ADDRESS.version.value == "2.1.0"
    assert (
        published(online_master().send_order("o-1", ROUTE, released=3, now=later(1)))[0]["version"]
        == "2.1.0"
    )


def test_mc_14_json_is_utf8_camel_case_with_upper_enums_and_no_nan() -> None:
    mc = online_master()
    out = mc.send_order("o-1", ROUTE, released=3, now=later(1)) + mc.cancel_order(later(2))
    payloads = [p.payload() for p in out if isinstance(p, Publish)]
    assert len(payloads) == 2

    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    for payload in payloads:
        message = json.loads(payload.decode("utf-8"))
        assert all(re.fullmatch(r"[a-z][A-Za-z]*", k) for k in keys(message))
        actions = [a for n in message.get("nodes", []) for a in n["actions"]]
        actions += message.get("actions", [])
        assert all(a["blockingType"] in {"NONE", "SOFT", "HARD"} for a in actions)
        assert all(isinstance(n["released"], bool) for n in message.get("nodes", []))
    with pytest.raises(ValueError, match="nan"):
        ActionSpec("pick", parameters=(ActionParameter("height", math.nan),))
    bad = (NodeSpec("N-PARK-03", math.inf, 1.0, MAP),)
    refused = of_type(mc.send_order("o-2", bad, released=1, now=later(3)), OrderRefused)
    assert refused  # nothing non-finite reaches the wire


def test_mc_15_ids_use_only_the_allowed_alphabet_within_the_factsheet_limits() -> None:
    assert check_id("N-RACK_07.12:a") == "N-RACK_07.12:a"
    for bad in ("N 1", "N/1", "Ä1", "", "n#1"):
        with pytest.raises(InvalidId):
            check_id(bad)
    with pytest.raises(InvalidId, match="idLen"):
        check_id("abcdef", max_len=5)
    with pytest.raises(InvalidId, match="numerical"):
        check_id("a1", numerical_only=True)
    assert check_id(uuid_ids()())  # the default actionIds are valid ids
    mc = online_master(sheet=factsheet(max_string_lens={"idLen": 12}))
    refused = of_type(
        mc.send_order("order-with-a-long-id", ROUTE, released=3, now=later(1)), OrderRefused
    )
    assert refused
    assert "idLen" in refused[0].reason
    bad_node = (NodeSpec("N PARK", 2.0, 1.0, MAP),)
    assert of_type(mc.send_order("o-1", bad_node, released=1, now=later(2)), OrderRefused)


def test_mc_16_every_built_message_validates_against_the_strict_2_1_0_schema() -> None:
    mc = online_master()
    out = mc.send_order("o-1", ROUTE, released=3, now=later(1))
    order = published(out, Topic.ORDER)[0]  # `published` asserts the strict validator
    mc.on_state(order_state(order, 2, later(2)), later(2))
    rack_on = (ROUTE[2], ROUTE[3])
    update = published(mc.extend_order(rack_on, released=2, now=later(3)), Topic.ORDER)
    instant = published(mc.cancel_order(later(4)), Topic.INSTANT_ACTIONS)
    assert len(update) == len(instant) == 1
    # The strict validator catches what the published schema lets through (upstream #174).
    assert raw_validator("order").is_valid(order | {"informations": []})
    from tests.vda5050_schemas import problems

    assert problems("order", order | {"informations": []})
