"""Effects of the site controller as MQTT publications and central API events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from controller.domain.layout import Site
from controller.domain.messages import (
    DeviceCommand,
    Report,
    RequestAgvState,
    SendAgvOrder,
    SorterDivert,
    StationCancel,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationPutBack,
    StationReject,
)
from edge.codecs import sorter, station
from edge.codecs.common import utc_timestamp
from edge.codecs.vda5050 import OrderEncoder
from edge.mqtt.connection import Publication
from edge.mqtt.topics import agv_topic, sorter_commands, station_commands

VDA_ORDER_QOS = 0  # VDA 5050 §6.2 / CHECKLIST 4: order and instantActions at QoS 0


class Outbound:
    def __init__(self, site: Site) -> None:
        self.site_id = site.site
        self._orders = OrderEncoder(site.map_id)
        self._manufacturer = {agv.serial_number: agv.manufacturer for agv in site.agvs}

    def publication(self, cmd: DeviceCommand, now: datetime) -> Publication:
        match cmd:
            case SendAgvOrder():
                manufacturer = self._manufacturer[cmd.serial_number]
                return Publication(
                    agv_topic(manufacturer, cmd.serial_number, "order"),
                    self._orders.order(cmd, manufacturer, now),
                    qos=VDA_ORDER_QOS,
                )
            case RequestAgvState():
                manufacturer = self._manufacturer[cmd.serial_number]
                return Publication(
                    agv_topic(manufacturer, cmd.serial_number, "instantActions"),
                    self._orders.state_request(cmd, manufacturer, now),
                    qos=VDA_ORDER_QOS,
                )
            case (
                StationPick()
                | StationCloseCarton()
                | StationLabel()
                | StationReject()
                | StationCancel()
                | StationPutBack()
            ):
                return Publication(
                    station_commands(self.site_id, cmd.station_id),
                    station.encode_command(cmd, now),
                )
            case SorterDivert():
                return Publication(
                    sorter_commands(self.site_id, cmd.sorter_id), sorter.encode_divert(cmd, now)
                )


def report_event(report: Report, now: datetime) -> dict[str, Any]:
    """A report as an ingest event; its id makes redelivery harmless."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": report.type.value,
        "order_id": report.order_id,
        "occurred_at": utc_timestamp(now, 6),
        "data": report.data,
    }
