"""The site controller's decisions, driven through its handlers with the demo site."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from controller.domain.epc import encode_sgtin96, encode_sscc96
from controller.domain.layout import Site
from controller.domain.messages import (
    Allocation,
    ReleasedLine,
    ReleasedOrder,
    Report,
    ReportType,
    SorterDivert,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationReject,
    TagRead,
)
from controller.domain.tasks import MAX_ATTEMPTS, TOTE_LOST, TaskStatus, TransportTask
from controller.service.site_controller import Metric, SiteController, WorkRefused
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
    AgvOrder,
    agv_orders,
    bring_online,
    connection,
    idle,
    instant_actions,
    of,
    one_line_order,
    reports,
    state,
)


def test_no_agv_is_sent_before_it_reports_a_state(ctl: SiteController, site: Site) -> None:
    out = ctl.release_order(one_line_order(site), T0)
    assert agv_orders(out) == []


def test_released_line_sends_the_nearest_agv_to_pick_at_the_rack_and_drop_at_the_station(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    order = one_line_order(site)
    [first] = agv_orders(floor.release(order))
    bin_node = order.lines[0].allocations[0].bin
    start = next(a.start_node for a in site.agvs if a.serial_number == first.serial_number)
    # the nearest of the four parked AGVs to the rack is chosen
    distances = {a.serial_number: ctl.fleet.distance(a.start_node, bin_node) for a in site.agvs}
    assert distances[first.serial_number] == min(distances.values())
    # only what the kernel granted is released; the rest of the trip is the horizon
    assert first.nodes[0] == start
    assert 1 < first.released < len(first.nodes)
    assert first.nodes[-1] == "ST1"
    assert bin_node in first.nodes
    floor.until_out(StationPick)
    sent = [o for o in floor.agv_orders() if o.order_id == first.order_id]
    # each action once (an update repeats its decision point as sent, actions and all)
    actions = {
        (o.nodes[a["node_index"]], a["actionId"], a["actionType"]) for o in sent for a in o.actions
    }
    assert sorted((node, kind) for node, _, kind in actions) == [
        (bin_node, "pick"),
        ("ST1", "drop"),
    ]
    # an action goes out only on a released node, and each update is stitched on the last
    for o in sent:
        assert all(a["node_index"] < o.released for a in o.actions)
    assert [o.order_update_id for o in sent] == list(range(len(sent)))
    # consecutive route nodes are neighbours on the floor graph
    edges = {frozenset((e.a, e.b)) for e in site.edges}
    for o in sent:
        for a, b in zip(o.nodes, o.nodes[1:], strict=False):
            assert frozenset((a, b)) in edges


def test_an_order_walks_from_release_to_shipped(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    order = one_line_order(site)
    sscc, _ = walk_to_packed(ctl, site, order)
    [divert] = of(ctl.sorter_scanned("T-1", ["00" + sscc]), SorterDivert)
    assert divert.chute == "C01"  # the DHL chute
    assert reports(ctl.sorter_diverted("T-1", "C01")) == [ReportType.PARCEL_SORTED]
    door_reader = site.dock_doors[0].rfid_reader  # D1 serves DHL
    tag = encode_sscc96(sscc, PREFIX_LEN)
    assert reports(ctl.tag_reads(door_reader, [TagRead(tag, -50.0)] * 3, T0)) == [
        ReportType.PARCEL_LOADED
    ]
    out = ctl.truck_departed("D1", "2026-11-22T10:05:00.000Z")
    assert [(r.type, r.order_id, r.data["sscc"]) for r in of(out, Report)] == [
        (ReportType.PARCEL_SHIPPED, order.order_id, sscc)
    ]
    assert reports(ctl.truck_departed("D1", "2026-11-22T10:35:00.000Z")) == []  # the next truck


def test_the_picked_tote_goes_home_and_its_trip_is_counted(ctl: SiteController, site: Site) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    order = one_line_order(site)
    pick = deliver(ctl, order)
    assert Metric("agv_trips", "fetch") in floor.outputs
    out = floor.feed(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, floor.now))
    tote = order.lines[0].allocations[0]
    [back] = [o for o in agv_orders(out + floor.step()) if o.order_id != pick.task_id]
    assert "ST1" in back.nodes
    assert back.nodes[-1] == tote.bin
    floor.run_until(lambda: floor.world.totes[tote.tote_id].node == tote.bin)
    assert ctl.tote_at[tote.tote_id] == tote.bin
    assert Metric("agv_trips", "return") in floor.outputs


def test_a_second_order_for_the_same_tote_waits_until_it_is_home(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    pick = deliver(ctl, one_line_order(site, "SO-1"))
    tote = pick.tote_id
    floor.release(one_line_order(site, "SO-2"))
    second = fetch_task(ctl, "SO-2")
    floor.feed(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, floor.now))
    home = ctl.tote_home[tote]
    out = run_until_status(floor, second, TaskStatus.ASSIGNED)
    # not sent before the tote was back in its bin
    assert floor.world.totes[tote].node == home
    assert [o for o in agv_orders(out) if o.order_id == second.agv_order_id] != []


def test_a_redelivered_pick_confirmation_counts_once(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    pick = deliver(ctl, one_line_order(site))
    ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    again = ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    assert reports(again) == []
    assert Metric("duplicate_confirmation", "picked") in again


def test_a_redelivered_truck_departure_ships_nothing_twice(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    first, _ = walk_to_packed(ctl, site, one_line_order(site, "SO-1"))
    ctl.sorter_scanned("T-1", ["00" + first])
    ctl.sorter_diverted("T-1", "C01")
    ctl.tag_reads("door-1", [TagRead(encode_sscc96(first, PREFIX_LEN), -50.0)], T0)
    departed = "2026-11-22T10:05:00.000Z"
    assert reports(ctl.truck_departed("D1", departed)) == [ReportType.PARCEL_SHIPPED]
    again = ctl.truck_departed("D1", departed)
    assert again == [Metric("duplicate_confirmation", "truckDeparted")]


def test_a_short_pick_is_reported_and_ends_in_an_exception(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    pick = deliver(ctl, one_line_order(site, qty=3))
    out = ctl.station_picked(pick.station_id, pick.task_id, 1, T0)
    assert reports(out) == [ReportType.LINE_PICKED, ReportType.ORDER_EXCEPTION]
    assert of(out, StationCloseCarton) == []
    exception = of(out, Report)[1]
    assert exception.data["reason"] == "short_pick"


def test_weak_and_foreign_reads_do_not_complete_a_carton(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    order = one_line_order(site, qty=2)
    pick = deliver(ctl, order)
    ctl.station_picked(pick.station_id, pick.task_id, 2, T0)
    ctl.station_carton_closed(pick.station_id, order.order_id, T0)
    reader = site.station(pick.station_id).rfid_reader
    first = encode_sgtin96(pick.gtin, 1, PREFIX_LEN)
    weak = encode_sgtin96(pick.gtin, 2, PREFIX_LEN)
    out = ctl.tag_reads(reader, [TagRead(first, -45.0), TagRead(weak, -80.0)], T0)
    assert of(out, StationLabel) == []
    assert Metric("tag_reads_ignored", "weak") in out
    out = ctl.tag_reads(reader, [TagRead("E28011606000020A6681F23F", -40.0)], T0)
    assert of(out, StationLabel) == []
    assert len(of(ctl.tag_reads(reader, [TagRead(weak, -50.0)], T0), StationLabel)) == 1


def test_a_carton_with_a_missing_item_is_rejected_when_its_window_closes(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    order = one_line_order(site, qty=2)
    pick = deliver(ctl, order)
    ctl.station_picked(pick.station_id, pick.task_id, 2, T0)
    ctl.station_carton_closed(pick.station_id, order.order_id, T0)
    reader = site.station(pick.station_id).rfid_reader
    ctl.tag_reads(reader, [TagRead(encode_sgtin96(pick.gtin, 1, PREFIX_LEN), -45.0)], T0)
    assert of(ctl.tick(T0 + timedelta(seconds=4)), StationReject) == []
    out = ctl.tick(T0 + timedelta(seconds=5))
    assert of(out, StationReject) == [
        StationReject(pick.station_id, order.order_id, "rfid_mismatch")
    ]
    [exception] = of(out, Report)
    assert exception.data == {
        "reason": "rfid_mismatch",
        "detail": {"missing": {pick.gtin: 1}, "extra": {}},
    }


def test_a_repeated_scan_gets_the_same_chute_and_a_no_read_goes_to_reject(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    first = ctl.sorter_scanned("T-7", ["00" + sscc])
    assert ctl.sorter_scanned("T-7", ["00" + sscc]) == first
    ctl.chute_status("C01", "FULL")
    assert ctl.sorter_scanned("T-7", ["00" + sscc]) == first  # the answer given stands
    assert of(ctl.sorter_scanned("T-8", []), SorterDivert)[0].chute == site.sorter.reject_chute
    assert of(ctl.sorter_scanned("T-9", ["garbage"]), SorterDivert)[0].chute == "C99"


def test_a_full_chute_sends_its_parcels_to_reject(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    ctl.chute_status("C01", "FULL")
    assert of(ctl.sorter_scanned("T-1", ["00" + sscc]), SorterDivert)[0].chute == "C99"


def test_the_sscc_epc_is_read_as_well_as_the_barcode(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    [divert] = of(ctl.sorter_scanned("T-1", [encode_sscc96(sscc, PREFIX_LEN)]), SorterDivert)
    assert divert.chute == "C01"


def test_a_parcel_read_at_the_wrong_door_is_not_loaded(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    ctl.sorter_scanned("T-1", ["00" + sscc])
    ctl.sorter_diverted("T-1", "C01")
    wrong = site.dock_doors[1].rfid_reader  # D2 serves DPD and GLS
    out = ctl.tag_reads(wrong, [TagRead(encode_sscc96(sscc, PREFIX_LEN), -40.0)], T0)
    assert reports(out) == []
    assert Metric("parcels_wrong_door", "D2") in out


def test_a_stale_or_faulty_agv_is_not_dispatched(ctl: SiteController, site: Site) -> None:
    for agv in site.agvs:
        ctl.agv_connection(agv.serial_number, connection(agv.serial_number), T0)
    ctl.agv_state("AGV-01", idle("AGV-01", "P1"), T0 - timedelta(seconds=60))
    fatal = {"errorType": "x", "errorLevel": "FATAL", "errorReferences": []}
    ctl.agv_state("AGV-02", state("AGV-02", "P2", errors=[fatal]), T0)
    ctl.agv_state("AGV-03", idle("AGV-03", "P3"), T0)
    ctl.agv_connection("AGV-03", connection("AGV-03", "CONNECTIONBROKEN"), T0)
    assert agv_orders(ctl.release_order(one_line_order(site), T0)) == []
    [cmd] = agv_orders(ctl.agv_state("AGV-04", idle("AGV-04", "P4"), T0))
    assert cmd.serial_number == "AGV-04"


def test_sscc_serials_continue_from_where_the_edge_left_off(site: Site) -> None:
    ctl = SiteController(
        site, id_prefix="t", next_sscc_serial=41, verify_window=timedelta(seconds=5)
    )
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    assert sscc[:17] == "00614141000000041"  # extension 0, prefix 0614141, serial 41
    assert ctl.next_sscc_serial == 42


def test_an_agv_coming_online_is_asked_for_its_state_once(ctl: SiteController) -> None:
    """And, lacking a factsheet, for that once too (CHECKLIST 73)."""
    first = instant_actions(ctl.agv_connection("AGV-01", connection("AGV-01"), T0))
    assert first == ["stateRequest", "factsheetRequest"]
    assert instant_actions(ctl.agv_connection("AGV-01", connection("AGV-01"), T0)) == []
    ctl.agv_connection("AGV-01", connection("AGV-01", "CONNECTIONBROKEN"), T0)
    again = instant_actions(ctl.agv_connection("AGV-01", connection("AGV-01"), T0))
    assert again == ["stateRequest"]


def test_an_over_pick_is_an_exception_not_a_complete_line(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    pick = deliver(ctl, one_line_order(site, qty=2))
    out = ctl.station_picked(pick.station_id, pick.task_id, 5, T0)
    assert reports(out) == [ReportType.LINE_PICKED, ReportType.ORDER_EXCEPTION]
    assert of(out, Report)[1].data["reason"] == "over_pick"
    assert of(out, StationCloseCarton) == []


def test_work_naming_a_tote_this_site_does_not_have_is_refused_without_a_trace(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sku = site.skus[0]
    stranger = ReleasedOrder(
        "SO-X",
        5,
        "DHL",
        (ReleasedLine("10", sku.sku, sku.gtin, 1, (Allocation("A1-01", "TOTE-9999", 1),)),),
    )
    with pytest.raises(WorkRefused, match="TOTE-9999"):
        ctl.release_order(stranger, T0)
    assert "SO-X" not in ctl.orders
    assert ctl.tasks == {}
    assert agv_orders(ctl.release_order(one_line_order(site, "SO-1"), T0)) != []


def test_an_agv_reporting_a_node_off_the_map_is_not_dispatched(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    for agv in ("AGV-01", "AGV-02", "AGV-03"):
        out = ctl.agv_state(agv, idle(agv, "DOCK-7"), T0)
        assert Metric("agv_off_map", agv) in out
    [cmd] = agv_orders(ctl.release_order(one_line_order(site), T0))
    assert cmd.serial_number == "AGV-04"
    assert agv_orders(ctl.tick(T0)) == []  # and nothing raises on later dispatches


def close_two_cartons(ctl: SiteController, site: Site) -> tuple[StationPick, StationPick]:
    """Two single-line orders of different SKUs, both closed at ST1, in order."""
    picks = []
    for order_id, sku_index in (("SO-A", 0), ("SO-C", 1)):
        order = one_line_order(site, order_id, qty=2, sku_index=sku_index)
        pick = deliver(ctl, order)
        ctl.station_picked(pick.station_id, pick.task_id, 2, T0)
        picks.append(pick)
    for pick in picks:
        ctl.orders[pick.order_id].station_id = "ST1"
        ctl.station_carton_closed("ST1", pick.order_id, T0)
    return picks[0], picks[1]


def test_reads_of_the_next_carton_are_not_swallowed_by_an_incomplete_one(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    a, c = close_two_cartons(ctl, site)
    a_tags = [encode_sgtin96(a.gtin, n, PREFIX_LEN) for n in (1, 2)]
    c_tags = [encode_sgtin96(c.gtin, n, PREFIX_LEN) for n in (1, 2)]
    out = ctl.tag_reads("pack-1", [TagRead(a_tags[0], -45.0)], T0)  # A misses an item
    out = ctl.tag_reads("pack-1", [TagRead(t, -45.0) for t in c_tags], T0)
    assert [(x.order_id, x.station_id) for x in of(out, StationLabel)] == [("SO-C", "ST1")]
    out = ctl.tick(T0 + timedelta(seconds=5))
    assert of(out, StationReject) == [StationReject("ST1", "SO-A", "rfid_mismatch")]
    [exception] = of(out, Report)
    assert exception.data["detail"] == {"missing": {a.gtin: 1}, "extra": {}}


def test_an_item_no_carton_expects_counts_against_the_oldest(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    a, _ = close_two_cartons(ctl, site)
    stranger = site.skus[5].gtin
    tags = [encode_sgtin96(stranger, 1, PREFIX_LEN)]
    tags += [encode_sgtin96(a.gtin, n, PREFIX_LEN) for n in (1, 2)]
    out = ctl.tag_reads("pack-1", [TagRead(t, -45.0) for t in tags], T0)
    assert of(out, StationLabel) == []
    exceptions = {r.order_id: r.data for r in of(ctl.tick(T0 + timedelta(seconds=5)), Report)}
    assert exceptions["SO-A"]["detail"] == {"missing": {}, "extra": {stranger: 1}}


def test_a_parcel_diverted_into_another_chute_than_commanded_is_missorted(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    ctl.sorter_scanned("T-1", ["00" + sscc])
    out = ctl.sorter_diverted("T-1", "C02")  # the UPS chute; we said C01
    assert reports(out) == [ReportType.ORDER_EXCEPTION]
    assert of(out, Report)[0].data["reason"] == "missorted"


def test_a_parcel_is_loaded_only_once_sorted(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    tag = TagRead(encode_sscc96(sscc, PREFIX_LEN), -40.0)
    out = ctl.tag_reads("door-1", [tag], T0)
    assert reports(out) == []
    assert Metric("parcels_not_loadable", "D1") in out
    ctl.sorter_scanned("T-1", ["00" + sscc])
    ctl.sorter_diverted("T-1", "C01")
    assert reports(ctl.tag_reads("door-1", [tag], T0)) == [ReportType.PARCEL_LOADED]


def two_line_order(site: Site) -> ReleasedOrder:
    a, b = site.skus[0], site.skus[1]
    return ReleasedOrder(
        "SO-1",
        5,
        "DHL",
        tuple(
            ReleasedLine(
                line_id, s.sku, s.gtin, 1, (Allocation(s.bins[0].node, s.bins[0].tote_id, 1),)
            )
            for line_id, s in (("10", a), ("20", b))
        ),
    )


def one_agv(ctl: SiteController) -> SimulatedFloor:
    """Only AGV-01 is on: a second line's fetch waits for it."""
    floor = floor_of(ctl, serials=("AGV-01",))
    floor.bring_online()
    return floor


