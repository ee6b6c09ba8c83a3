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
