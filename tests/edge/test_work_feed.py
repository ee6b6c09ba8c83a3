"""The work feed against a fake central API: an item that cannot be read or that the site
refuses is skipped, counted and passed by the cursor, and an answer that is not a work page
is retried; neither stops the feed nor the edge."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.runtime import WORK_CURSOR_KEY, EdgeRuntime
from edge.settings import CentralSettings, EdgeSettings
from tests.conftest import Broker
from tests.edge.conftest import edge_settings, fake_central, forget_session, running_edge, until

pytestmark = pytest.mark.mqtt

POLL_S = 0.02


def released(seq: int, order: object) -> dict[str, Any]:
    return {"seq": seq, "type": "order.released", "order": order}


def order(order_id: str, tote_id: str = "TOTE-0001", bin_id: str = "A1-01") -> dict[str, Any]:
    line = {
        "line_id": "10",
        "sku": "SKU-0001",
        "gtin": "00614141001002",
        "qty": 1,
        "allocations": [{"bin": bin_id, "tote_id": tote_id, "qty": 1}],
    }
    return {"order_id": order_id, "priority": 5, "carrier": "DHL", "lines": [line]}


GOOD = order("SO-GOOD")
MALFORMED = {"order_id": "SO-BROKEN", "lines": [{"line_id": "10", "qty": "two"}]}
ELSEWHERE = order("SO-ELSEWHERE", tote_id="TOTE-9999", bin_id="Z9-99")  # not on this site


class FakeFeed:
    """The central API's work feed: serves `answers` in turn, then empty pages; takes events."""

    def __init__(self, *answers: httpx.Response | dict[str, Any]) -> None:
        self.answers = list(answers)
        self.asked: list[int] = []  # the `after` of every work request
        self.events: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            events = json.loads(request.content)["events"]
            self.events += events
            results = [{"event_id": e["event_id"], "status": "accepted"} for e in events]
            return httpx.Response(200, json={"results": results})
        after = int(request.url.params["after"])
        self.asked.append(after)
        answer = self.answers.pop(0) if self.answers else {"items": [], "next_after": after}
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)


def skipped(runtime: EdgeRuntime, reason: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "warehouse_edge_work_skipped_total", {"reason": reason}
    )
    return value or 0.0


def loop_errors(runtime: EdgeRuntime, loop: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "warehouse_edge_loop_errors_total", {"loop": loop}
    )
    return value or 0.0


@pytest.fixture
def settings(mqtt_broker: Broker, site_config: Path, tmp_path: Path) -> EdgeSettings:
    return edge_settings(
        mqtt_broker,
        site_config,
        tmp_path,
        central=CentralSettings(url="http://central.test", poll_interval_s=POLL_S),
    )


async def test_broken_and_refused_work_items_are_skipped_and_the_cursor_moves_past_them(
    settings: EdgeSettings, mqtt_broker: Broker
) -> None:
    feed = FakeFeed(
        {
            "items": [released(1, MALFORMED), released(2, ELSEWHERE), released(3, GOOD)],
            "next_after": 3,
        }
    )
    async with running_edge(settings, lambda rt: fake_central(rt, feed)) as edge:
        runtime = edge.runtime
        await until(lambda: "SO-GOOD" in runtime.controller.orders, "the good order released")
        await until(lambda: 3 in feed.asked, "the feed asked past the broken items")
        assert await runtime.outbox.get(WORK_CURSOR_KEY) == "3"
        assert (skipped(runtime, "malformed"), skipped(runtime, "refused")) == (1, 1)
        assert set(runtime.controller.orders) == {"SO-GOOD"}
        assert loop_errors(runtime, "work feed") == 0

    restarted = FakeFeed()  # the broken items are not asked for again after a restart
    async with running_edge(settings, lambda rt: fake_central(rt, restarted)):
        await until(lambda: bool(restarted.asked), "the restarted feed's first request")
        assert restarted.asked[0] == 3
    await forget_session(mqtt_broker, edge.client_id)


async def test_broken_cancels_and_put_backs_are_skipped_like_any_broken_item(
    settings: EdgeSettings, mqtt_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="edge.runtime")
    items = [
        {"seq": 1, "type": "order.cancel"},  # no order_id
        {"seq": 2, "type": "putback.requested", "putback": {"putback_id": "PB-1", "lines": "x"}},
        released(3, {**GOOD, "version": "two"}),
        released(4, GOOD),
        {"seq": 5, "type": "order.cancel", "order_id": "SO-GOOD"},
    ]
    feed = FakeFeed({"items": items, "next_after": 5})
    async with running_edge(settings, lambda rt: fake_central(rt, feed)) as edge:
        runtime = edge.runtime
        await until(lambda: 5 in feed.asked, "the feed asked past every item")
        await until(
            lambda: (
                [e["order_id"] for e in feed.events if e["type"] == "order.cancelled"]
                == ["SO-GOOD"]
            ),
            "SO-GOOD reported cancelled",
        )
        assert skipped(runtime, "malformed") == 3
        assert loop_errors(runtime, "work feed") == 0
    skips = [r for r in caplog.records if "skipped a work feed item" in r.getMessage()]
    assert len(skips) == 3  # one line per item
    await forget_session(mqtt_broker, edge.client_id)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "a", "page"]),
        httpx.Response(200, json={"items": "none", "next_after": 0}),
    ],
    ids=["not-json", "not-an-object", "not-a-page"],
)
async def test_an_answer_that_is_not_a_work_page_is_retried(
    settings: EdgeSettings, mqtt_broker: Broker, answer: httpx.Response
) -> None:
    feed = FakeFeed(answer, {"items": [released(1, GOOD)], "next_after": 1})
    async with running_edge(settings, lambda rt: fake_central(rt, feed)) as edge:
        runtime = edge.runtime
        await until(lambda: "SO-GOOD" in runtime.controller.orders, "the good order released")
        assert feed.asked[:2] == [0, 0]
        assert loop_errors(runtime, "work feed") == 0
    await forget_session(mqtt_broker, edge.client_id)


async def test_an_unexpected_error_in_the_work_feed_is_counted_and_the_feed_carries_on(
    settings: EdgeSettings, mqtt_broker: Broker
) -> None:
    calls = 0
    good_page = FakeFeed({"items": [released(1, GOOD)], "next_after": 1})

    def failing_once(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug of ours")
        return good_page(request)

    async with running_edge(settings, lambda rt: fake_central(rt, failing_once)) as edge:
        runtime = edge.runtime
        await until(lambda: "SO-GOOD" in runtime.controller.orders, "the good order released")
        assert loop_errors(runtime, "work feed") == 1
    await forget_session(mqtt_broker, edge.client_id)