def orders_for(floor: SimulatedFloor, task_id: str) -> list[AgvOrder]:
    """The orders and updates published for the task's attempts (`t-1`, `t-1.2`, ...)."""
    return [o for o in floor.agv_orders() if o.order_id.split(".")[0] == task_id]


def action_ids(orders: list[AgvOrder], action_type: str) -> list[str]:
    return list(
        dict.fromkeys(
            a["actionId"] for o in orders for a in o.actions if a["actionType"] == action_type
        )
    )


def load_ids(orders: list[AgvOrder]) -> set[str]:
    return {
        p["value"]
        for o in orders
        for a in o.actions
        for p in a["actionParameters"]
        if p["key"] == "loadId"
    }


def with_action(message: dict[str, Any], action_type: str, status: str) -> bool:
    return any(
        a["actionType"] == action_type and a["actionStatus"] == status
        for a in message["actionStates"]
    )


def test_a_pick_that_fails_with_the_tote_still_home_is_sent_again_as_a_new_order(
    ctl: SiteController, site: Site
) -> None:
    floor = one_agv(ctl)
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")
    floor.world.totes[task.tote_id].node = None  # not in its bin: the pick finds nothing

    def found_again(serial: str, message: dict[str, Any]) -> dict[str, Any]:
        if with_action(message, "pick", "FAILED"):
            floor.world.totes[task.tote_id].node = task.source
        return message

    floor.tamper = found_again
    requeued = Metric("task_requeued", "agv_failed")
    out = floor.run_until(lambda: requeued in floor.outputs)
    assert reports(out) == []
    run_until_status(floor, task, TaskStatus.DELIVERED)
    sent = orders_for(floor, task.task_id)
    # the same tote, under a new orderId (CHECKLIST 23) and new action ids
    assert list(dict.fromkeys(o.order_id for o in sent)) == [task.task_id, f"{task.task_id}.2"]
    assert load_ids(sent) == {task.tote_id}
    assert len(action_ids(sent, "pick")) == 2


