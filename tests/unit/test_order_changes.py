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
from controller.domain.tasks import TaskKind, TaskStatus
from controller.service.site_controller import (
    Metric,
    Notice,
    Output,
    SiteController,
    Stage,
    WorkRefused,
)
from tests.unit.floor_sim import deliver, floor_of, walk_to_packed
from tests.unit.site_testing import (
    PREFIX_LEN,
    T0,
    AgvOrder,
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


def load_id(cmd: AgvOrder) -> str:
    return cmd.load_id()


def kinds(ctl: SiteController, kind: TaskKind) -> list[TaskStatus]:
    return [t.status for t in ctl.tasks.values() if t.kind is kind]


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
    bring_online(ctl)
    order = one_line_order(site)
    [fetch] = agv_orders(ctl.release_order(order, T0))
    if lifted:
        assert reports(finish(ctl, fetch, "pick")) == [ReportType.ORDER_PICKING]
    out = ctl.cancel_order("SO-1", T0)
    assert reports(out) == []
    assert len(of(out, StationCancel)) == 1
    assert reports(ctl.cancel_order("SO-1", T0)) == []  # a repeat while it is still moving
    assert reports(finish(ctl, fetch, "pick")) == []  # no order.picking for a cancelled order
    out = finish(ctl, fetch, "pick", "drop")  # the tote arrives at the station
    assert reports(out) == CANCELLED
    assert of(out, StationPick) == []  # the operator is not told to pick from it
    [back] = agv_orders(out)
    assert load_id(back) == order.lines[0].allocations[0].tote_id
    assert back.nodes[-1] == order.lines[0].allocations[0].bin
    assert reports(ctl.cancel_order("SO-1", T0)) == CANCELLED  # a repeat now: at once


def test_a_tote_waiting_at_the_station_goes_home_and_a_pick_made_before_the_cancel_is_booked(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    pick = deliver(ctl, one_line_order(site))
    out = ctl.cancel_order("SO-1", T0)
    assert reports(out) == CANCELLED
    [back] = agv_orders(out)
    assert load_id(back) == pick.tote_id
    # The operator had finished the pick before the display heard of the cancel: the items
    # did leave the tote, so the stock report goes out (and no second trip home, no carton).
    late = ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    assert reports(late) == [ReportType.LINE_PICKED]
    assert of(late, StationCloseCarton) == []
    assert len(kinds(ctl, TaskKind.RETURN)) == 1


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
    bring_online(ctl)
    sscc, _ = walk_to_packed(ctl, site, one_line_order(site))
    ctl.sorter_scanned("T-1", ["00" + sscc])
    ctl.sorter_diverted("T-1", "C01")
    ctl.tag_reads("door-1", [TagRead(encode_sscc96(sscc, PREFIX_LEN), -40.0)], T0)
    out = ctl.cancel_order("SO-1", T0)
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
    ctl.release_order(one_line_order(site, qty=2, sku_index=0), T0)  # no AGV yet: queued
    v2 = replace(one_line_order(site, qty=3, sku_index=1), version=2)
    out = ctl.release_order(v2, T0)
    assert reports(out) == []
    assert Metric("amendments", "applied") in out
    [fetch] = agv_orders(online(ctl))
    assert load_id(fetch) == v2.lines[0].allocations[0].tote_id  # only the new version's tote
    finish(ctl, fetch, "pick")
    [pick] = of(finish(ctl, fetch, "pick", "drop"), StationPick)
    assert (pick.sku, pick.qty) == (v2.lines[0].sku, 3)
    assert sorted(kinds(ctl, TaskKind.FETCH)) == sorted(
        [TaskStatus.CANCELLED, TaskStatus.DELIVERED]
    )


def test_an_amendment_while_an_agv_drives_to_the_rack_applies_and_the_old_tote_goes_back(
    ctl: SiteController, site: Site
) -> None:
    bring_online(ctl)
    [old] = agv_orders(ctl.release_order(one_line_order(site, sku_index=0), T0))
    v2 = replace(one_line_order(site, qty=1, sku_index=1), version=2)
    out = ctl.release_order(v2, T0)
    assert Metric("amendments", "applied") in out
    [new] = agv_orders(out)
    assert reports(finish(ctl, old, "pick")) == []  # the old version's tote: no order.picking
    out = finish(ctl, old, "pick", "drop")
    assert of(out, StationPick) == []
    [back] = agv_orders(out)
    assert load_id(back) == load_id(old)
    assert reports(finish(ctl, new, "pick")) == [ReportType.ORDER_PICKING]
    [pick] = of(finish(ctl, new, "pick", "drop"), StationPick)
    assert (pick.sku, pick.qty) == (v2.lines[0].sku, 1)


@pytest.mark.parametrize("started", ["lifted", "picked"])
def test_an_amendment_after_work_started_is_refused_with_an_exception(
    ctl: SiteController, site: Site, started: str
) -> None:
    bring_online(ctl)
    v1 = one_line_order(site, qty=2)
    if started == "lifted":
        [fetch] = agv_orders(ctl.release_order(v1, T0))
        finish(ctl, fetch, "pick")
    else:
        pick = deliver(ctl, v1)
        ctl.station_picked(pick.station_id, pick.task_id, 2, T0)
    tasks_before = dict(ctl.tasks)
    out = ctl.release_order(replace(one_line_order(site, qty=5, sku_index=1), version=2), T0)
    [exception] = of(out, Report)
    assert exception.type is ReportType.ORDER_EXCEPTION
    assert exception.data["reason"] == "amendment_refused"
    assert "version 2 not applied" in exception.data["detail"]
    assert started in exception.data["detail"]
    assert agv_orders(out) == []
    assert ctl.orders["SO-1"].order == v1  # the lines stay those of version 1
    assert ctl.tasks == tasks_before  # nothing planned for version 2
    later = ctl.release_order(replace(v1, version=3), T0)  # the order is in exception now
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
    bring_online(ctl)
    request = putback_request(site)
    line = request.lines[0]
    out = ctl.request_putback(request, T0)
    [fetch] = agv_orders(out)
    pick, drop = fetch.actions
    assert fetch.nodes[pick["node_index"]] == line.bin
    assert params(pick) == {"loadId": line.tote_id, "stationType": "rack"}
    assert params(drop) == {"loadId": line.tote_id, "stationType": "station"}
    assert reports(finish(ctl, fetch, "pick")) == []
    [instruction] = of(finish(ctl, fetch, "pick", "drop"), StationPutBack)
    station = instruction.station_id
    assert fetch.nodes[-1] == site.station(station).node
    assert instruction == StationPutBack(
        station, fetch.order_id, "PB-1", "SO-9", "10", line.tote_id, line.sku, line.gtin, 2
    )
    out = ctl.station_put_back(station, instruction.task_id, 2, T0)
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
    [back] = agv_orders(out)
    assert (load_id(back), back.nodes[-1]) == (line.tote_id, line.bin)
    again = ctl.station_put_back(station, instruction.task_id, 2, T0)  # a QoS 1 redelivery
    assert reports(again) == []
    assert Metric("duplicate_confirmation", "putBack") in again


def test_a_put_back_waits_for_its_tote_to_be_home(ctl: SiteController, site: Site) -> None:
    bring_online(ctl)
    pick = deliver(ctl, one_line_order(site))  # the tote is at the station for SO-1
    assert agv_orders(ctl.request_putback(putback_request(site), T0)) == []
    [back] = agv_orders(ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0))
    finish(ctl, back, "pick")
    [fetch] = agv_orders(finish(ctl, back, "pick", "drop"))  # home: now fetched again
    assert load_id(fetch) == pick.tote_id


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
