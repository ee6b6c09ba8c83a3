"""Reading the work feed's items (docs/protocols.md, "Work feed") and the station's new
messages: the documented shapes become the controller's types; anything else is refused at
the boundary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from controller.domain.messages import PutBackLine, StationCancel, StationPutBack
from edge.central import MalformedWork, cancelled_order_id, putback_request, released_order
from edge.codecs import station
from edge.codecs.errors import PayloadError


def order(**changes: Any) -> dict[str, Any]:
    line = {
        "line_id": "10",
        "sku": "SKU-0001",
        "gtin": "00614141001002",
        "qty": 1,
        "allocations": [{"bin": "A1-01", "tote_id": "TOTE-0001", "qty": 1}],
    }
    return {"order_id": "SO-1", "priority": 5, "carrier": "DHL", "lines": [line], **changes}


def putback(**changes: Any) -> dict[str, Any]:
    line = {
        "line_id": "10",
        "sku": "SKU-0001",
        "gtin": "00614141001002",
        "bin": "A1-01",
        "tote_id": "TOTE-0001",
        "qty": 2,
    }
    return {"putback_id": "PB-1", "order_id": "SO-1", "lines": [line], **changes}


def test_an_order_without_a_version_is_version_1() -> None:
    assert released_order(order()).version == 1
    assert released_order(order(version=None)).version == 1
    assert released_order(order(version=3)).version == 3


@pytest.mark.parametrize("version", [0, -1, "2", 2.0, True])
def test_an_order_with_a_version_that_is_not_a_positive_integer_is_malformed(
    version: object,
) -> None:
    with pytest.raises(MalformedWork, match="version"):
        released_order(order(version=version))


def test_a_cancel_names_its_order() -> None:
    assert cancelled_order_id({"seq": 4, "type": "order.cancel", "order_id": "SO-1"}) == "SO-1"


@pytest.mark.parametrize("item", [{}, {"order_id": ""}, {"order_id": 7}, [], "SO-1"])
def test_a_cancel_without_an_order_id_is_malformed(item: object) -> None:
    with pytest.raises(MalformedWork):
        cancelled_order_id(item)


def test_a_put_back_becomes_the_controllers_request() -> None:
    request = putback_request(putback())
    assert (request.putback_id, request.order_id) == ("PB-1", "SO-1")
    assert request.lines == (
        PutBackLine("10", "SKU-0001", "00614141001002", "A1-01", "TOTE-0001", 2),
    )


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        putback(putback_id=None),
        putback(order_id=""),
        putback(lines=[]),
        putback(lines="10"),
        putback(lines=[{"line_id": "10", "sku": "SKU-0001", "qty": 2}]),
        putback(lines=[{**putback()["lines"][0], "qty": "2"}]),
    ],
    ids=[
        "null",
        "not-an-object",
        "no-id",
        "empty-order",
        "no-lines",
        "lines-not-a-list",
        "line-without-tote",
        "qty-as-text",
    ],
)
def test_a_put_back_without_the_documented_shape_is_malformed(body: object) -> None:
    with pytest.raises(MalformedWork):
        putback_request(body)


NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_the_station_is_told_of_a_cancel_and_of_a_put_back() -> None:
    assert json.loads(station.encode_command(StationCancel("ST1", "SO-1"), NOW)) == {
        "command": "cancel",
        "orderId": "SO-1",
        "ts": "2026-11-22T10:00:00.000Z",
    }
    cmd = StationPutBack("ST1", "t-7", "PB-1", "SO-1", "10", "TOTE-0001", "SKU-0001", "0061", 2)
    assert json.loads(station.encode_command(cmd, NOW)) == {
        "command": "putBack",
        "taskId": "t-7",
        "putbackId": "PB-1",
        "orderId": "SO-1",
        "lineId": "10",
        "toteId": "TOTE-0001",
        "sku": "SKU-0001",
        "gtin": "0061",
        "qty": 2,
        "ts": "2026-11-22T10:00:00.000Z",
    }


def test_a_put_back_confirmation_is_read_and_a_broken_one_refused() -> None:
    payload = {"event": "putBack", "taskId": "t-7", "putbackId": "PB-1", "qty": 2, "x": 1}
    event = station.decode_event(json.dumps(payload).encode())
    assert isinstance(event, station.PutBackConfirmed)
    assert (event.taskId, event.qty) == ("t-7", 2)
    for broken in ({**payload, "qty": -1}, {**payload, "taskId": ""}, {"event": "putBack"}):
        with pytest.raises(PayloadError):
            station.decode_event(json.dumps(broken).encode())
