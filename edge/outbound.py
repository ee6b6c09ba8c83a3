"""Effects of the site controller as MQTT publications and central API events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from controller.domain.layout import Site
from controller.domain.messages import (
    DeviceCommand,
    Report,
    SorterDivert,
    StationCancel,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationPutBack,
    StationReject,
)
from controller.vda5050.events import Publish
from edge.codecs import sorter, station
from edge.codecs.common import utc_timestamp
from edge.mqtt.connection import Publication
from edge.mqtt.topics import sorter_commands, station_commands

VDA_ORDER_QOS = 0  # VDA 5050 §6.2 / CHECKLIST 4: order and instantActions at QoS 0


class Outbound:
    def __init__(self, site: Site) -> None:
        self.site_id = site.site

    def publication(self, cmd: DeviceCommand | Publish, now: datetime) -> Publication:
        match cmd:
            case Publish():  # built, headed and checked by the AGV's master control
                return Publication(cmd.topic_name, cmd.payload(), qos=VDA_ORDER_QOS)
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
