"""Cancelling and amending orders, and putting picked items back, at the site controller."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from controller.domain.epc import encode_sgtin96, encode_sscc96
from controller.domain.layout import Site
from controller.domain.messages import (
    PutBackLine,
    PutBackRequest,
    Report,
    ReportType,
    SorterDivert,
    StationCancel,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationPutBack,
    StationReject,
    TagRead,
)
from controller.domain.tasks import TaskKind, TaskStatus, TransportTask
from controller.service.site_controller import (
    Metric,
    Notice,
    Output,
    SiteController,
    Stage,
    WorkRefused,
)
from tests.unit.floor_sim import (
    SimulatedFloor,
    deliver,
    fetch_task,
    floor_of,
    run_until_status,
    walk_to_packed,
)
from tests.unit.site_testing import (
    PREFIX_LEN,
    T0,
    agv_orders,
    bring_online,
    connection,
    idle,
    of,
    one_line_order,
    reports,
)

CANCELLED = [ReportType.ORDER_CANCELLED]


def online(ctl: SiteController) -> list[Output]:
    """Every AGV connects and reports itself idle at its start node: what that dispatched."""
    out: list[Output] = []
    for agv in ctl.site.agvs:
        out += ctl.agv_connection(agv.serial_number, connection(agv.serial_number), T0)
        out += ctl.agv_state(agv.serial_number, idle(agv.serial_number, agv.start_node), T0)
    return out


def params(action: dict[str, Any]) -> dict[str, Any]:
    return {p["key"]: p["value"] for p in action["actionParameters"]}


def kinds(ctl: SiteController, kind: TaskKind) -> list[TaskStatus]:
    return [t.status for t in ctl.tasks.values() if t.kind is kind]


Handling = tuple[str, str, dict[str, Any]]  # (actionType, nodeId, actionParameters)


def actions_sent(floor: SimulatedFloor, order_id: str | None = None) -> list[Handling]:
    """The actions published over a VDA 5050 order and all its updates (of every order if
    `order_id` is None), each once, in the order they were first sent: a trip's pick and
    drop only appear in the update that releases their node, and stay in the next one."""
    seen: dict[str, Handling] = {}
    for message in floor.orders_sent():
        if order_id is not None and message["orderId"] != order_id:
            continue
        for node in message["nodes"]:
            for action in node["actions"]:
                handling = (action["actionType"], node["nodeId"], params(action))
                seen.setdefault(action["actionId"], handling)
    return list(seen.values())


def handling(tote_id: str, source: str, source_type: str, destination: str) -> list[Handling]:
    """A trip's actions: lift `tote_id` at `source`, set it down at `destination`."""
    destination_type = "station" if source_type == "rack" else "rack"
    return [
        ("pick", source, {"loadId": tote_id, "stationType": source_type}),
        ("drop", destination, {"loadId": tote_id, "stationType": destination_type}),
    ]


def cancel(floor: SimulatedFloor, order_id: str) -> list[Output]:
    """The central API cancels the order now; what the controller sends goes to the floor."""
    return floor.feed(floor.ctl.cancel_order(order_id, floor.now))


def trip_home(ctl: SiteController, tote_id: str) -> TransportTask:
    [home] = [t for t in ctl.tasks.values() if t.kind is TaskKind.RETURN and t.tote_id == tote_id]
    return home


def put_back_task(ctl: SiteController) -> TransportTask:
    [task] = [t for t in ctl.tasks.values() if t.kind is TaskKind.PUT_BACK]
    return task


def driving_to_the_rack(floor: SimulatedFloor, task: TransportTask) -> None:
    """Run until the task's AGV has taken its order and drives off, the tote still home."""
    floor.run_until(
        lambda: task.status is TaskStatus.ACCEPTED and floor.agvs[str(task.agv)].driving
    )
    assert floor.world.totes[task.tote_id].node == task.source