def test_a_failed_pick_with_nodes_still_ahead_cancels_the_order(
    ctl: SiteController, site: Site
) -> None:
    """An AGV that fails the pick but would drive on to the rest of its order (it keeps its
    nodes) is stopped with cancelOrder: it would drive on to drop nothing."""
    floor = one_agv(ctl)
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")
    [pick_id] = floor.until_out_order_action("pick")

    def failed_but_driving_on(serial: str, message: dict[str, Any]) -> dict[str, Any]:
        for action in message["actionStates"]:
            if action["actionId"] == pick_id and action["actionStatus"] == "FINISHED":
                action["actionStatus"] = "FAILED"
                message["nodeStates"] = message["nodeStates"] or [
                    {"nodeId": task.destination, "sequenceId": 99, "released": False}
                ]
        return message

    floor.tamper = failed_but_driving_on
    out = run_until_status(floor, task, TaskStatus.QUEUED)
    assert Metric("task_requeued", "agv_failed") in out
    assert instant_actions(out) == ["cancelOrder"]


def test_a_pick_failing_on_every_attempt_is_escalated_and_its_order_stops(
    ctl: SiteController, site: Site
) -> None:
    floor = one_agv(ctl)
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")
    floor.world.totes[task.tote_id].node = None  # never there
    exception = floor.until_out(Report, lambda r: r.type is ReportType.ORDER_EXCEPTION)
    assert exception.data["reason"] == "agv_failed"
    assert len({o.order_id for o in orders_for(floor, task.task_id)}) == MAX_ATTEMPTS
    second = fetch_task(ctl, "SO-1", "20")
    floor.step(30.0)
    assert orders_for(floor, second.task_id) == []  # it went with the exception


