"""The site controller's decisions, driven through its handlers with the demo site."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.domain.epc import encode_sgtin96, encode_sscc96
from controller.domain.layout import Site
from controller.domain.messages import (
    ActionState,
    ActionStatus,
    AgvError,
    AgvState,
    Allocation,
    ConnectionState,
    ReleasedLine,
    ReleasedOrder,
    Report,
    ReportType,
    RequestAgvState,
    SendAgvOrder,
    SorterDivert,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationReject,
    TagRead,
)
from controller.service.site_controller import Metric, SiteController, WorkRefused
from tests.unit.site_testing import (
    PREFIX_LEN,
    T0,
    bring_online,
    deliver,
    finish,
    idle,
    of,
    one_line_order,
    reports,
    walk_to_packed,
)


def test_no_agv_is_sent_before_it_reports_a_state(ctl: SiteController, site: Site) -> None:
    out = ctl.release_order(one_line_order(site), T0)
    assert of(out, SendAgvOrder) == []


def test_released_line_sends_the_nearest_agv_to_pick_at_the_rack_and_drop_at_the_station(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    order = one_line_order(site)
    [cmd] = of(ctl.release_order(order, T0), SendAgvOrder)
    bin_node = order.lines[0].allocations[0].bin
    pick, drop = cmd.actions
    assert (pick.action_type, cmd.route[pick.node_index].node_id) == ("pick", bin_node)
    assert (drop.action_type, cmd.route[drop.node_index].node_id) == ("drop", "ST1")
    assert drop.node_index == len(cmd.route) - 1
    start = cmd.route[0].node_id
    assert start == next(a.start_node for a in site.agvs if a.serial_number == cmd.serial_number)
    # the nearest of the four parked AGVs to the rack is chosen
    distances = {a.serial_number: ctl.floor.distance(a.start_node, bin_node) for a in site.agvs}
    assert distances[cmd.serial_number] == min(distances.values())
    # consecutive route nodes are neighbours on the floor graph
    edges = {frozenset((e.a, e.b)) for e in site.edges}
    for a, b in zip(cmd.route, cmd.route[1:], strict=False):
        assert frozenset((a.node_id, b.node_id)) in edges


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
    bring_online(ctl)
    order = one_line_order(site)
    [cmd] = of(ctl.release_order(order, T0), SendAgvOrder)
    finish(ctl, cmd, "pick")
    out = finish(ctl, cmd, "pick", "drop")
    assert Metric("agv_trips", "fetch") in out
    [pick] = of(out, StationPick)
    out = ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    [back] = of(out, SendAgvOrder)
    tote = order.lines[0].allocations[0]
    assert back.route[back.actions[0].node_index].node_id == "ST1"
    assert back.route[-1].node_id == tote.bin
    assert dict(back.actions[1].parameters)["loadId"] == tote.tote_id


def test_a_second_order_for_the_same_tote_waits_until_it_is_home(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    [first] = of(ctl.release_order(one_line_order(site, "SO-1"), T0), SendAgvOrder)
    assert of(ctl.release_order(one_line_order(site, "SO-2"), T0), SendAgvOrder) == []
    finish(ctl, first, "pick")
    [pick] = of(finish(ctl, first, "pick", "drop"), StationPick)
    [back] = of(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0), SendAgvOrder)
    finish(ctl, back, "pick")
    [second] = of(finish(ctl, back, "pick", "drop"), SendAgvOrder)
    assert (
        dict(second.actions[0].parameters)["loadId"] == dict(first.actions[0].parameters)["loadId"]
    )


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
        ctl.agv_connection(agv.serial_number, ConnectionState.ONLINE, T0)
    ctl.agv_state("AGV-01", idle("P1"), T0 - timedelta(seconds=60))
    fatal = AgvState("", "P2", False, 0, 0, (), (AgvError("x", "FATAL"),), "AUTOMATIC", 90.0)
    ctl.agv_state("AGV-02", fatal, T0)
    ctl.agv_state("AGV-03", idle("P3"), T0)
    ctl.agv_connection("AGV-03", ConnectionState.CONNECTIONBROKEN, T0)
    assert of(ctl.release_order(one_line_order(site), T0), SendAgvOrder) == []
    [cmd] = of(ctl.agv_state("AGV-04", idle("P4"), T0), SendAgvOrder)
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
    first = of(ctl.agv_connection("AGV-01", ConnectionState.ONLINE, T0), RequestAgvState)
    assert [r.serial_number for r in first] == ["AGV-01"]
    assert of(ctl.agv_connection("AGV-01", ConnectionState.ONLINE, T0), RequestAgvState) == []
    ctl.agv_connection("AGV-01", ConnectionState.CONNECTIONBROKEN, T0)
    again = of(ctl.agv_connection("AGV-01", ConnectionState.ONLINE, T0), RequestAgvState)
    assert len(again) == 1
    assert again[0].action_id != first[0].action_id


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
    assert of(ctl.release_order(one_line_order(site, "SO-1"), T0), SendAgvOrder) != []


def test_an_agv_reporting_a_node_off_the_map_is_not_dispatched(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    for agv in ("AGV-01", "AGV-02", "AGV-03"):
        out = ctl.agv_state(agv, idle("DOCK-7"), T0)
        assert Metric("agv_off_map", agv) in out
    [cmd] = of(ctl.release_order(one_line_order(site), T0), SendAgvOrder)
    assert cmd.serial_number == "AGV-04"
    assert of(ctl.tick(T0), SendAgvOrder) == []  # and nothing raises on later dispatches


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


def test_a_fetch_dropped_by_an_exception_is_not_sent_to_the_agv_that_failed_the_first(
    ctl: SiteController, site: Site
) -> None:
    agv = site.agvs[0]  # one AGV: the second line's fetch waits for it
    ctl.agv_connection(agv.serial_number, ConnectionState.ONLINE, T0)
    ctl.agv_state(agv.serial_number, idle(agv.start_node), T0)
    a, b = site.skus[0], site.skus[1]
    order = ReleasedOrder(
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
    [cmd] = of(ctl.release_order(order, T0), SendAgvOrder)
    failed = tuple(
        ActionState(x.action_id, x.action_type, ActionStatus.FAILED) for x in cmd.actions
    )
    state = AgvState(cmd.order_id, cmd.route[0].node_id, False, 0, 0, failed, (), "AUTOMATIC", 90.0)
    out = ctl.agv_state(cmd.serial_number, state, T0)  # the order ends: the AGV is free again
    assert reports(out) == [ReportType.ORDER_EXCEPTION]
    assert of(out, SendAgvOrder) == []
