"""Order updates stitched at the decision point (items 32-36; §6.6.2, Fig. 8).

An update keeps the orderId, counts orderUpdateId up by one, starts with the decision point
(the last released node sent) unchanged and with its sequenceId, continues the sequence ids
from there, and never changes what was released: a different route inside the base needs
`cancelOrder` and a new order.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.vda5050.errors import InvalidOrder
from controller.vda5050.factsheet import Capabilities
from controller.vda5050.ids import IdFactory
from controller.vda5050.inbound import MapEntry, StateMessage
from controller.vda5050.order_builder import (
    EdgeSpec,
    Node,
    NodeSpec,
    Order,
    assemble,
    check_maps,
    check_unique_action_ids,
)


def stitch_node(previous: Order, state: StateMessage | None) -> Node:
    """Where the update starts. Normally the decision point of the last message; once the AGV
    reports this order with an empty base and no horizon, its `lastNodeId` +
    `lastNodeSequenceId` (item 35, Fig. 8 step 8)."""
    if (
        state is not None
        and state.order_id == previous.order_id
        and not state.node_states
        and not state.edge_states
    ):
        key = (state.last_node_id, state.last_node_sequence_id)
        for node in previous.nodes:
            if (node.node_id, node.sequence_id) == key:
                return node
        raise InvalidOrder(
            previous.order_id, f"the AGV's last node {key} is not in the order we sent"
        )
    return previous.decision_point


def _unchanged(first: Node, spec: NodeSpec) -> bool:
    """Whether the route's first node is the sent node (item 36: released is immutable)."""
    pos = first.position
    same_place = (spec.node_id, spec.x, spec.y, spec.map_id) == (
        first.node_id,
        pos.x,
        pos.y,
        pos.map_id,
    )
    return (
        same_place
        and len(spec.actions) == len(first.actions)
        and all(s.same_as(a) for s, a in zip(spec.actions, first.actions, strict=True))
    )


def build_update(
    previous: Order,
    route: Sequence[NodeSpec],
    *,
    released: int,
    caps: Capabilities,
    new_id: IdFactory,
    state: StateMessage | None = None,
    edges: Sequence[EdgeSpec] | None = None,
    maps: tuple[MapEntry, ...] | None = None,
) -> Order:
    """The next update of `previous`: `route[0]` is the stitch node, `released` counts the
    released nodes of `route` including it (≥ 1: the stitch node itself is released)."""
    first = stitch_node(previous, state)
    if not route or not _unchanged(first, route[0]):
        raise InvalidOrder(
            previous.order_id,
            f"an update must start at {first.node_id} (sequenceId {first.sequence_id}) "
            "unchanged; change the base with cancelOrder and a new order",
        )
    update = assemble(
        previous.order_id,
        previous.order_update_id + 1,  # item 32
        route,
        released=released,
        edges=edges,
        caps=caps,
        new_id=new_id,
        first=first,
        previous=previous,
    )
    check_maps(previous.order_id, update.nodes[1:], maps)
    # Ids an element keeps from its earlier sending (item 34) are no clash; any other reuse is.
    sent = {(n.sequence_id, n.node_id): n.actions for n in previous.nodes} | {
        (e.sequence_id, e.edge_id): e.actions for e in previous.edges
    }
    kept = {
        a.action_id
        for key, actions in [((n.sequence_id, n.node_id), n.actions) for n in update.nodes]
        + [((e.sequence_id, e.edge_id), e.actions) for e in update.edges]
        for a in actions
        if a in sent.get(key, ())
    }
    earlier = frozenset(a.action_id for a in previous.actions()) - kept
    check_unique_action_ids(update, earlier)
    return update
