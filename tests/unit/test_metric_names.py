"""Every counter the site controller emits is registered by the edge (else `count` raises)."""

from __future__ import annotations

import ast
from pathlib import Path

import controller.service.site_controller as site_controller
from edge.metrics import CONTROLLER_COUNTERS


def emitted_metric_names() -> set[str]:
    tree = ast.parse(Path(site_controller.__file__).read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Metric"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_every_metric_the_controller_emits_has_a_counter() -> None:
    names = emitted_metric_names()
    assert len(names) > 10  # the scan found them
    assert names - set(CONTROLLER_COUNTERS) == set()
