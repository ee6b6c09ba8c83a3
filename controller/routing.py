"""Routes over the site's floor graph (networkx, weighted by edge length in metres)."""

from __future__ import annotations

import networkx as nx

from controller.domain.layout import Site


class FloorMap:
    """Shortest paths between nodes; distances precomputed once (the demo floor is small)."""

    def __init__(self, site: Site) -> None:
        self._graph = nx.Graph()
        for node in site.nodes:
            self._graph.add_node(node.id)
        for edge in site.edges:
            self._graph.add_edge(edge.a, edge.b, weight=edge.length_m)
        self._distance: dict[str, dict[str, float]] = dict(
            nx.all_pairs_dijkstra_path_length(self._graph, weight="weight")
        )

    def has(self, node: str) -> bool:
        return node in self._distance

    def path(self, source: str, target: str) -> list[str]:
        return list(nx.shortest_path(self._graph, source, target, weight="weight"))

    def distance(self, source: str, target: str) -> float:
        return self._distance[source][target]

    def nearest(self, source: str, targets: frozenset[str]) -> float:
        """The distance from `source` to the closest of `targets` (inf if none is reachable)."""
        reach = self._distance.get(source, {})
        return min((reach[t] for t in targets if t in reach), default=float("inf"))
