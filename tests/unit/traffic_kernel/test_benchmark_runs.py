"""The kernel's benchmark still runs (tiny, so no timing is judged here)."""

from __future__ import annotations

import pytest

from benchmarks.traffic_kernel import run


def test_kernel_benchmark_runs_a_small_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    run(agvs=20, ticks=30, width=10, height=10, lookahead=5, seed=1)

    assert "tick: median" in capsys.readouterr().out
