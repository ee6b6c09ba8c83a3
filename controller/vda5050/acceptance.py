"""Whether the AGV took an order or update (items 38-40; §6.6.4.3, §6.10.6).

There is no acknowledgement in VDA 5050 2.x: a message counts as accepted only when a later
`state` shows its orderId and orderUpdateId and no error references it. Until then it is
re-published unchanged (same ids and content, next headerId) with back-off, a bounded number
of times, and then raised as an incident rather than retried forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from controller.vda5050.inbound import ErrorEntry, StateMessage
from controller.vda5050.order_builder import Order


@dataclass(frozen=True, slots=True)
class ResendPolicy:
    """`max_sends` counts the first send; waits grow `timeout`, `timeout*backoff`, …"""

    timeout: timedelta = timedelta(seconds=5)
    max_sends: int = 4
    backoff: float = 2.0

    def next_due(self, last_sent: datetime, sends: int) -> datetime:
        return last_sent + self.timeout * self.backoff ** (sends - 1)


class Delivery(StrEnum):
    PENDING = "pending"  # sent, not yet seen in a state
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # an error referenced it (item 40)
    UNCONFIRMED = "unconfirmed"  # resends exhausted (item 38)


@dataclass
class OrderTracker:
    """One orderId on one AGV: the last message sent for it and what became of it."""

    order: Order
    sent_at: datetime
    header_ids: list[int] = field(default_factory=list)
    sends: int = 1
    delivery: Delivery = Delivery.PENDING
    cancel_sent: bool = False  # item 39: no more updates after cancelOrder
    action_ids: set[str] = field(default_factory=set)  # every action sent for this orderId
    settled: bool = False  # completed, failed or cancelled was reported

    def __post_init__(self) -> None:
        self.action_ids.update(a.action_id for a in self.order.actions())

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def accepting_updates(self) -> bool:
        """Items 39, 40: updates only to an accepted order that was neither cancelled nor
        rejected (the previous message must be confirmed before stitching onto it)."""
        return self.delivery is Delivery.ACCEPTED and not self.cancel_sent and not self.settled

    def sent(self, order: Order, header_id: int, now: datetime) -> None:
        """A new message (the first, or an update) for this order went out."""
        self.order, self.sent_at, self.sends = order, now, 1
        self.header_ids = [header_id]
        self.delivery = Delivery.PENDING
        self.action_ids.update(a.action_id for a in order.actions())

    def resent(self, header_id: int, now: datetime) -> None:
        self.sent_at, self.sends = now, self.sends + 1
        self.header_ids.append(header_id)

    def rejection(self, state: StateMessage) -> tuple[ErrorEntry, ...]:
        """Errors that reference the pending message: by orderId (and orderUpdateId, when
        given) or by one of the headerIds it was sent with (§7.1)."""
        order = self.order

        def about_it(e: ErrorEntry) -> bool:
            update = e.reference("orderUpdateId")
            if e.reference("orderId") == order.order_id and update in (
                None,
                str(order.order_update_id),
            ):
                return True
            header = e.reference("headerId")
            return (
                header is not None
                and e.reference("topic") in (None, "order")
                and header in {str(h) for h in self.header_ids}
            )

        return tuple(e for e in state.errors if about_it(e))

    def on_state(self, state: StateMessage) -> Delivery | None:
        """The new delivery status if this state settles the pending message."""
        if self.delivery is not Delivery.PENDING:
            return None
        if self.rejection(state):
            self.delivery = Delivery.REJECTED
        elif (
            state.order_id == self.order.order_id
            and state.order_update_id >= self.order.order_update_id
        ):
            self.delivery = Delivery.ACCEPTED
        else:
            return None
        return self.delivery

    def resend_due(self, now: datetime, policy: ResendPolicy) -> bool | None:
        """True: resend now; False: give up (incident); None: nothing to do."""
        if self.delivery is not Delivery.PENDING or self.cancel_sent:
            return None
        if now < policy.next_due(self.sent_at, self.sends):
            return None
        if self.sends >= policy.max_sends:
            self.delivery = Delivery.UNCONFIRMED
            return False
        return True