def goes_home(floor: SimulatedFloor, tote_id: str, station_node: str, bin_node: str) -> None:
    """The tote's trip home runs to its end: lifted at the station, set down in its bin,
    where the floor and the controller then have it."""
    home = trip_home(floor.ctl, tote_id)
    run_until_status(floor, home, TaskStatus.DELIVERED)
    assert actions_sent(floor, home.agv_order_id) == handling(
        tote_id, station_node, "station", bin_node
    )
    assert floor.world.totes[tote_id].node == bin_node
    assert floor.ctl.tote_at[tote_id] == bin_node


# --- cancel ---------------------------------------------------------------------------------


def test_a_cancel_before_any_agv_was_sent_drops_the_fetch_and_is_reported_at_once(
    ctl: SiteController, site: Site
) -> None:
    ctl.release_order(one_line_order(site), T0)  # no AGV online yet: the fetch waits
    station = ctl.orders["SO-1"].station_id
    out = ctl.cancel_order("SO-1", T0)
    assert reports(out) == CANCELLED
    assert of(out, Report)[0].data == {}
    assert of(out, StationCancel) == [StationCancel(station, "SO-1")]
    assert agv_orders(online(ctl)) == []
    assert agv_orders(ctl.tick(T0)) == []
    assert kinds(ctl, TaskKind.FETCH) == [TaskStatus.CANCELLED]


