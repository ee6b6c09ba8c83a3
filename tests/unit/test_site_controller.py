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
from controller.domain.tasks import MAX_ATTEMPTS, TOTE_LOST
from controller.service.site_controller import Metric, Output, SiteController, WorkRefused
from controller.vda5050.events import Publish
from tests.unit.floor_sim import deliver, floor_of, walk_to_packed
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
    bring_online(ctl)
    order = one_line_order(site)
    [cmd] = agv_orders(ctl.release_order(order, T0))
    bin_node = order.lines[0].allocations[0].bin
    pick, drop = cmd.actions
    assert (pick["actionType"], cmd.nodes[pick["node_index"]]) == ("pick", bin_node)
    assert (drop["actionType"], cmd.nodes[drop["node_index"]]) == ("drop", "ST1")
    assert drop["node_index"] == len(cmd.nodes) - 1
    start = cmd.nodes[0]
    assert start == next(a.start_node for a in site.agvs if a.serial_number == cmd.serial_number)
    # the nearest of the four parked AGVs to the rack is chosen
    distances = {a.serial_number: ctl.floor.distance(a.start_node, bin_node) for a in site.agvs}
    assert distances[cmd.serial_number] == min(distances.values())
    # consecutive route nodes are neighbours on the floor graph
    edges = {frozenset((e.a, e.b)) for e in site.edges}
    for a, b in zip(cmd.nodes, cmd.nodes[1:], strict=False):
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
    bring_online(ctl)
    order = one_line_order(site)
    [cmd] = agv_orders(ctl.release_order(order, T0))
    finish(ctl, cmd, "pick")
    out = finish(ctl, cmd, "pick", "drop")
    assert Metric("agv_trips", "fetch") in out
    [pick] = of(out, StationPick)
    out = ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    [back] = agv_orders(out)
    tote = order.lines[0].allocations[0]
    assert back.nodes[back.action("pick")["node_index"]] == "ST1"
    assert back.nodes[-1] == tote.bin
    assert back.load_id() == tote.tote_id


def test_a_second_order_for_the_same_tote_waits_until_it_is_home(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    [first] = agv_orders(ctl.release_order(one_line_order(site, "SO-1"), T0))
    assert agv_orders(ctl.release_order(one_line_order(site, "SO-2"), T0)) == []
    finish(ctl, first, "pick")
    [pick] = of(finish(ctl, first, "pick", "drop"), StationPick)
    [back] = agv_orders(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0))
    finish(ctl, back, "pick")
    [second] = agv_orders(finish(ctl, back, "pick", "drop"))
    assert second.load_id() == first.load_id()


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


def two_line_order_with_one_agv(ctl: SiteController, site: Site) -> ReleasedOrder:
    agv = site.agvs[0]  # one AGV: the second line's fetch waits for it
    ctl.agv_connection(agv.serial_number, connection(agv.serial_number), T0)
    ctl.agv_state(agv.serial_number, idle(agv.serial_number, agv.start_node), T0)
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


def cancelled(sent: AgvOrder, out: list[Output]) -> dict[str, Any]:
    """The AGV's state once the cancelOrder among `out` is done: the order's actions that
    had not ended are FAILED (CHECKLIST 44)."""
    [cancel] = [
        a
        for o in out
        if isinstance(o, Publish) and o.topic.value == "instantActions"
        for a in o.message["actions"]
    ]
    message = progress(sent, failed="pick")
    for action in message["actionStates"]:
        if action["actionStatus"] == "WAITING":
            action["actionStatus"] = "FAILED"
    message["actionStates"].append(
        {"actionId": cancel["actionId"], "actionType": "cancelOrder", "actionStatus": "FINISHED"}
    )
    return message


def test_a_pick_that_fails_with_the_tote_still_home_is_sent_again_as_a_new_order(
    ctl: SiteController, site: Site
) -> None:
    [first] = agv_orders(ctl.release_order(two_line_order_with_one_agv(ctl, site), T0))
    out = ctl.agv_state(first.serial_number, progress(first, failed="pick"), T0)
    assert reports(out) == []
    assert Metric("task_requeued", "agv_failed") in out
    assert instant_actions(out) == ["cancelOrder"]  # it would drive on to drop nothing
    assert agv_orders(out) == []
    out = ctl.agv_state(first.serial_number, cancelled(first, out), T0)
    [again] = agv_orders(out)  # the same tote, under a new orderId (CHECKLIST 23)
    assert again.load_id() == first.load_id()
    assert again.order_id == f"{first.order_id}.2"
    assert again.action("pick")["actionId"] != first.action("pick")["actionId"]


