"""Instant actions (items 27, 41-44, 47; §6.8, §6.9, §6.6.3).

Every instant action must show up in the AGV's `actionStates`; one that does not is resent
(same actionId) a bounded number of times, then raised as an incident. `cancelOrder` counts
only when its own action state is FINISHED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.domain.messages import FINAL_ACTION_STATUSES, ActionStatus
from controller.vda5050.acceptance import ResendPolicy
from controller.vda5050.actions import NEVER_INSTANT, Action, ActionScope, ActionSpec
from controller.vda5050.errors import InvalidInstantAction, InvalidOrder
from controller.vda5050.factsheet import Capabilities
from controller.vda5050.ids import IdFactory, check_id
from controller.vda5050.inbound import StateMessage
from controller.vda5050.order_builder import Order, check_action

CANCEL_ORDER = "cancelOrder"
# Sent whatever the operating mode (item 24 allows recovery): they stop, ask or relocalize.
RECOVERY_ACTIONS = frozenset(
    {
        "cancelOrder",
        "startPause",
        "stopPause",
        "stateRequest",
        "factsheetRequest",
        "logReport",
        "initPosition",
    }
)
# Would change the pose or energy state under a running order (item 42, §6.9).
CONFLICT_WITH_ORDER = frozenset({"initPosition", "startCharging"})
WAIT_FOR_TRIGGER = "waitForTrigger"
WAIT_FOR_TRIGGER_TIMEOUT = timedelta(minutes=5)  # [rec] the MC owns this timeout (§6.8.1)


def make_actions(
    specs: Sequence[ActionSpec], caps: Capabilities, new_id: IdFactory
) -> tuple[Action, ...]:
    """Items 26, 27, 41: non-empty, each with id, type and blocking type, instant-scoped."""
    if not specs:
        raise InvalidInstantAction("", "instantActions needs at least one action")
    if caps.arrays.instant_actions is not None and len(specs) > caps.arrays.instant_actions:
        raise InvalidInstantAction(
            specs[0].action_type, f"more than the AGV's {caps.arrays.instant_actions} at once"
        )
    actions: list[Action] = []
    for spec in specs:
        if spec.action_type in NEVER_INSTANT:
            raise InvalidInstantAction(
                spec.action_type, "not an instant action: send a one-node order on the current node"
            )
        action = spec.make(new_id)
        check_id(action.action_id, "actionId", max_len=caps.id_len)
        try:  # item 26: predefined (or factsheet-listed) parameter keys and blocking types
            check_action("instantActions", action, ActionScope.INSTANT, caps)
        except InvalidOrder as exc:
            raise InvalidInstantAction(spec.action_type, exc.problem) from None
        actions.append(action)
    if len({a.action_id for a in actions}) != len(actions):
        raise InvalidInstantAction(actions[0].action_type, "actionIds must be unique")
    return tuple(actions)


def conflict(actions: Sequence[Action], order: Order | None, order_active: bool) -> str | None:
    """Item 42: why these instant actions would conflict with the running order, if they do."""
    if order is not None:
        taken = {a.action_id for a in order.actions()}
        reused = [a.action_id for a in actions if a.action_id in taken]
        if reused:
            return f"actionIds {reused} belong to order {order.order_id}"
    if order_active:
        clashing = sorted({a.action_type for a in actions} & CONFLICT_WITH_ORDER)
        if clashing:
            return f"{clashing} while an order is running; cancel it first"
    return None


@dataclass
class _Pending:
    action: Action
    sent_at: datetime
    sends: int = 1


@dataclass
class InstantActionTracker:
    """Instant actions sent to one AGV: which are not yet echoed, and the last status seen."""

    pending: dict[str, _Pending] = field(default_factory=dict)
    statuses: dict[str, ActionStatus] = field(default_factory=dict)
    sent_actions: dict[str, Action] = field(default_factory=dict)
    cancels: dict[str, str] = field(default_factory=dict)  # cancelOrder actionId → orderId

    @property
    def action_ids(self) -> frozenset[str]:
        return frozenset(self.sent_actions)

    def sent(self, actions: Sequence[Action], now: datetime, order_id: str | None) -> None:
        for action in actions:
            self.pending[action.action_id] = _Pending(action, now)
            self.sent_actions[action.action_id] = action
            if action.action_type == CANCEL_ORDER and order_id is not None:
                self.cancels[action.action_id] = order_id

    def cancel_pending(self) -> bool:
        """A cancelOrder is sent and not yet final."""
        return any(
            self.statuses.get(action_id) not in FINAL_ACTION_STATUSES for action_id in self.cancels
        )

    def on_state(self, state: StateMessage) -> list[tuple[Action, ActionStatus]]:
        """Mark echoed actions; return those that reached FINISHED/FAILED with this state."""
        ended: list[tuple[Action, ActionStatus]] = []
        for entry in state.action_states:
            action = self.sent_actions.get(entry.action_id)
            if action is None:
                continue
            self.pending.pop(entry.action_id, None)
            before = self.statuses.get(entry.action_id)
            self.statuses[entry.action_id] = entry.status
            if entry.status in FINAL_ACTION_STATUSES and before not in FINAL_ACTION_STATUSES:
                ended.append((action, entry.status))
        return ended

    def due(self, now: datetime, policy: ResendPolicy) -> tuple[list[Action], list[Action]]:
        """(to resend now, given up on): bounded like orders (item 43)."""
        resend: list[Action] = []
        give_up: list[Action] = []
        for action_id, p in list(self.pending.items()):
            if now < policy.next_due(p.sent_at, p.sends):
                continue
            if p.sends >= policy.max_sends:
                give_up.append(p.action)
                del self.pending[action_id]
            else:
                p.sent_at, p.sends = now, p.sends + 1
                resend.append(p.action)
        return resend, give_up


@dataclass
class TriggerWatch:
    """Item 47: a `waitForTrigger` the AGV has been RUNNING (waiting) for too long."""

    timeout: timedelta = WAIT_FOR_TRIGGER_TIMEOUT
    action_ids: set[str] = field(default_factory=set)  # of every message sent for the order
    waiting_since: dict[str, datetime] = field(default_factory=dict)

    def expect(self, order: Order) -> None:
        self.action_ids.update(
            a.action_id for a in order.actions() if a.action_type == WAIT_FOR_TRIGGER
        )

    def on_state(self, state: StateMessage, now: datetime) -> None:
        for entry in state.action_states:
            if entry.action_id not in self.action_ids:
                continue
            if entry.status in (ActionStatus.RUNNING, ActionStatus.PAUSED):
                self.waiting_since.setdefault(entry.action_id, now)
            else:
                self.waiting_since.pop(entry.action_id, None)

    def expired(self, now: datetime) -> list[str]:
        gone = [a for a, since in self.waiting_since.items() if now - since >= self.timeout]
        for action_id in gone:
            del self.waiting_since[action_id]
        return gone
