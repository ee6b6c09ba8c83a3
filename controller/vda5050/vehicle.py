"""The master control's view of one AGV from its `state`, `connection` and `factsheet`
(section F-I of the checklist): is it ready for an order, halted, stale, and what do its
errors refer to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from controller.domain.messages import FINAL_ACTION_STATUSES, ActionStatus, ConnectionState
from controller.vda5050.actions import legal_transition
from controller.vda5050.events import Event, IllegalActionTransition, MessageIgnored
from controller.vda5050.factsheet import Capabilities, predefined_only
from controller.vda5050.headers import AgvAddress, Topic
from controller.vda5050.inbound import (
    ConnectionMessage,
    ErrorEntry,
    Header,
    Load,
    Position,
    StateMessage,
)

STATE_INTERVAL = timedelta(seconds=30)  # §6.10: a state at least every 30 s
STALE_MARGIN = timedelta(seconds=5)  # transport and timer jitter on top of the interval
DISPATCHABLE_MODES = frozenset({"AUTOMATIC", "SEMIAUTOMATIC"})  # §6.10.6 Table 1 (item 24)


class Blocker(StrEnum):
    """Why an AGV may not get an order now."""

    NO_STATE = "no_state"
    STALE = "stale"  # item 48
    OFFLINE = "offline"  # item 70
    FATAL_ERROR = "fatal_error"  # item 58
    OPERATING_MODE = "operating_mode"  # item 24
    CHARGING = "charging"  # item 59
    PAUSED = "paused"  # item 46: it takes an order and stands still until stopPause
    HALTED = "halted"  # item 60


@dataclass(frozen=True, slots=True)
class Readiness:
    blockers: tuple[Blocker, ...]
    warnings: tuple[ErrorEntry, ...]  # item 58: dispatchable, but shown to operators

    @property
    def ready(self) -> bool:
        return not self.blockers


def references(
    error: ErrorEntry, *, order_id: str | None = None, action_ids: frozenset[str] = frozenset()
) -> bool:
    """Item 65 (§7.1): whether `error` names this order or one of these actions."""
    if order_id is not None and error.reference("orderId") == order_id:
        return True
    action = error.reference("actionId")
    return action is not None and action in action_ids


def _older(new: Header, last: Header) -> bool:
    """Item 10: a headerId going back is only "older" if the timestamp agrees (a rebooted
    AGV restarts its counter; QoS 0 loses messages, so gaps are normal)."""
    return new.header_id <= last.header_id and new.timestamp <= last.timestamp


@dataclass
class VehicleView:
    address: AgvAddress
    stale_margin: timedelta = STALE_MARGIN
    state: StateMessage | None = None
    state_at: datetime | None = None
    connection: ConnectionState | None = None
    capabilities: Capabilities = field(default_factory=predefined_only)
    ignored_messages: int = 0

    @property
    def serial_number(self) -> str:
        return self.address.serial_number

    def _names_us(self, topic: Topic, manufacturer: str, serial_number: str) -> Event | None:
        """Item 13: a message whose header names another vehicle than its topic is flagged
        and not processed."""
        if (manufacturer, serial_number) == (self.address.manufacturer, self.serial_number):
            return None
        self.ignored_messages += 1
        return MessageIgnored(
            self.serial_number,
            topic,
            f"header names {manufacturer}/{serial_number}",
            names_another_vehicle=True,
        )

    def apply_state(self, message: StateMessage, now: datetime) -> tuple[bool, list[Event]]:
        """Take a state in; (False, events) if it was not processed."""
        h = message.header
        mismatch = self._names_us(Topic.STATE, h.manufacturer, h.serial_number)
        if mismatch is not None:
            return False, [mismatch]
        previous = self.state
        if previous is not None and _older(message.header, previous.header):
            self.ignored_messages += 1
            return False, [MessageIgnored(self.serial_number, Topic.STATE, "older than the last")]
        events: list[Event] = []
        if previous is not None:
            before = {a.action_id: a.status for a in previous.action_states}
            for a in message.action_states:
                old = before.get(a.action_id)
                if old is not None and not legal_transition(old, a.status):
                    events.append(
                        IllegalActionTransition(self.serial_number, a.action_id, old, a.status)
                    )
        self.state, self.state_at = message, now
        return True, events

    def apply_connection(self, message: ConnectionMessage) -> list[Event]:
        """Every connection message is current when it arrives, whatever its header says: a
        retained one on (re)subscribe (item 7), and the broker's last will, whose
        timestamp/headerId date from the AGV's CONNECT (item 71, §6.14)."""
        h = message.header
        mismatch = self._names_us(Topic.CONNECTION, h.manufacturer, h.serial_number)
        if mismatch is not None:
            return [mismatch]
        self.connection = message.state
        return []

    def apply_factsheet(
        self, manufacturer: str, serial_number: str, capabilities: Capabilities
    ) -> list[Event]:
        """The retained factsheet counts as current too (item 7); its header has no required
        headerId/timestamp, so only the identity is checked."""
        mismatch = self._names_us(Topic.FACTSHEET, manufacturer, serial_number)
        if mismatch is not None:
            return [mismatch]
        self.capabilities = capabilities
        return []

    # --- derived facts -------------------------------------------------------------------

    def stale(self, now: datetime) -> bool:
        """Item 48: no state for the AGV's state interval (factsheet `defaultStateInterval`,
        else 30 s) plus a margin."""
        if self.state_at is None:
            return True
        interval = self.capabilities.default_state_interval or STATE_INTERVAL
        return now - self.state_at > interval + self.stale_margin

    @property
    def online(self) -> bool:
        return self.connection is ConnectionState.ONLINE

    @property
    def halted(self) -> bool:
        """Item 60: an emergency stop or protective field violation halts the AGV; its order
        is not failed by that."""
        s = self.state
        return s is not None and (s.e_stop != "NONE" or s.field_violation)

    @property
    def position(self) -> Position | None:
        """Item 56: the reported pose only when the AGV says it is localized."""
        s = self.state
        if s is None or s.position is None or not s.position.initialized:
            return None
        return s.position

    @property
    def loads(self) -> tuple[Load, ...] | None:
        """Item 55: None = the AGV does not report loads (unknown); () = it carries nothing."""
        return None if self.state is None else self.state.loads

    def idle(self, ignore_action_ids: frozenset[str] = frozenset()) -> bool:
        """Item 23 (Fig. 8 step 3): no nodes or edges left and every order action final.
        `ignore_action_ids`: instant actions, which 2.x lists in the same `actionStates`."""
        s = self.state
        return (
            s is not None
            and not s.node_states
            and not s.edge_states
            and all(
                a.status in FINAL_ACTION_STATUSES
                for a in s.action_states
                if a.action_id not in ignore_action_ids
            )
        )

    def readiness(self, now: datetime, *, charging_order: bool = False) -> Readiness:
        """Whether the AGV may get an order now. `connection` is not a health check (item 70):
        ONLINE alone makes nothing ready; the state's freshness does."""
        s = self.state
        if s is None:
            return Readiness((Blocker.NO_STATE,), ())
        blockers: list[Blocker] = []
        if self.stale(now):
            blockers.append(Blocker.STALE)
        if not self.online:
            blockers.append(Blocker.OFFLINE)
        if any(e.level == "FATAL" for e in s.errors):
            blockers.append(Blocker.FATAL_ERROR)
        if s.operating_mode not in DISPATCHABLE_MODES:
            blockers.append(Blocker.OPERATING_MODE)
        if s.charging and not charging_order:
            blockers.append(Blocker.CHARGING)
        if s.paused:
            blockers.append(Blocker.PAUSED)
        if self.halted:
            blockers.append(Blocker.HALTED)
        warnings = tuple(e for e in s.errors if e.level == "WARNING")
        return Readiness(tuple(blockers), warnings)

    def reserved_nodes(self) -> tuple[str, ...]:
        """Item 70: the nodes the AGV still holds: where it is and its released base. Kept
        while it is OFFLINE/CONNECTIONBROKEN, since it keeps driving its base (§6.14)."""
        s = self.state
        if s is None:
            return ()
        ahead = tuple(n.node_id for n in s.node_states if n.released)
        return ((s.last_node_id,) if s.last_node_id else ()) + ahead

    def errors_about(
        self, *, order_id: str | None = None, action_ids: frozenset[str] = frozenset()
    ) -> tuple[ErrorEntry, ...]:
        """Item 65: the current errors that reference this order or these actions."""
        if self.state is None:
            return ()
        return tuple(
            e for e in self.state.errors if references(e, order_id=order_id, action_ids=action_ids)
        )

    def action_status(self, action_id: str) -> ActionStatus | None:
        if self.state is None:
            return None
        return next((a.status for a in self.state.action_states if a.action_id == action_id), None)