def test_a_pick_failing_on_every_attempt_is_escalated_and_its_order_stops(
    ctl: SiteController, site: Site
) -> None:
    [sent] = agv_orders(ctl.release_order(two_line_order_with_one_agv(ctl, site), T0))
    for _ in range(MAX_ATTEMPTS - 1):
        out = ctl.agv_state(sent.serial_number, progress(sent, failed="pick"), T0)
        [sent] = agv_orders(ctl.agv_state(sent.serial_number, cancelled(sent, out), T0))
    out = ctl.agv_state(sent.serial_number, progress(sent, failed="pick"), T0)
    assert reports(out) == [ReportType.ORDER_EXCEPTION]
    assert of(out, Report)[0].data["reason"] == "agv_failed"
    assert agv_orders(out) == []  # the second line's fetch went with the exception


def test_a_drop_that_fails_with_the_tote_on_board_is_escalated_at_once(
    ctl: SiteController, site: Site
) -> None:
    [sent] = agv_orders(ctl.release_order(two_line_order_with_one_agv(ctl, site), T0))
    finish(ctl, sent, "pick")
    out = ctl.agv_state(sent.serial_number, progress(sent, "pick", failed="drop"), T0)
    assert reports(out) == [ReportType.ORDER_EXCEPTION]
    assert ctl.tote_at[sent.load_id()] == f"agv:{sent.serial_number}"  # where a person finds it


def fail_with_the_tote_on_board(ctl: SiteController, site: Site, order_id: str) -> AgvOrder:
    """A one-line order's fetch: pick done, then a FATAL error; the order ends in an
    exception and the AGV still carries the tote."""
    [sent] = agv_orders(ctl.release_order(one_line_order(site, order_id), T0))
    ctl.agv_state(sent.serial_number, progress(sent, "pick", loads=loads(sent.load_id())), T0)
    fatal = {
        "errorType": "driveFault",
        "errorLevel": "FATAL",
        "errorReferences": [{"referenceKey": "orderId", "referenceValue": sent.order_id}],
    }
    stopped = progress(sent, "pick", failed="drop", errors=[fatal], loads=loads(sent.load_id()))
    out = ctl.agv_state(sent.serial_number, stopped, T0)
    assert of(out, Report)[0].data["reason"] == "agv_failed"
    return sent


def loads(*tote_ids: str) -> list[dict[str, Any]]:
    return [{"loadId": t, "loadType": "TOTE", "loadPosition": "LHD1"} for t in tote_ids]


def test_an_agv_left_carrying_a_tote_takes_it_home_once_its_fatal_error_is_cleared(
    ctl: SiteController, site: Site
) -> None:
    """Its task failed with the tote on board. That AGV, and no other, takes the tote home
    once it is ready again: from where it stands, a drop and no pick (a fetch would fail at
    the pick: loadHandlingDeviceOccupied). Other work goes to other AGVs meanwhile."""
    bring_online(ctl)
    sent = fail_with_the_tote_on_board(ctl, site, "SO-1")
    serial, tote = sent.serial_number, sent.load_id()
    assert ctl.tote_at[tote] == f"agv:{serial}"

    cleared = progress(sent, "pick", failed="drop", loads=loads(tote))  # tote still on board
    [home] = agv_orders(ctl.agv_state(serial, cleared, T0))
    assert home.serial_number == serial
    assert [a["actionType"] for a in home.actions] == ["drop"]
    assert home.load_id() == tote
    assert home.nodes[0] == cleared["lastNodeId"]
    assert home.nodes[-1] == ctl.tote_home[tote]
    [next_fetch] = agv_orders(ctl.release_order(one_line_order(site, "SO-2", sku_index=1), T0))
    assert next_fetch.serial_number != serial

    ctl.agv_state(serial, progress(home, loads=loads(tote)), T0)
    ctl.agv_state(serial, progress(home, "drop", loads=[]), T0)
    assert ctl.tote_at[tote] == ctl.tote_home[tote]
    assert ctl.agvs[serial].dispatchable(T0)