def test_a_drop_that_fails_with_the_tote_on_board_is_escalated_at_once(
    ctl: SiteController, site: Site
) -> None:
    floor = one_agv(ctl)
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")

    def drop_fails(serial: str, message: dict[str, Any]) -> dict[str, Any]:
        for action in message["actionStates"]:
            if action["actionType"] == "drop" and action["actionStatus"] != "WAITING":
                action["actionStatus"] = "FAILED"
                message["loads"] = loads(task.tote_id)
        return message

    floor.tamper = drop_fails
    exception = floor.until_out(Report, lambda r: r.type is ReportType.ORDER_EXCEPTION)
    assert exception.data["reason"] == "agv_failed"
    assert ctl.tote_at[task.tote_id] == "agv:AGV-01"  # where a person finds it
    assert ctl.tasks[task.task_id].attempts == 1


def fail_with_the_tote_on_board(floor: SimulatedFloor, site: Site, order_id: str) -> TransportTask:
    """A one-line order's fetch: pick done, then a FATAL error; the order ends in an
    exception and the AGV still carries the tote."""
    floor.release(one_line_order(site, order_id))
    task = fetch_task(floor.ctl, order_id)
    run_until_status(floor, task, TaskStatus.LOADED)
    assert task.agv is not None
    floor.agvs[task.agv].inject_fatal_error(floor.t)
    exception = floor.until_out(Report, lambda r: r.type is ReportType.ORDER_EXCEPTION)
    assert exception.data["reason"] == "agv_failed"
    return task


