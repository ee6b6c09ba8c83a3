"""Routes over the site's floor graph (networkx, weighted by edge length in metres)."""

from __future__ import annotations

import networkx as nx

from controller.domain.layout import Site


def floor_graph(site: Site) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(node.id for node in site.nodes)
    for edge in site.edges:
        graph.add_edge(edge.a, edge.b, weight=edge.length_m)
    return graph


def distances_to_nearest(site: Site, targets: frozenset[str]) -> dict[str, float]:
    """Each node's distance to the closest of `targets` (unreachable nodes left out): one
    multi-source search, not a table of every pair."""
    return dict(nx.multi_source_dijkstra_path_length(floor_graph(site), targets))


class FloorMap:
    """Shortest paths between nodes; distances precomputed once (the demo floor is small)."""

    def __init__(self, site: Site) -> None:
        self._graph = floor_graph(site)
        self._distance: dict[str, dict[str, float]] = dict(
            nx.all_pairs_dijkstra_path_length(self._graph, weight="weight")
        )

    def has(self, node: str) -> bool:
        return node in self._distance

    def path(self, source: str, target: str) -> list[str]:
        return list(nx.shortest_path(self._graph, source, target, weight="weight"))

    def distance(self, source: str, target: str) -> float:
        return self._distance[source][target]
