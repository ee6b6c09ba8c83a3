"""A received MQTT message → its codec → the site controller handler it is for."""

from __future__ import annotations

from datetime import datetime

from controller.domain.layout import Site
from controller.domain.messages import TagRead
from controller.service.site_controller import Output, SiteController, UnknownDevice
from controller.vda5050.errors import MalformedMessage
from controller.vda5050.events import MessageIgnored
from edge.codecs import dock, sorter, station
from edge.codecs.common import parse_json_object
from edge.codecs.errors import PayloadError
from edge.codecs.rfid import parse_reader_payload
from edge.mqtt.topics import Kind, Matched


def dispatch(
    controller: SiteController, site: Site, route: Matched, payload: bytes, now: datetime
) -> list[Output]:
    """Decode and handle one message. Raises PayloadError (malformed) or UnknownDevice."""
    match route.kind:
        case Kind.AGV_STATE | Kind.AGV_CONNECTION | Kind.AGV_FACTSHEET:
            return _agv_message(controller, route, payload, now)
        case Kind.RFID:
            reader = site.reader(route.device)
            reads = parse_reader_payload(payload, reader.format.value)
            return controller.tag_reads(
                reader.id, [TagRead(r.epc_hex, r.rssi_dbm) for r in reads], now
            )
        case Kind.SORTER:
            if route.device != site.sorter.id:
                raise UnknownDevice("sorter", route.device)
            return _sorter_event(controller, sorter.decode_event(payload))
        case Kind.STATION:
            return _station_event(controller, route.device, station.decode_event(payload), now)
        case Kind.DOCK:
            departure = dock.decode_event(payload)
            return controller.truck_departed(route.device, departure.ts)


def _agv_message(
    controller: SiteController, route: Matched, payload: bytes, now: datetime
) -> list[Output]:
    """VDA 5050 from an AGV: its master control (controller/vda5050) reads the JSON; what
    it cannot read is a PayloadError like any other malformed payload."""
    agv = controller.agvs.get(route.device)
    if agv is None or agv.manufacturer != route.manufacturer:
        raise UnknownDevice("AGV", f"{route.manufacturer}/{route.device}")
    message = parse_json_object(payload)
    handler = {
        Kind.AGV_STATE: controller.agv_state,
        Kind.AGV_CONNECTION: controller.agv_connection,
        Kind.AGV_FACTSHEET: controller.agv_factsheet,
    }[route.kind]
    try:
        outputs = handler(route.device, message, now)
    except MalformedMessage as exc:
        raise PayloadError(str(exc)) from exc
    for output in outputs:  # CHECKLIST 13: wrong for its topic, so dropped as malformed
        if isinstance(output, MessageIgnored) and output.names_another_vehicle:
            raise PayloadError(output.reason)
    return outputs


def _sorter_event(controller: SiteController, event: sorter.SorterEvent) -> list[Output]:
    match event:
        case sorter.SorterScanned():
            return controller.sorter_scanned(event.trackId, event.codes)
        case sorter.SorterDiverted():
            return controller.sorter_diverted(event.trackId, event.chute)
        case sorter.SorterLost(event="recirculated"):
            return []  # it comes round again and is scanned again
        case sorter.SorterLost():
            return controller.sorter_lost(event.trackId, event.event, event.reason)
        case sorter.ChuteStatus():
            return controller.chute_status(event.chute, event.state)


def _station_event(
    controller: SiteController, station_id: str, event: station.StationEvent, now: datetime
) -> list[Output]:
    match event:
        case station.StationPicked():
            return controller.station_picked(station_id, event.taskId, event.qty, now)
        case station.CartonClosed():
            return controller.station_carton_closed(station_id, event.orderId, now)
        case station.Labelled():
            controller.require_station(station_id)
            return []
        case station.PutBackConfirmed():
            return controller.station_put_back(station_id, event.taskId, event.qty, now)
