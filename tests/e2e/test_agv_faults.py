"""AGV faults end to end on the real broker: the order still ships, or ends in a clear
exception, and nothing is lost or done twice (issue 4).

Each test runs the whole site in this process (tests/e2e/site_in_process.py), pushes one
order through the API as the ERP does, injects one fault into the AGV doing its fetch at
the moment the scenario names, and asserts the order's outcome through the API (order,
stock, ledger, fleet view), the VDA 5050 messages seen on the broker, and the edge's tasks.

The order is for SKU-0024, whose only bin A5-04 is far from the AGVs' parking places (about
33 sim seconds of driving), so there is time to strike before the pick; AGV-01, parked
nearest, is the one sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from controller.domain.messages import AgvState, ConnectionState, Report, ReportType
from controller.domain.tasks import TaskStatus, TransportTask
from tests.api.conftest import ERP
from tests.conftest import Broker
from tests.e2e.site_in_process import InProcessSite, site_in_process
from tests.edge.conftest import until

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]

SPEEDUP = 20.0  # a fetch trip of ~60 sim seconds takes ~3 s; the whole order ~7 s
SEED = 5
SHIP_DEADLINE_S = 30.0
STEP_DEADLINE_S = 10.0
SKU, BIN, TOTE, QTY = "SKU-0024", "A5-04", "TOTE-0030", 2
NEAR_SKU = "SKU-0001"  # its bin A1-01 is 13 m from parking: a slow trip stays short
FIRST_AGV = "AGV-01"
# The parking row and station ST1 hang off the front aisle's first stretch (F00-F12) with
# no other way in: an AGV broken down there shuts the others in, or ST1 off (traffic control
# will not send an AGV through it). Faults that must leave the floor passable strike once
# the AGV has reported this node, past that stretch.
PAST_THE_DEAD_ENDS = "F15"


@pytest.fixture
async def site(mqtt_broker: Broker, tmp_path: Path, site_id: str) -> AsyncIterator[InProcessSite]:
    async with site_in_process(
        mqtt_broker, tmp_path, site_id, speedup=SPEEDUP, seed=SEED
    ) as running:
        yield running
        # Whatever happened on the floor, stock must still add up per bin, and every order
        # and instant action the edge sent was valid, at QoS 0 and not retained.
        assert await running.stock_violations() == []
        assert running.edge_publishes("/order"), "the edge sent no order"
        assert running.edge_vda_problems() == []


# --- what every scenario looks at ------------------------------------------------------


async def driving_to_the_rack(
    site: InProcessSite, order_id: str, *, past: str | None = None
) -> TransportTask:
    """The order's fetch once its AGV has accepted it and is on its way, pick not done
    (and, with `past`, has reported that node on the way)."""
    task = await site.the_fetch(order_id)
    passed: set[str] = set()

    def on_its_way() -> bool:
        passed.add(task.last_node_id or "")
        driving = task.status is TaskStatus.ACCEPTED and agv_driving(site, task)
        return driving and (past is None or past in passed)

    deadline_s = STEP_DEADLINE_S if past is None else SHIP_DEADLINE_S
    await until(on_its_way, f"{task.task_id} accepted and driving", deadline_s)
    return task


def picks_of(ledger: list[dict[str, Any]], order_id: str) -> list[int]:
    """The quantities that left a bin for the order (ledger `pick` rows at a bin)."""
    return [
        row["qty_delta"]
        for row in ledger
        if row["reason"] == "pick" and row["order_id"] == order_id and row["bin"] is not None
    ]


def event_types(order: dict[str, Any]) -> list[str]:
    return [e["type"] for e in order["events"]]


async def assert_shipped_once(
    site: InProcessSite, order: dict[str, Any], stock_before: dict[str, Any], sku: str
) -> None:
    """Shipped in full, each unit picked once: one `line.picked`, one ledger pick, and on
    hand down by exactly the order's quantity."""
    order_id = order["order_id"]
    assert order["status"] == "shipped"
    [line] = order["lines"]
    assert (line["qty"], line["picked_qty"], line["shipped_qty"]) == (QTY, QTY, QTY)
    assert event_types(order).count("line.picked") == 1
    assert picks_of(await site.ledger(sku), order_id) == [-QTY]
    after = await site.stock(sku)
    assert after["on_hand"] == stock_before["on_hand"] - QTY
    assert (after["reserved"], after["available"]) == (0, after["on_hand"])


def rejected_orders(site: InProcessSite, serial: str, order_id: str) -> list[dict[str, Any]]:
    """The errors in the AGV's states that refuse the VDA order `order_id`."""
    return [
        error
        for state in site.broker.of("state", serial)
        for error in state.get("errors", [])
        if error["errorType"] == "orderError"
        and {"referenceKey": "orderId", "referenceValue": order_id} in error["errorReferences"]
    ]


