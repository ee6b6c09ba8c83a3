"""`warehouse demo`, the README's first command, run as a user runs it (small and fast)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from edge.cli import build_parser

pytestmark = pytest.mark.e2e

DEMO_TIMEOUT_S = 180


def test_the_demo_on_the_embedded_broker_ships_every_order_and_prints_a_summary() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "demo",
            "--orders",
            "3",
            "--speedup",
            "30",
            "--broker",
            "embedded",
        ],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"\| orders shipped\s+\| 3 / 3\s+\|", out), out
    assert re.search(r"\| parcels sorted\s+\| 3\s+\|", out), out
    assert re.search(r"\| exceptions\s+\| 0\s+\|", out), out
    assert re.search(r"\| broker\s+\| amqtt \(embedded\)", out), out
    trips = int(re.search(r"\| AGV trips\s+\| (\d+)", out).group(1))  # type: ignore[union-attr]
    assert trips >= 6  # at least one fetch and one return per order


@pytest.mark.parametrize(
    "command",
    [[], ["demo"], ["api"], ["edge"], ["migrate"], ["sim"], ["sim", "site"], ["sim", "erp"]],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*command, "--help"])
    assert done.value.code == 0
    assert "usage: warehouse" in capsys.readouterr().out
