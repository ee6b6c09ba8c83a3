"""The edge's traffic control end to end, without MQTT: the demo site's four AGVs (pure VDA
5050 vehicle models) under the site controller, whose orders release only what the
reservation kernel holds (checked on the vehicles at every step, tests/unit/floor_sim.py)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from controller.domain.layout import Site
from controller.domain.messages import StationPick
from controller.domain.tasks import TaskKind, TaskStatus
from controller.service.site_controller import Metric, SiteController
from tests.unit.floor_sim import SimulatedFloor, fetch_task, run_until_status
from tests.unit.site_testing import one_line_order


@pytest.mark.parametrize(
    "speedup",
    [1.0, 30.0],
    ids=["real_time", "demo_speed"],  # at 30x the AGVs' minOrderInterval holds updates back
)
def test_a_burst_of_orders_is_fetched_and_returned_with_no_conflict_and_the_fleet_parks(
    site: Site, speedup: float
) -> None:
    ctl = SiteController(
        site,
        id_prefix="t",
        next_sscc_serial=1,
        verify_window=timedelta(seconds=5),
        fleet_tick_share=0.25,  # as on the edge
    )
    floor = SimulatedFloor(ctl, speedup=speedup)
    floor.bring_online()
    orders = 12  # three per AGV, all in the narrow aisles of the first rack rows
    for i in range(orders):
        floor.release(one_line_order(site, f"SO-{i}", qty=1, sku_index=i % len(site.skus)))
    confirmed: set[str] = set()

    def work_done() -> bool:
        for pick in [o for o in floor.outputs if isinstance(o, StationPick)]:
            if pick.task_id not in confirmed:
                confirmed.add(pick.task_id)
                floor.feed(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, floor.now))
        statuses = Counter(t.status.value for t in ctl.tasks.values())
        return len(ctl.tasks) == 2 * orders and statuses == {"delivered": 2 * orders}

    floor.run_until(work_done, within_s=1800.0, what="every fetch and return delivered")
    assert all(ctl.tote_at[t] == home for t, home in ctl.tote_home.items())

    def parked() -> bool:
        for serial, agv in floor.agvs.items():
            order = ctl.fleet.order(serial)
            at_rest = (
                not agv.driving and order.stop is not None and order.stop.node == order.base[0]
            )
            if not at_rest or site.node(agv.last_node_id).kind != "parking":
                return False
        return True

    floor.run_until(parked, within_s=300.0, what="every AGV parked")
    problems = [
        o
        for o in floor.outputs
        if isinstance(o, Metric)
        and o.name in ("traffic_violations", "task_failed", "task_requeued")
    ]
    assert problems == []


def test_around_an_agv_broken_down_in_the_front_aisle_the_fetch_and_the_tote_home_still_go(
    site: Site,
) -> None:
    """The broken AGV cuts the front aisle in two: the others drive round by the back aisle,
    and meet head on in the stretch left between the parking row and the first station,
    where one must wait in a side aisle for the other (the planner's fallback)."""
    ctl = SiteController(
        site,
        id_prefix="t",
        next_sscc_serial=1,
        verify_window=timedelta(seconds=5),
        fleet_tick_share=0.25,
    )
    floor = SimulatedFloor(ctl, speedup=20.0)
    floor.bring_online()
    far = next(i for i, sku in enumerate(site.skus) if sku.sku == "SKU-0024")  # bin A5-04
    floor.release(one_line_order(site, "SO-1", qty=2, sku_index=far))
    task = fetch_task(ctl, "SO-1")
    passed: set[str] = set()

    def past_the_first_station() -> bool:
        passed.add(task.last_node_id or "")
        return "F15" in passed and task.agv is not None and floor.agvs[task.agv].driving

    floor.run_until(past_the_first_station)
    broken = task.agv
    assert broken is not None
    floor.agvs[broken].inject_fatal_error(floor.t)
    pick = floor.until_out(StationPick, within_s=900.0)
    assert task.agv not in (None, broken)
    floor.feed(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, floor.now))
    home = next(t for t in ctl.tasks.values() if t.kind is TaskKind.RETURN)
    run_until_status(floor, home, TaskStatus.DELIVERED, within_s=900.0)
    assert home.agv != broken
    assert floor.world.totes[home.tote_id].node == home.destination