# --- the scenarios ------------------------------------------------------------------------


async def test_fatal_error_before_the_pick_queues_the_fetch_again_for_another_agv_and_ships(
    site: InProcessSite,
) -> None:
    before = await site.stock(SKU)
    await site.push_order("SO-FATAL-1", ("10", SKU, QTY))
    fetch = await driving_to_the_rack(site, "SO-FATAL-1", past=PAST_THE_DEAD_ENDS)
    faulty = fetch.agv
    assert faulty == FIRST_AGV

    site.sim.agvs[faulty].inject_fatal_error()
    assert site.sim.world.totes[TOTE].node == BIN, "the fault came after the pick"

    order = await site.order_reaching("SO-FATAL-1", {"shipped"}, SHIP_DEADLINE_S)
    await assert_shipped_once(site, order, before, SKU)

    # The task went back into the queue and another AGV did it under a new orderId.
    [(first, first_id), (second, second_id)] = site.broker.orders_of_task(fetch.task_id)
    assert (first, first_id) == (faulty, fetch.task_id)
    assert second != faulty
    assert second_id == f"{fetch.task_id}.2"
    assert (fetch.status, fetch.agv) == (TaskStatus.DELIVERED, second)
    assert site.metric("task_requeued", "agv_failed") == 1
    assert site.metric("task_failed", "agv_failed") == 0

    # The faulty AGV got nothing more while its error stands, to the end of the tote's
    # trip home, which another AGV made as well.
    [tote_home] = site.returns_of(TOTE)
    await until(lambda: tote_home.status is TaskStatus.DELIVERED, "the tote home", STEP_DEADLINE_S)
    assert site.sim.world.totes[TOTE].node == BIN
    assert tote_home.agv not in (None, faulty)
    assert site.broker.order_ids(faulty) == [fetch.task_id]
    assert site.runtime.controller.agvs[faulty].task_id is None

    fleet = await fleet_showing_fatal(site, faulty)
    assert fleet[faulty]["status"]["dispatchable"] is False


async def fleet_showing_fatal(site: InProcessSite, serial: str) -> dict[str, dict[str, Any]]:
    """The fleet view once it shows the AGV's FATAL error (snapshots go every 0.2 s)."""
    seen: dict[str, dict[str, Any]] = {}

    async def poll() -> bool:
        nonlocal seen
        seen = await site.fleet()
        status = seen[serial]["status"]
        return status is not None and any(e["level"] == "FATAL" for e in status["errors"])

    await until_async(poll, f"the fleet view showing {serial}'s FATAL error")
    return seen


