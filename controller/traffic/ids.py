"""How the traffic kernel names AGVs and edges."""

from __future__ import annotations

AgvId = str  # the AGV's VDA 5050 serial number, as the rest of the controller names it
Edge = tuple[int, int]  # an undirected edge between node ids, written (lower, higher)


def edge_key(a: int, b: int) -> Edge:
    """The one spelling of the edge between `a` and `b`, whichever way it is driven."""
    return (a, b) if a < b else (b, a)
