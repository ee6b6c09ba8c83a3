"""Every state, connection and factsheet the AGV sends validates against the official
VDA 5050 2.1.0 schemas, with format checking on and no keys the schema does not know."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from simulators.agv.model import AgvModel
from simulators.common.clock import vda_timestamp
from tests.simulators.sim_testing import (
    action,
    assert_valid,
    instant,
    order,
    unknown_keys,
    validator,
)
from tests.vda5050_schemas import raw_schema

TIMESTAMP_2X = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ$")  # VDA 5050 2.x: ss.ffZ


def ts() -> str:
    return vda_timestamp(datetime.now(UTC))


def states_through_a_transport(agv: AgvModel) -> list[dict[str, Any]]:
    """States from every phase: idle, driving, acting, loaded, failed, rejected, cancelled."""
    out = [agv.state(0.0, 0, ts())]
    agv.receive_order(
        order(
            ["F06", "A1-01", "F06"],
            actions={
                1: [action("pick-1", "pick", "TOTE-0001")],
                2: [action("drop-1", "drop", "TOTE-0001")],
            },
        ),
        0.0,
    )
    now = 0.0
    while (due := agv.next_due()) is not None:
        now = due
        agv.advance(now)
        out.append(agv.state(now, len(out), ts()))
        out.append(agv.state(now + 0.3, len(out), ts()))  # mid-edge / mid-action
    agv.receive_order(order(["P1", "F00"], order_id="bad"), now)  # validationError
    agv.receive_instant_actions(instant(("c-1", "cancelOrder"), ("x-1", "dance")), now)
    out.append(agv.state(now, len(out), ts()))
    agv.receive_order(
        order(["F06", "A1-01"], order_id="o-3", actions={1: [action("p", "pick", "NOPE")]}), now
    )
    while (due := agv.next_due()) is not None:
        agv.advance(due)
    out.append(agv.state(due or now, len(out), ts()))
    return out


def test_every_state_validates_against_the_2_1_schema(make_agv: Callable):
    states = states_through_a_transport(make_agv("F06"))
    assert any(s["driving"] for s in states)
    assert any(s["loads"] for s in states)
    assert any(s["errors"] for s in states)
    statuses = {a["actionStatus"] for s in states for a in s["actionStates"]}
    assert statuses >= {"WAITING", "INITIALIZING", "RUNNING", "FINISHED", "FAILED"}
    for message in states:
        assert_valid("state", message)


@pytest.mark.parametrize("connection_state", ["ONLINE", "OFFLINE", "CONNECTIONBROKEN"])
def test_connection_messages_validate(make_agv: Callable, connection_state: str):
    assert_valid("connection", make_agv().connection(connection_state, 3, ts()))


def test_factsheet_validates(make_agv: Callable):
    assert_valid("factsheet", make_agv().factsheet(0, ts()))


@pytest.mark.parametrize(
    "bad", ["2026-13-40T25:61:00.00Z", "yesterday", "2026-11-22 09:15:03", "2026-11-22T09:15:03"]
)
def test_a_bad_timestamp_fails_so_the_format_checker_is_really_on(make_agv: Callable, bad: str):
    message = copy.deepcopy(make_agv().state(0.0, 0, ts()))
    message["timestamp"] = bad
    assert not validator("state").is_valid(message)
    message = make_agv().connection("ONLINE", 0, bad)
    assert not validator("connection").is_valid(message)


def test_the_unknown_key_check_catches_a_typo(make_agv: Callable):
    message = make_agv().state(0.0, 0, ts())
    message["informations"] = []
    assert validator("state").is_valid(message)  # the schema alone lets it through
    assert unknown_keys(message, raw_schema("state")) == ["$.informations"]
