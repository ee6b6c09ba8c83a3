"""Helpers of the site controller's tests: AGVs online, orders, an AGV finishing actions."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.domain.epc import encode_sgtin96
from controller.domain.layout import Site
from controller.domain.messages import (
    ActionState,
    ActionStatus,
    AgvState,
    Allocation,
    ConnectionState,
    ReleasedLine,
    ReleasedOrder,
    Report,
    ReportType,
    SendAgvOrder,
    StationCloseCarton,
    StationLabel,
    StationPick,
    TagRead,
)
from controller.service.site_controller import Output, SiteController

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PREFIX_LEN = 7  # the demo site's company prefix 0614141


def idle(node: str, order_id: str = "", actions: tuple[ActionState, ...] = ()) -> AgvState:
    return AgvState(order_id, node, False, 0, 0, actions, (), "AUTOMATIC", 90.0)


def of(outputs: list[Output], kind: type) -> list:
    return [o for o in outputs if isinstance(o, kind)]


def reports(outputs: list[Output]) -> list[ReportType]:
    return [r.type for r in of(outputs, Report)]


def bring_online(ctl: SiteController, now: datetime = T0) -> None:
    for agv in ctl.site.agvs:
        ctl.agv_connection(agv.serial_number, ConnectionState.ONLINE, now)
        ctl.agv_state(agv.serial_number, idle(agv.start_node), now)


def one_line_order(
    site: Site, order_id: str = "SO-1", qty: int = 2, sku_index: int = 0
) -> ReleasedOrder:
    sku = site.skus[sku_index]
    location = sku.bins[0]
    return ReleasedOrder(
        order_id,
        5,
        "DHL",
        (
            ReleasedLine(
                "10",
                sku.sku,
                sku.gtin,
                qty,
                (Allocation(location.node, location.tote_id, qty),),
            ),
        ),
    )


def finish(ctl: SiteController, cmd: SendAgvOrder, *done: str, now: datetime = T0) -> list[Output]:
    """The AGV reports its order with the given actions FINISHED (others WAITING)."""
    actions = tuple(
        ActionState(
            a.action_id,
            a.action_type,
            ActionStatus.FINISHED if a.action_type in done else ActionStatus.WAITING,
        )
        for a in cmd.actions
    )
    complete = "drop" in done
    node = cmd.route[-1].node_id if complete else cmd.route[cmd.actions[0].node_index].node_id
    state = AgvState(
        cmd.order_id, node, False, 0 if complete else 1, 0, actions, (), "AUTOMATIC", 90.0
    )
    return ctl.agv_state(cmd.serial_number, state, now)


def deliver(ctl: SiteController, order: ReleasedOrder) -> StationPick:
    """Release a single-line order and bring its tote to the station: the pick instruction."""
    [cmd] = of(ctl.release_order(order, T0), SendAgvOrder)
    finish(ctl, cmd, "pick")
    [pick] = of(finish(ctl, cmd, "pick", "drop"), StationPick)
    return pick


def walk_to_packed(
    ctl: SiteController, site: Site, order: ReleasedOrder
) -> tuple[str, list[Output]]:
    """Drive one single-line order from release to a verified carton; return its SSCC."""
    [cmd] = of(ctl.release_order(order, T0), SendAgvOrder)
    assert reports(finish(ctl, cmd, "pick")) == [ReportType.ORDER_PICKING]
    [pick] = of(finish(ctl, cmd, "pick", "drop"), StationPick)
    out = ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    assert reports(out) == [ReportType.LINE_PICKED, ReportType.ORDER_PICKED]
    assert of(out, StationCloseCarton) == [StationCloseCarton(pick.station_id, order.order_id)]
    assert ctl.station_carton_closed(pick.station_id, order.order_id, T0) == []
    reader = site.station(pick.station_id).rfid_reader
    epcs = [encode_sgtin96(pick.gtin, serial, PREFIX_LEN) for serial in range(1, pick.qty + 1)]
    out = ctl.tag_reads(reader, [TagRead(e, -45.0) for e in epcs + epcs], T0)
    [label] = of(out, StationLabel)
    assert reports(out) == [ReportType.ORDER_PACKED]
    return label.sscc, out