def loads(*tote_ids: str) -> list[dict[str, Any]]:
    return [{"loadId": t, "loadType": "TOTE", "loadPosition": "LHD1"} for t in tote_ids]


def test_an_agv_left_carrying_a_tote_takes_it_home_once_its_fatal_error_is_cleared(
    ctl: SiteController, site: Site
) -> None:
    """Its task failed with the tote on board. That AGV, and no other, takes the tote home
    once it is ready again: from where it stands, a drop and no pick (a fetch would fail at
    the pick: loadHandlingDeviceOccupied). Other work goes to other AGVs meanwhile."""
    floor = floor_of(ctl)
    floor.bring_online()
    failed = fail_with_the_tote_on_board(floor, site, "SO-1")
    serial, tote = failed.agv, failed.tote_id
    assert serial is not None
    assert ctl.tote_at[tote] == f"agv:{serial}"
    floor.release(one_line_order(site, "SO-2", sku_index=1))
    other = fetch_task(ctl, "SO-2")
    run_until_status(floor, other, TaskStatus.ASSIGNED)
    assert other.agv != serial

    stands_at = floor.agvs[serial].last_node_id
    floor.agvs[serial].clear_fatal_error(floor.t)
    floor.run_until(lambda: ctl.tote_at[tote] == ctl.tote_home[tote])
    [home_id] = (
        {o.order_id for o in floor.agv_orders()}
        - {o.order_id for o in floor.agv_orders() if o.order_id.startswith(failed.task_id)}
        - {
            o.order_id
            for o in floor.agv_orders()
            if o.serial_number != serial or "-m" in o.order_id
        }
    )
    home = [o for o in floor.agv_orders() if o.order_id == home_id]
    assert home[0].nodes[0] == stands_at
    assert [a["actionType"] for o in home for a in o.actions] in (["drop"], ["drop", "drop"])
    assert load_ids(home) == {tote}
    [drop_at] = {o.nodes[a["node_index"]] for o in home for a in o.actions}
    assert drop_at == ctl.tote_home[tote]
    assert floor.world.totes[tote].node == ctl.tote_home[tote]
    floor.run_until(lambda: ctl.agvs[serial].dispatchable(floor.now), within_s=60.0)


