"""The last-unit race with several API worker processes (uvicorn --workers 3), on SQLite and
PostgreSQL: each process has its own intake writer, so only the database's locks keep them
from selling one unit twice. Run through the benchmark harness, tiny."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e

RUN_DEADLINE_S = 120.0


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_three_api_processes_sell_the_last_units_exactly_once(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if db == "postgres":
        request.getfixturevalue("postgres_url")  # PostgreSQL must be up (fails under CI=true)
    out = tmp_path / "race.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.last_unit_race", "--db", db, "--repeat", "1"),
            *("--api-workers", "3", "--clients", "24", "--attempts", "10"),
            *("--hot-bins", "20,10,5", "--raw-updates", "50"),
            *("--workdir", str(tmp_path), "--json", str(out)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = json.loads(out.read_text())["results"][db]["runs"]
    assert run["attempts"] == 240
    assert run["errors"] == {}
    assert run["reserved_units"] == run["reserved_by_sql"] == 35
    assert (run["reserved_answers"], run["backordered_answers"]) == (35, 205)
    assert run["oversold_by_answers"] == run["oversold_by_sql"] == 0