@pytest.mark.parametrize("lifted", [False, True], ids=["driving-to-rack", "tote-on-board"])
def test_a_cancel_with_a_trip_under_way_is_reported_only_when_the_trip_has_ended(
    ctl: SiteController, site: Site, lifted: bool
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    order = one_line_order(site)
    tote = order.lines[0].allocations[0]
    floor.release(order)
    fetch = fetch_task(ctl, "SO-1")
    if lifted:
        out = run_until_status(floor, fetch, TaskStatus.LOADED)
        assert reports(out) == [ReportType.ORDER_PICKING]
    else:
        driving_to_the_rack(floor, fetch)
    out = cancel(floor, "SO-1")
    assert reports(out) == []
    assert len(of(out, StationCancel)) == 1
    assert reports(cancel(floor, "SO-1")) == []  # a repeat while it is still moving
    if not lifted:  # no order.picking for a cancelled order
        assert reports(run_until_status(floor, fetch, TaskStatus.LOADED)) == []
    out = run_until_status(floor, fetch, TaskStatus.DELIVERED)  # the tote reaches the station
    assert reports(out) == CANCELLED
    assert of(out, StationPick) == []  # the operator is not told to pick from it
    assert reports(cancel(floor, "SO-1")) == CANCELLED  # a repeat now: at once
    goes_home(floor, tote.tote_id, fetch.destination, tote.bin)
    # Reported once for the trip's end and once for that repeat: not again on the way home.
    assert reports(floor.outputs).count(ReportType.ORDER_CANCELLED) == 2


def test_a_tote_waiting_at_the_station_goes_home_and_a_pick_made_before_the_cancel_is_booked(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    order = one_line_order(site)
    pick = deliver(ctl, order)
    out = cancel(floor, "SO-1")
    assert reports(out) == CANCELLED
    [back] = agv_orders(out)  # the tote's trip home goes out at once
    assert back.order_id == trip_home(ctl, pick.tote_id).agv_order_id
    # The operator had finished the pick before the display heard of the cancel: the items
    # did leave the tote, so the stock report goes out (and no second trip home, no carton).
    late = floor.feed(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, floor.now))
    assert reports(late) == [ReportType.LINE_PICKED]
    assert of(late, StationCloseCarton) == []
    assert len(kinds(ctl, TaskKind.RETURN)) == 1
    station_node = site.station(pick.station_id).node
    goes_home(floor, pick.tote_id, station_node, order.lines[0].allocations[0].bin)


def test_a_carton_being_verified_is_neither_packed_nor_rejected_once_cancelled(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    order = one_line_order(site, qty=2)
    pick = deliver(ctl, order)
    ctl.station_picked(pick.station_id, pick.task_id, 2, T0)
    ctl.station_carton_closed(pick.station_id, "SO-1", T0)
    assert reports(ctl.cancel_order("SO-1", T0)) == CANCELLED
    reader = site.station(pick.station_id).rfid_reader
    tags = [TagRead(encode_sgtin96(pick.gtin, n, PREFIX_LEN), -45.0) for n in (1, 2)]
    out = ctl.tag_reads(reader, tags, T0)
    assert of(out, StationLabel) == []
    assert reports(out) == []
    out = ctl.tick(T0 + timedelta(seconds=10))
    assert (reports(out), of(out, StationReject)) == ([], [])


def test_a_packed_parcel_of_a_cancelled_order_goes_to_the_reject_chute_and_is_not_loaded(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    out = ctl.cancel_order("SO-1", T0)
    assert reports(out) == CANCELLED
    assert len(of(out, StationCancel)) == 1
    [divert] = of(ctl.sorter_scanned("T-1", ["00" + sscc]), SorterDivert)
    assert divert.chute == site.sorter.reject_chute
    out = ctl.sorter_diverted("T-1", site.sorter.reject_chute)
    assert reports(out) == []  # no exception for it: it is cancelled
    assert Metric("parcels_rejected", "cancelled") in out
    out = ctl.tag_reads("door-1", [TagRead(encode_sscc96(sscc, PREFIX_LEN), -40.0)], T0)
    assert reports(out) == []
    assert Metric("parcels_not_loadable", "D1") in out


def test_a_parcel_loaded_before_the_cancel_does_not_ship_with_the_truck(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    ctl.sorter_scanned("T-1", ["00" + sscc])
    ctl.sorter_diverted("T-1", "C01")
    ctl.tag_reads("door-1", [TagRead(encode_sscc96(sscc, PREFIX_LEN), -40.0)], floor.now)
    out = cancel(floor, "SO-1")
    assert reports(out) == CANCELLED
    [notice] = of(out, Notice)
    assert sscc in notice.text
    assert "D1" in notice.text
    assert reports(ctl.truck_departed("D1", "2026-11-22T10:05:00.000Z")) == []


def test_a_shipped_order_is_not_cancelled_and_nothing_is_reported(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    ctl.sorter_scanned("T-1", ["00" + sscc])
    ctl.sorter_diverted("T-1", "C01")
    ctl.tag_reads("door-1", [TagRead(encode_sscc96(sscc, PREFIX_LEN), -40.0)], T0)
    ctl.truck_departed("D1", "2026-11-22T10:05:00.000Z")
    out = ctl.cancel_order("SO-1", T0)
    assert reports(out) == []
    assert of(out, StationCancel) == []
    [notice] = of(out, Notice)
    assert "shipped" in notice.text
    assert ctl.orders["SO-1"].stage is Stage.SHIPPED


def test_a_cancel_of_an_unknown_order_is_answered_at_once_and_a_later_release_ignored(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    out = ctl.cancel_order("SO-404", T0)
    assert [(r.type, r.order_id, r.data) for r in of(out, Report)] == [
        (ReportType.ORDER_CANCELLED, "SO-404", {})
    ]
    assert of(out, StationCancel) == []
    assert reports(ctl.cancel_order("SO-404", T0)) == CANCELLED  # idempotent
    out = ctl.release_order(one_line_order(site, "SO-404"), T0)
    assert agv_orders(out) == []
    assert "SO-404" not in ctl.orders


def test_an_order_in_exception_can_still_be_cancelled(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    pick = deliver(ctl, one_line_order(site, qty=3))
    assert ReportType.ORDER_EXCEPTION in reports(
        ctl.station_picked(pick.station_id, pick.task_id, 1, T0)
    )
    assert reports(ctl.cancel_order("SO-1", T0)) == CANCELLED


# --- amendments -----------------------------------------------------------------------------


def test_an_amendment_before_any_work_started_replaces_the_lines(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    v1 = one_line_order(site, qty=2, sku_index=0)
    assert agv_orders(floor.release(v1)) == []  # no AGV online yet: queued
    v2 = replace(one_line_order(site, qty=3, sku_index=1), version=2)
    out = floor.release(v2)
    assert reports(out) == []
    assert Metric("amendments", "applied") in out
    floor.bring_online()
    pick = floor.until_out(StationPick)
    assert (pick.sku, pick.qty) == (v2.lines[0].sku, 3)
    old, new = v1.lines[0].allocations[0], v2.lines[0].allocations[0]
    # Only the new version's tote was fetched; the old one never left its bin.
    station_node = site.station(pick.station_id).node
    assert actions_sent(floor) == handling(new.tote_id, new.bin, "rack", station_node)
    assert floor.world.totes[old.tote_id].node == old.bin
    assert sorted(kinds(ctl, TaskKind.FETCH)) == sorted(
        [TaskStatus.CANCELLED, TaskStatus.DELIVERED]
    )


def test_an_amendment_while_an_agv_drives_to_the_rack_applies_and_the_old_tote_goes_back(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    v1 = one_line_order(site, sku_index=0)
    floor.release(v1)
    old = fetch_task(ctl, "SO-1")
    driving_to_the_rack(floor, old)
    v2 = replace(one_line_order(site, qty=1, sku_index=1), version=2)
    out = floor.release(v2)
    assert Metric("amendments", "applied") in out
    new = fetch_task(ctl, "SO-1")
    assert new.tote_id == v2.lines[0].allocations[0].tote_id
    [sent] = agv_orders(out)  # the new version's fetch goes out at once
    assert sent.order_id == new.agv_order_id
    start = len(floor.outputs)
    floor.run_until(lambda: {old.status, new.status} == {TaskStatus.DELIVERED})
    both = floor.outputs[start:]
    # The old version's tote came to the station too, but without an order.picking or a pick
    # instruction: they are for the new version's tote only.
    assert [(r.type, r.data) for r in of(both, Report)] == [
        (ReportType.ORDER_PICKING, {"tote_id": new.tote_id})
    ]
    [pick] = of(both, StationPick)
    assert (pick.task_id, pick.sku, pick.qty) == (new.task_id, v2.lines[0].sku, 1)
    goes_home(floor, old.tote_id, old.destination, v1.lines[0].allocations[0].bin)


@pytest.mark.parametrize("started", ["lifted", "picked"])
def test_an_amendment_after_work_started_is_refused_with_an_exception(
    ctl: SiteController, site: Site, started: str
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    v1 = one_line_order(site, qty=2)
    if started == "lifted":
        floor.release(v1)
        run_until_status(floor, fetch_task(ctl, "SO-1"), TaskStatus.LOADED)
    else:
        pick = deliver(ctl, v1)
        floor.feed(ctl.station_picked(pick.station_id, pick.task_id, 2, floor.now))
    tasks_before = dict(ctl.tasks)
    out = floor.release(replace(one_line_order(site, qty=5, sku_index=1), version=2))
    [exception] = of(out, Report)
    assert exception.type is ReportType.ORDER_EXCEPTION
    assert exception.data["reason"] == "amendment_refused"
    assert "version 2 not applied" in exception.data["detail"]
    assert started in exception.data["detail"]
    assert agv_orders(out) == []
    assert ctl.orders["SO-1"].order == v1  # the lines stay those of version 1
    assert ctl.tasks == tasks_before  # nothing planned for version 2
    later = floor.release(replace(v1, version=3))  # the order is in exception now
    assert reports(later) == []
    assert Metric("amendments", "ignored") in later


def test_a_repeated_release_of_the_same_or_a_lower_version_changes_nothing(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    v2 = replace(one_line_order(site), version=2)
    ctl.release_order(v2, T0)
    tasks_before = {task_id: replace(task) for task_id, task in ctl.tasks.items()}
    for again in (v2, replace(v2, version=1), one_line_order(site, qty=7)):  # the last: v1
        assert ctl.release_order(again, T0) == [Metric("duplicate_work", "order.released")]
    assert ctl.tasks == tasks_before
    assert ctl.orders["SO-1"].order == v2


# --- put-back -------------------------------------------------------------------------------


def putback_request(site: Site, putback_id: str = "PB-1", qty: int = 2) -> PutBackRequest:
    sku = site.skus[0]
    location = sku.bins[0]
    line = PutBackLine("10", sku.sku, sku.gtin, location.node, location.tote_id, qty)
    return PutBackRequest(putback_id, "SO-9", (line,))


def test_a_put_back_fetches_the_tote_instructs_the_operator_and_reports_the_line_once(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    request = putback_request(site)
    line = request.lines[0]
    out = floor.feed(ctl.request_putback(request, floor.now))
    [fetch] = agv_orders(out)
    task = put_back_task(ctl)
    assert fetch.order_id == task.agv_order_id
    assert reports(run_until_status(floor, task, TaskStatus.LOADED)) == []
    [instruction] = of(run_until_status(floor, task, TaskStatus.DELIVERED), StationPutBack)
    station = instruction.station_id
    station_node = site.station(station).node
    assert actions_sent(floor, fetch.order_id) == handling(
        line.tote_id, line.bin, "rack", station_node
    )
    assert floor.world.totes[line.tote_id].node == station_node
    assert instruction == StationPutBack(
        station, fetch.order_id, "PB-1", "SO-9", "10", line.tote_id, line.sku, line.gtin, 2
    )
    out = floor.feed(ctl.station_put_back(station, instruction.task_id, 2, floor.now))
    [report] = of(out, Report)
    assert (report.type, report.order_id) == (ReportType.LINE_PUT_BACK, "SO-9")
    assert report.data == {
        "putback_id": "PB-1",
        "line_id": "10",
        "sku": line.sku,
        "bin": line.bin,
        "tote_id": line.tote_id,
        "qty": 2,
    }
    [back] = agv_orders(out)  # the tote's trip home goes out at once
    assert back.order_id == trip_home(ctl, line.tote_id).agv_order_id
    again = floor.feed(ctl.station_put_back(station, instruction.task_id, 2, floor.now))
    assert reports(again) == []  # a QoS 1 redelivery
    assert Metric("duplicate_confirmation", "putBack") in again
    goes_home(floor, line.tote_id, station_node, line.bin)


def test_a_put_back_waits_for_its_tote_to_be_home(ctl: SiteController, site: Site) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    request = putback_request(site)
    line = request.lines[0]
    pick = deliver(ctl, one_line_order(site))  # the tote is at the station for SO-1
    assert pick.tote_id == line.tote_id
    assert agv_orders(floor.feed(ctl.request_putback(request, floor.now))) == []
    task = put_back_task(ctl)
    out = floor.feed(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, floor.now))
    [back] = agv_orders(out)  # the tote goes home first
    home = trip_home(ctl, pick.tote_id)
    assert back.order_id == home.agv_order_id

    def home_while_the_put_back_waits() -> bool:
        if home.status is TaskStatus.DELIVERED:
            return True
        assert task.status is TaskStatus.QUEUED, "the put-back went before its tote was home"
        return False

    floor.run_until(home_while_the_put_back_waits)
    assert floor.world.totes[pick.tote_id].node == line.bin
    # Home: now fetched again, from its bin, for the operator to put the items back in.
    [instruction] = of(run_until_status(floor, task, TaskStatus.DELIVERED), StationPutBack)
    assert (instruction.task_id, instruction.tote_id) == (task.task_id, pick.tote_id)
    assert actions_sent(floor, task.agv_order_id) == handling(
        pick.tote_id, line.bin, "rack", site.station(instruction.station_id).node
    )


def test_a_repeated_putback_id_is_ignored(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    ctl.request_putback(putback_request(site), T0)
    again = ctl.request_putback(putback_request(site, qty=5), T0)
    assert again == [Metric("duplicate_work", "putback.requested")]
    assert len(kinds(ctl, TaskKind.PUT_BACK)) == 1


def test_a_put_back_naming_a_tote_the_site_does_not_have_is_refused_without_a_trace(
    ctl: SiteController, site: Site
) -> None:
    request = putback_request(site)
    stranger = replace(request, lines=(replace(request.lines[0], tote_id="TOTE-9999"),))
    with pytest.raises(WorkRefused, match="TOTE-9999"):
        ctl.request_putback(stranger, T0)
    assert (ctl.tasks, ctl.putbacks) == ({}, set())