def test_a_fetch_of_a_tote_stuck_on_a_failed_agv_goes_once_the_tote_is_home(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sent = fail_with_the_tote_on_board(ctl, site, "SO-1")
    serial, tote = sent.serial_number, sent.load_id()
    assert agv_orders(ctl.release_order(one_line_order(site, "SO-2"), T0)) == []  # waits

    cleared = progress(sent, "pick", failed="drop", loads=loads(tote))
    [home] = agv_orders(ctl.agv_state(serial, cleared, T0))
    ctl.agv_state(serial, progress(home, loads=loads(tote)), T0)
    [fetch] = agv_orders(ctl.agv_state(serial, progress(home, "drop", loads=[]), T0))
    assert fetch.load_id() == tote
    assert fetch.nodes[-1] != ctl.tote_home[tote]  # on its way to the station


def test_a_tote_taken_off_a_failed_agv_by_hand_is_lost_and_its_next_fetch_an_exception(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    sent = fail_with_the_tote_on_board(ctl, site, "SO-1")
    serial, tote = sent.serial_number, sent.load_id()
    out = ctl.agv_state(serial, progress(sent, "pick", failed="drop", loads=[]), T0)
    assert agv_orders(out) == []
    assert ctl.tote_at[tote] == TOTE_LOST
    assert of(out, Metric).count(Metric("task_failed", "tote_off_agv")) == 1

    out = ctl.release_order(one_line_order(site, "SO-2"), T0)  # wants that tote
    assert agv_orders(out) == []
    [exception] = of(out, Report)
    assert (exception.order_id, exception.data["reason"]) == ("SO-2", "tote_lost")


def test_a_pick_reported_with_another_tote_on_board_stops_the_trip_in_an_exception(
    ctl: SiteController, site: Site
) -> None:
    """CHECKLIST 55 / task lifecycle: the load is reconciled with the tote the task expects."""
    bring_online(ctl)
    [sent] = agv_orders(ctl.release_order(one_line_order(site, "SO-1"), T0))
    out = ctl.agv_state(sent.serial_number, progress(sent, "pick", loads=loads("TOTE-9999")), T0)
    assert instant_actions(out) == ["cancelOrder"]
    [exception] = of(out, Report)
    assert exception.data["reason"] == "tote_mismatch"
    assert of(out, StationPick) == []
    assert ctl.tote_at[sent.load_id()] == TOTE_LOST
    assert not ctl.agvs[sent.serial_number].dispatchable(T0)  # it carries a stranger


def test_a_drop_reported_with_the_tote_still_on_board_is_a_mismatch(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    [sent] = agv_orders(ctl.release_order(one_line_order(site, "SO-1"), T0))
    tote = loads(sent.load_id())
    ctl.agv_state(sent.serial_number, progress(sent, "pick", loads=tote), T0)
    out = ctl.agv_state(sent.serial_number, progress(sent, "pick", "drop", loads=tote), T0)
    assert [r.data["reason"] for r in of(out, Report)] == ["tote_mismatch"]
    assert of(out, StationPick) == []


@pytest.mark.parametrize(
    "reported", [None, [{"loadType": "TOTE"}]], ids=["no_loads_field", "load_without_an_id"]
)
def test_loads_that_cannot_tell_which_tote_contradict_nothing(
    ctl: SiteController, site: Site, reported: list[dict[str, Any]] | None
) -> None:
    bring_online(ctl)
    [sent] = agv_orders(ctl.release_order(one_line_order(site, "SO-1"), T0))
    extra = {} if reported is None else {"loads": reported}
    ctl.agv_state(sent.serial_number, progress(sent, "pick", **extra), T0)
    out = ctl.agv_state(sent.serial_number, progress(sent, "pick", "drop", **extra), T0)
    assert len(of(out, StationPick)) == 1
    assert of(out, Report) == []


def test_an_order_the_agv_rejects_is_sent_again_and_escalated_after_the_last_attempt(
    ctl: SiteController, site: Site
) -> None:
    """CHECKLIST 40: a rejection stops that order; the task is not left assigned."""
    [sent] = agv_orders(ctl.release_order(two_line_order_with_one_agv(ctl, site), T0))
    refusal = {
        "errorType": "orderError",
        "errorLevel": "WARNING",
        "errorReferences": [{"referenceKey": "orderId", "referenceValue": sent.order_id}],
    }
    home = sent.nodes[0]
    out = ctl.agv_state(sent.serial_number, state(sent.serial_number, home, errors=[refusal]), T0)
    assert Metric("task_requeued", "agv_order_rejected") in out
    [again] = agv_orders(out)
    assert again.order_id != sent.order_id
    accepted = ctl.agv_state(again.serial_number, progress(again), T0)
    assert Metric("agv_orders", "accepted") in accepted
    assert ctl.tasks[ctl.agvs[again.serial_number].task_id or ""].status == "accepted"


def test_an_order_never_echoed_is_resent_then_sent_again_as_a_new_order(
    ctl: SiteController, site: Site
) -> None:
    """CHECKLIST 38: a lost QoS 0 order is resent a bounded number of times, then the task is
    queued again; nothing waits for it for ever."""
    [sent] = agv_orders(ctl.release_order(two_line_order_with_one_agv(ctl, site), T0))
    serial, home = sent.serial_number, sent.nodes[0]
    now, resent, renewed = T0, [], []
    for _ in range(20):
        now += timedelta(seconds=5)
        ctl.agv_state(serial, idle(serial, home), now)  # alive, but the order never arrives
        out = ctl.tick(now)
        resent += [o for o in agv_orders(out) if o.order_id == sent.order_id]
        renewed += [o for o in agv_orders(out) if o.order_id != sent.order_id]
        if renewed:
            break
    assert resent, "the order was never resent"
    assert len(resent) < 10
    assert [o.load_id() for o in renewed] == [sent.load_id()]