def test_a_fetch_of_a_tote_stuck_on_a_failed_agv_goes_once_the_tote_is_home(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    failed = fail_with_the_tote_on_board(floor, site, "SO-1")
    assert failed.agv is not None
    floor.release(one_line_order(site, "SO-2"))
    waiting = fetch_task(ctl, "SO-2")
    floor.step(30.0)
    assert waiting.status is TaskStatus.QUEUED  # waits for the tote
    floor.agvs[failed.agv].clear_fatal_error(floor.t)
    floor.run_until(lambda: waiting.agv is not None)
    assert floor.world.totes[waiting.tote_id].node == ctl.tote_home[waiting.tote_id]
    run_until_status(floor, waiting, TaskStatus.DELIVERED)  # on to the station


def test_a_tote_taken_off_a_failed_agv_by_hand_is_lost_and_its_next_fetch_an_exception(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    failed = fail_with_the_tote_on_board(floor, site, "SO-1")
    assert failed.agv is not None
    agv = floor.agvs[failed.agv]
    agv.loads.clear()  # someone lifted it off
    agv.clear_fatal_error(floor.t)
    out = floor.run_until(lambda: ctl.tote_at[failed.tote_id] == TOTE_LOST)
    out += floor.step(5.0)
    assert of(floor.outputs, Metric).count(Metric("task_failed", "tote_off_agv")) == 1
    assert [o for o in agv_orders(out) if o.serial_number == failed.agv and o.actions] == []

    out = floor.release(one_line_order(site, "SO-2"))  # wants that tote
    assert agv_orders(out) == []
    [exception] = of(out, Report)
    assert (exception.order_id, exception.data["reason"]) == ("SO-2", "tote_lost")


def test_a_pick_reported_with_another_tote_on_board_stops_the_trip_in_an_exception(
    ctl: SiteController, site: Site
) -> None:
    """CHECKLIST 55 / task lifecycle: the load is reconciled with the tote the task expects."""
    floor = floor_of(ctl)
    floor.bring_online()
    floor.release(one_line_order(site, "SO-1"))
    task = fetch_task(ctl, "SO-1")

    def a_stranger_on_board(serial: str, message: dict[str, Any]) -> dict[str, Any]:
        if with_action(message, "pick", "FINISHED"):
            message["loads"] = loads("TOTE-9999")
        return message

    floor.tamper = a_stranger_on_board
    exception = floor.until_out(Report, lambda r: r.type is ReportType.ORDER_EXCEPTION)
    assert exception.data["reason"] == "tote_mismatch"
    assert instant_actions(floor.outputs).count("cancelOrder") == 1
    assert of(floor.outputs, StationPick) == []
    assert ctl.tote_at[task.tote_id] == TOTE_LOST
    assert task.agv is not None
    assert not ctl.agvs[task.agv].dispatchable(floor.now)  # it carries a stranger


def test_a_drop_reported_with_the_tote_still_on_board_is_a_mismatch(
    ctl: SiteController, site: Site
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()
    floor.release(one_line_order(site, "SO-1"))
    task = fetch_task(ctl, "SO-1")

    def still_on_board(serial: str, message: dict[str, Any]) -> dict[str, Any]:
        if with_action(message, "drop", "FINISHED"):
            message["loads"] = loads(task.tote_id)
        return message

    floor.tamper = still_on_board
    exception = floor.until_out(Report, lambda r: r.type is ReportType.ORDER_EXCEPTION)
    assert exception.data["reason"] == "tote_mismatch"
    assert of(floor.outputs, StationPick) == []


@pytest.mark.parametrize(
    "reported", [None, [{"loadType": "TOTE"}]], ids=["no_loads_field", "load_without_an_id"]
)
def test_loads_that_cannot_tell_which_tote_contradict_nothing(
    ctl: SiteController, site: Site, reported: list[dict[str, Any]] | None
) -> None:
    floor = floor_of(ctl)
    floor.bring_online()

    def unknowing(serial: str, message: dict[str, Any]) -> dict[str, Any]:
        if message["loads"]:
            del message["loads"]
            if reported is not None:
                message["loads"] = reported
        return message

    floor.tamper = unknowing
    deliver(ctl, one_line_order(site, "SO-1"))
    floor.step(5.0)
    assert len(of(floor.outputs, StationPick)) == 1
    assert [r.type for r in of(floor.outputs, Report)] == [ReportType.ORDER_PICKING]


def test_an_order_the_agv_rejects_is_sent_again_as_a_new_order(
    ctl: SiteController, site: Site
) -> None:
    """CHECKLIST 40: a rejection stops that order; the task is not left assigned."""
    floor = one_agv(ctl)
    floor.agvs["AGV-01"].refuse_next_orders(1)
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")
    requeued = Metric("task_requeued", "agv_order_rejected")
    floor.run_until(lambda: requeued in floor.outputs)
    out = run_until_status(floor, task, TaskStatus.ACCEPTED)
    assert Metric("agv_orders", "accepted") in out
    assert [o.order_id for o in orders_for(floor, task.task_id) if o.order_update_id == 0] == [
        task.task_id,
        f"{task.task_id}.2",
    ]
    run_until_status(floor, task, TaskStatus.DELIVERED)


def test_an_agv_refusing_every_order_escalates_the_task_after_the_last_attempt(
    ctl: SiteController, site: Site
) -> None:
    floor = one_agv(ctl)
    floor.agvs["AGV-01"].refuse_next_orders(1_000)
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")
    exception = floor.until_out(Report, lambda r: r.type is ReportType.ORDER_EXCEPTION)
    assert exception.data["reason"] == "agv_order_rejected"
    assert task.status is TaskStatus.FAILED
    assert len({o.order_id for o in orders_for(floor, task.task_id)}) == MAX_ATTEMPTS
    floor.step(30.0)
    assert orders_for(floor, fetch_task(ctl, "SO-1", "20").task_id) == []  # went with it


def test_an_order_never_echoed_is_resent_then_sent_again_as_a_new_order(
    ctl: SiteController, site: Site
) -> None:
    """CHECKLIST 38: a lost QoS 0 order is resent a bounded number of times, then the task is
    queued again; nothing waits for it for ever."""
    floor = one_agv(ctl)
    floor.lose_orders["AGV-01"] = 1_000  # the AGV is alive, but no order arrives
    floor.release(two_line_order(site))
    task = fetch_task(ctl, "SO-1", "10")
    floor.run_until(lambda: task.attempts == 2, what="a new order for the task")
    sent = orders_for(floor, task.task_id)
    resent = [o for o in sent if o.order_id == task.task_id][1:]
    assert 1 <= len(resent) < 10
    assert all(o.order_update_id == 0 for o in resent)  # the same message again
    assert load_ids(sent) <= {task.tote_id}
    floor.lose_orders["AGV-01"] = 0
    run_until_status(floor, task, TaskStatus.DELIVERED)
