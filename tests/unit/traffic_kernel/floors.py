"""Small floors for the kernel's tests."""

from __future__ import annotations

from controller.traffic.kernel import ReservationKernel


def corridor(length: int) -> ReservationKernel:
    """Nodes 0 - 1 - ... - length-1 in a line."""
    return ReservationKernel(length, [(i, i + 1) for i in range(length - 1)])


def grid_edges(width: int, height: int) -> list[tuple[int, int]]:
    """A 4-connected grid; node (x, y) is y * width + x."""
    edges = []
    for y in range(height):
        for x in range(width):
            node = y * width + x
            if x + 1 < width:
                edges.append((node, node + 1))
            if y + 1 < height:
                edges.append((node, node + width))
    return edges


def grid(width: int, height: int) -> ReservationKernel:
    return ReservationKernel(width * height, grid_edges(width, height))
