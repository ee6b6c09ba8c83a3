"""The ownership audit: do the owner maps and the AGVs' allocations tell the same story?

The kernel keeps both (owner maps for O(1) grants, ordered allocations for confirms and
releases); a bug that let them drift apart could hand one node to two AGVs, so every tick
checks they agree. The common case, all agreeing, costs one pass over the held nodes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import TypeVar

from controller.traffic.ids import AgvId, Edge, edge_key
from controller.traffic.violations import Violation, ViolationKind

K = TypeVar("K", int, Edge)  # a node id or an edge


def audit_ownership(
    allocations: Mapping[AgvId, Sequence[int]],
    node_owner: Sequence[AgvId | None],
    edge_owner: Mapping[Edge, AgvId],
) -> list[Violation]:
    """Nothing when every allocated node and every edge between consecutive allocated nodes
    is owned by that AGV and nothing else is owned; otherwise what disagrees."""
    held_nodes = 0
    held_edges = 0
    for agv_id, allocation in allocations.items():
        held_nodes += len(allocation)
        held_edges += max(len(allocation) - 1, 0)
        previous = -1
        for node in allocation:  # the hot loop of every tick: edge_key inlined
            if node_owner[node] != agv_id or (
                previous >= 0
                and edge_owner.get((previous, node) if previous < node else (node, previous))
                != agv_id
            ):
                return _diagnose(allocations, node_owner, edge_owner)
            previous = node
    # Each allocated node is owned by its AGV; equal totals mean nothing is held twice
    # over (in two allocations, or twice in one) and nothing is owned outside them.
    if held_nodes == len(node_owner) - node_owner.count(None) and held_edges == len(edge_owner):
        return []
    return _diagnose(allocations, node_owner, edge_owner)


def _diagnose(
    allocations: Mapping[AgvId, Sequence[int]],
    node_owner: Sequence[AgvId | None],
    edge_owner: Mapping[Edge, AgvId],
) -> list[Violation]:
    """The slow, precise account, only run once the fast pass found a disagreement."""
    node_claims: dict[int, list[AgvId]] = defaultdict(list)
    edge_claims: dict[Edge, list[AgvId]] = defaultdict(list)
    for agv_id, allocation in allocations.items():
        for node in allocation:
            node_claims[node].append(agv_id)
        for a, b in pairwise(allocation):
            edge_claims[edge_key(a, b)].append(agv_id)

    owned_nodes = {node: owner for node, owner in enumerate(node_owner) if owner is not None}
    found = [
        Violation(kind, agvs, nodes=(node,))
        for kind, agvs, node in _disagreements(node_claims, owned_nodes)
    ]
    found += [
        Violation(kind, agvs, edges=(edge,))
        for kind, agvs, edge in _disagreements(edge_claims, edge_owner)
    ]
    return found


def _disagreements(
    claims: Mapping[K, list[AgvId]], owners: Mapping[K, AgvId]
) -> list[tuple[ViolationKind, tuple[AgvId, ...], K]]:
    """Each node (or edge) claimed by several allocations, or whose owner is not the one
    allocation claiming it, with the AGVs involved."""
    found: list[tuple[ViolationKind, tuple[AgvId, ...], K]] = []
    for key in sorted(claims.keys() | owners.keys()):
        claimants: list[AgvId] = claims.get(key, [])
        owner = owners.get(key)
        expected: list[AgvId] = [] if owner is None else [owner]
        if len(claimants) > 1:
            found.append((ViolationKind.DOUBLE_ALLOCATION, tuple(claimants), key))
        elif claimants != expected:
            involved = tuple(dict.fromkeys([*claimants, *expected]))
            found.append((ViolationKind.OWNER_MISMATCH, involved, key))
    return found
