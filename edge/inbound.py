"""A received MQTT message → its codec → the site controller handler it is for."""

from __future__ import annotations

from datetime import datetime

from controller.domain.layout import Site
from controller.domain.messages import TagRead
from controller.service.site_controller import Output, SiteController, UnknownDevice
from edge.codecs import dock, sorter, station, vda5050
from edge.codecs.rfid import parse_reader_payload
from edge.mqtt.topics import Kind, Matched


def dispatch(
    controller: SiteController, site: Site, route: Matched, payload: bytes, now: datetime
) -> list[Output]:
    """Decode and handle one message. Raises PayloadError (malformed) or UnknownDevice."""
    match route.kind:
        case Kind.AGV_STATE:
            state = vda5050.decode_state(payload, route.manufacturer, route.device)
            return controller.agv_state(route.device, state, now)
        case Kind.AGV_CONNECTION:
            connection = vda5050.decode_connection(payload, route.manufacturer, route.device)
            return controller.agv_connection(route.device, connection, now)
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