async def until_async(
    predicate: Callable[[], Awaitable[bool]], what: str, deadline_s: float = STEP_DEADLINE_S
) -> None:
    """`until` for a predicate that has to await (an API call)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while not await predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {deadline_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_fatal_error_with_the_tote_on_board_is_an_exception_and_the_tote_goes_home(
    site: InProcessSite,
) -> None:
    before = await site.stock(SKU)
    await site.push_order("SO-FATAL-2", ("10", SKU, QTY))
    fetch = await site.the_fetch("SO-FATAL-2")
    await until(lambda: fetch.status is TaskStatus.LOADED, "the tote lifted", STEP_DEADLINE_S)
    faulty = fetch.agv
    assert faulty is not None

    site.sim.agvs[faulty].inject_fatal_error()

    order = await site.order_reaching("SO-FATAL-2", {"exception"}, STEP_DEADLINE_S)
    assert order["status_reason"] == "agv_failed"
    [exception] = [e for e in order["events"] if e["type"] == "order.exception"]
    assert exception["data"]["reason"] == "agv_failed"
    assert fetch.task_id in exception["data"]["detail"]

    # The trip is not tried again (the tote is on the stopped AGV), and nothing was picked.
    assert fetch.status is TaskStatus.FAILED
    assert site.broker.orders_of_task(fetch.task_id) == [(faulty, fetch.task_id)]
    assert site.broker.order_ids(faulty) == [fetch.task_id]
    assert site.runtime.controller.tote_at[TOTE] == f"agv:{faulty}"
    assert site.sim.world.totes[TOTE].carried_by is not None
    [line] = order["lines"]
    assert (line["picked_qty"], line["shipped_qty"]) == (0, 0)
    assert "line.picked" not in event_types(order)
    assert picks_of(await site.ledger(SKU), "SO-FATAL-2") == []
    # The stock stays where it was, still held for the order until a person settles it.
    after = await site.stock(SKU)
    assert after["on_hand"] == before["on_hand"]
    assert after["reserved"] == QTY
    assert after["available"] == before["on_hand"] - QTY

    fleet = await fleet_showing_fatal(site, faulty)
    status = fleet[faulty]["status"]
    [fatal] = [e for e in status["errors"] if e["level"] == "FATAL"]
    assert fatal["references"]["orderId"] == fetch.task_id
    assert status["dispatchable"] is False

    # An operator clears the error with the tote still on board: that AGV takes it home,
    # from where it stands, with a drop and no pick. Then the tote's stock ships with the
    # next order for it.
    site.sim.agvs[faulty].clear_fatal_error()
    await until(lambda: bool(site.returns_of(TOTE)), "the trip home planned", STEP_DEADLINE_S)
    [home] = site.returns_of(TOTE)
    await until(lambda: home.status is TaskStatus.DELIVERED, "the tote home", STEP_DEADLINE_S)
    assert (home.agv, home.carried_by) == (faulty, faulty)
    assert site.broker.order_ids(faulty)[:2] == [fetch.task_id, home.task_id]
    [trip_home] = [o for o in site.broker.of("order", faulty) if o["orderId"] == home.task_id][:1]
    assert [a["actionType"] for n in trip_home["nodes"] for a in n["actions"]] == ["drop"]
    assert site.sim.world.totes[TOTE].node == BIN
    assert site.runtime.controller.tote_at[TOTE] == BIN

    await site.push_order("SO-FATAL-2B", ("10", SKU, 1))
    await site.order_reaching("SO-FATAL-2B", {"shipped"}, SHIP_DEADLINE_S)


def agv_state_of(site: InProcessSite, serial: str) -> AgvState:
    state = site.runtime.controller.agvs[serial].state
    assert state is not None
    return state


async def test_connection_broken_mid_trip_and_back_the_order_ships_with_the_trip_done_once(
    site: InProcessSite,
) -> None:
    before = await site.stock(SKU)
    await site.push_order("SO-CONN-1", ("10", SKU, QTY))
    fetch = await driving_to_the_rack(site, "SO-CONN-1")
    serial = fetch.agv
    assert serial is not None
    agv = site.runtime.controller.agvs[serial]

    site.sim.agvs[serial].drop_connection(down_for_s=1.5)

    await until(
        lambda: agv.connection is ConnectionState.CONNECTIONBROKEN,
        "the edge to hear CONNECTIONBROKEN",
        STEP_DEADLINE_S,
    )
    fleet_saw_broken = False

    async def fleet_shows_broken_or_back_online() -> bool:
        nonlocal fleet_saw_broken
        status = (await site.fleet())[serial]["status"]  # None: no snapshot pushed yet
        broken_now = status is not None and status["connection"] == "CONNECTIONBROKEN"
        fleet_saw_broken = fleet_saw_broken or broken_now
        return fleet_saw_broken or agv.connection is ConnectionState.ONLINE

    await until_async(fleet_shows_broken_or_back_online, "the fleet view or the reconnect")
    assert fleet_saw_broken, "the fleet view never showed the AGV's connection broken"
    await until(
        lambda: agv.connection is ConnectionState.ONLINE, "the AGV back online", STEP_DEADLINE_S
    )
    # The broker spoke the AGV's last will; the AGV said ONLINE when it came back.
    states = site.broker.connection_states(serial)
    broken = states.index("CONNECTIONBROKEN")
    assert "ONLINE" in states[broken:]

    order = await site.order_reaching("SO-CONN-1", {"shipped"}, SHIP_DEADLINE_S)
    await assert_shipped_once(site, order, before, SKU)
    # One VDA order, one trip: nothing was sent again or queued again.
    assert site.broker.orders_of_task(fetch.task_id) == [(serial, fetch.task_id)]
    assert fetch.status is TaskStatus.DELIVERED
    assert site.metric("agv_trips", "fetch") == 1
    assert site.metric_total("task_requeued") == site.metric_total("task_failed") == 0
    assert site.metric("agv_connection", "CONNECTIONBROKEN") >= 1


async def test_order_rejected_by_the_agv_is_sent_again_under_a_new_order_id_and_ships(
    site: InProcessSite,
) -> None:
    for device in site.sim.agvs.values():
        device.refuse_next_orders(1)
    before = await site.stock(SKU)
    await site.push_order("SO-REJECT-1", ("10", SKU, QTY))
    fetch = await site.the_fetch("SO-REJECT-1")

    order = await site.order_reaching("SO-REJECT-1", {"shipped"}, SHIP_DEADLINE_S)
    await assert_shipped_once(site, order, before, SKU)

    [(first, first_id), (second, second_id)] = site.broker.orders_of_task(fetch.task_id)
    assert (first_id, second_id) == (fetch.task_id, f"{fetch.task_id}.2")
    assert first == FIRST_AGV
    assert rejected_orders(site, first, fetch.task_id), "no orderError for the first order"
    assert rejected_orders(site, second, second_id) == []
    assert (fetch.status, fetch.attempts, fetch.agv) == (TaskStatus.DELIVERED, 2, second)
    assert site.metric("task_requeued", "agv_order_rejected") >= 1
    assert site.metric("exceptions", "agv_order_rejected") == 0


@pytest.mark.parametrize("tote_on_board", [False, True], ids=["to_the_rack", "tote_on_board"])
async def test_cancel_while_driving_lets_the_trip_finish_sends_the_tote_home_and_cancels(
    site: InProcessSite, monkeypatch: pytest.MonkeyPatch, tote_on_board: bool
) -> None:
    before = await site.stock(SKU)
    tote_items = len(site.sim.world.totes[TOTE].items)
    await site.push_order("SO-CANCEL-1", ("10", SKU, QTY))
    fetch = await driving_to_the_rack(site, "SO-CANCEL-1")
    if tote_on_board:
        await until(
            lambda: fetch.status is TaskStatus.LOADED and agv_driving(site, fetch),
            "the tote lifted and on its way to the station",
            STEP_DEADLINE_S,
        )
    trip_when_reported = spy_on_cancelled_report(site, monkeypatch, fetch)

    answer = await site.api.post(
        "/api/v1/orders/SO-CANCEL-1/cancel", json={"reason": "customer"}, headers=ERP
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "cancel_requested"
    assert fetch.status in (TaskStatus.ACCEPTED, TaskStatus.LOADED), "the trip was not under way"

    order = await site.order_reaching("SO-CANCEL-1", {"cancelled"}, SHIP_DEADLINE_S)
    # The site said cancelled only once the trip under way had finished (its tote at the
    # station), and said it once; the tote came without a pick and went back to its bin.
    assert trip_when_reported == [TaskStatus.DELIVERED]
    assert site.broker.orders_of_task(fetch.task_id) == [(fetch.agv, fetch.task_id)]
    types = event_types(order)
    assert types.count("order.cancel_requested") == 1
    assert "line.picked" not in types
    assert site.broker.station_commands("SO-CANCEL-1") == ["cancel"]
    [line] = order["lines"]
    assert line["picked_qty"] == 0
    [tote_home] = site.returns_of(TOTE)
    await until(  # the device sets the tote down; the edge hears of it from its next state
        lambda: tote_home.status is TaskStatus.DELIVERED, "the tote home", STEP_DEADLINE_S
    )
    assert site.sim.world.totes[TOTE].node == BIN
    assert len(site.sim.world.totes[TOTE].items) == tote_items

    # Nothing was picked, so nothing is put back: the reservation is released and stock on
    # hand never moved.
    assert picks_of(await site.ledger(SKU), "SO-CANCEL-1") == []
    [released] = [e["data"] for e in order["events"] if e["type"] == "order.released_stock"]
    assert released == {"released": QTY, "putback_seq": None}
    after = await site.stock(SKU)
    assert after["on_hand"] == before["on_hand"]
    assert (after["reserved"], after["available"]) == (0, before["available"])
    assert site.metric("cancels", "accepted") == 1
    assert site.metric("exceptions", "agv_failed") == 0


def agv_driving(site: InProcessSite, task: TransportTask) -> bool:
    agv = site.runtime.controller.agvs.get(task.agv or "")
    return agv is not None and agv.state is not None and agv.state.driving


def spy_on_cancelled_report(
    site: InProcessSite, monkeypatch: pytest.MonkeyPatch, task: TransportTask
) -> list[TaskStatus]:
    """The task's status each time the edge reports `order.cancelled` for its order."""
    seen: list[TaskStatus] = []
    apply = site.runtime.apply

    async def spied(outputs: list[Any], now: datetime, values: Any = None) -> Any:
        for output in outputs:
            if (
                isinstance(output, Report)
                and output.type is ReportType.ORDER_CANCELLED
                and output.order_id == task.order_id
            ):
                seen.append(task.status)
        return await apply(outputs, now, values)

    monkeypatch.setattr(site.runtime, "apply", spied)
    return seen


async def test_slow_driving_still_ships(site: InProcessSite) -> None:
    before = await site.stock(NEAR_SKU)
    await site.push_order("SO-SLOW-1", ("10", NEAR_SKU, QTY))
    fetch = await driving_to_the_rack(site, "SO-SLOW-1")
    assert fetch.agv is not None
    site.sim.agvs[fetch.agv].set_speed_factor(0.2)

    order = await site.order_reaching("SO-SLOW-1", {"shipped"}, SHIP_DEADLINE_S)
    await assert_shipped_once(site, order, before, NEAR_SKU)
    # Slow is not stuck: the master control neither resent the order nor gave up on it.
    assert site.broker.orders_of_task(fetch.task_id) == [(fetch.agv, fetch.task_id)]
    assert site.metric_total("task_requeued") == site.metric_total("task_failed") == 0
    assert site.metric_total("agv_incidents") == 0
