"""The fleet benchmark still runs, in both modes (tiny, so no figure is judged here)."""

from __future__ import annotations

import pytest

from benchmarks.fleet_sim import main


def test_the_throughput_table_compares_every_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--cells", "800", "--agvs", "6", "--hours", "0.03"])

    out = capsys.readouterr().out
    assert "vs blind" in out
    assert "vs nearest" in out
    assert "double allocations" in out


def test_the_tick_mode_reports_the_full_tick(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--cells", "800", "--agvs", "6", "--steps", "30", "--warmup", "5"])

    assert "full tick at 6 AGVs" in capsys.readouterr().out
