"""The benchmark harness still works: the benchmarks, tiny, as a reader runs them
(`python -m benchmarks.…`): the database ones on SQLite with the API as a separate process,
the fleet telemetry one against the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Broker

pytestmark = pytest.mark.e2e

RUN_DEADLINE_S = 60.0


def _run(module: str, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """A database benchmark, on SQLite, once."""
    return _run_module(
        module, tmp_path, *("--db", "sqlite", "--repeat", "1", "--raw-updates", "100", *args)
    )


def _run_module(module: str, tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / f"{module}.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", f"benchmarks.{module}"),
            *("--workdir", str(tmp_path), "--json", str(out), *args),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads(out.read_text())


def test_order_intake_prints_rates_latencies_and_the_ratio_to_raw(tmp_path: Path) -> None:
    stdout, doc = _run(
        "order_intake",
        tmp_path,
        *("--clients", "1,4", "--orders", "24", "--warmup", "8", "--ceiling-requests", "50"),
    )
    sqlite = doc["results"]["sqlite"]
    assert [(p["clients"], p["requests"]) for p in sqlite["phases"]] == [(1, 24), (4, 24)]
    for phase in sqlite["phases"]:
        assert phase["errors"] == {}
        assert phase["order_statuses"] == {"reserved": 24}
        assert phase["rate"] > 0
        assert 0 < phase["p50_ms"] <= phase["p99_ms"]
        assert phase["client_cpu_us"] > 0
        assert phase["api_cpu_ms"] >= 0  # /proc counts in 10 ms ticks: a fast API may read 0
    assert sqlite["limit"]["updates_per_s"] > 0
    assert sqlite["ceiling"]["errors"] == {}
    assert "| db | clients | orders/s median (min-max) | p50 ms | p99 ms | errors |" in stdout
    assert "| sqlite | 4 |" in stdout


def test_last_unit_race_sells_the_stock_exactly_once(tmp_path: Path) -> None:
    stdout, doc = _run(
        "last_unit_race", tmp_path, *("--clients", "8", "--attempts", "6", "--hot-bins", "20,10")
    )
    [run] = doc["results"]["sqlite"]["runs"]
    assert run["attempts"] == 48
    assert run["errors"] == {}
    assert run["reserved_units"] == run["reserved_by_sql"] == 30
    assert (run["reserved_answers"], run["backordered_answers"]) == (30, 18)
    assert run["oversold_by_answers"] == run["oversold_by_sql"] == 0
    assert [b["open_qty"] for b in run["bins"]] == [b["on_hand"] for b in run["bins"]]
    assert "oversold (answers) | oversold (SQL)" in stdout


def test_intake_floor_answers_every_push_without_the_database(tmp_path: Path) -> None:
    stdout, doc = _run_module(
        "intake_floor", tmp_path, *("--clients", "1,4", "--orders", "12", "--repeat", "1")
    )
    assert [(p["clients"], p["requests"]) for p in doc["phases"]] == [(1, 12), (4, 12)]
    for phase in doc["phases"]:
        assert phase["errors"] == {}
        assert phase["order_statuses"] == {"reserved": 12}
        assert phase["rate"] > 0
        assert phase["client_cpu_us"] > 0
    assert "| clients | orders/s median (min-max) | p50 ms | p99 ms | errors |" in stdout
    assert "| 4 |" in stdout


@pytest.mark.mqtt
def test_fleet_telemetry_decides_every_state_through_the_broker(
    mqtt_broker: Broker, tmp_path: Path
) -> None:
    out = tmp_path / "fleet_telemetry.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.fleet_telemetry"),
            *("--agvs", "5", "--cells", "1500", "--seconds", "3", "--warmup", "0.5"),
            *("--repeat", "1", "--tick-period", "0.5", "--phases", "all"),
            *("--host", mqtt_broker.host, "--port", str(mqtt_broker.port), "--json", str(out)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S * 2,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(out.read_text())
    assert [r["phase"] for r in doc["runs"]] == ["receive", "process", "inline"]
    for run in doc["runs"]:
        assert (run["offered"], run["received"], run["lost"]) == (30, 30, 0)
        assert run["duplicates"] == run["strays"] == 0
        assert run["measured"] == 25  # after the first 0.5 s
        assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p95"] <= run["latency_ms"]["max"]
        assert run["offered_per_s"] > 0
        assert run["ingest_loop_cpu_us"] > 0
        if run["phase"] != "receive":
            decisions = run["decisions"]
            assert decisions.get("extended", 0) + decisions.get("not_extended", 0) == 30
            assert run["traffic"]["moves"] > 0  # the AGVs drove what they were granted
            assert run["traffic"]["conflicts"] == run["traffic"]["double_allocations"] == 0
            assert run["traffic"]["kernel_violations"] == {}
            assert run["tick"]["ticks"] >= 2
            assert run["tick"]["failures"] == 0
            assert run["tick"]["crash"] is None
    assert "| process | 1 |" in result.stdout
    assert "p95 ≤ 100 ms" in result.stdout
