"""The edge's traffic control end to end, without MQTT: the demo site's four AGVs (pure VDA
5050 vehicle models) under the site controller, whose orders release only what the
reservation kernel holds (checked on the vehicles at every step, tests/unit/floor_sim.py)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from controller.domain.layout import Site
from controller.domain.messages import StationPick
from controller.service.site_controller import Metric, SiteController
from tests.unit.floor_sim import SimulatedFloor
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
