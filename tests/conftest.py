"""Shared fixtures: the real services this machine runs, and a rule for when they are missing.

Tests that need the broker or PostgreSQL ask for the `mqtt_broker` or `postgres_url`
fixture. Where the service is down they skip on a developer's laptop but fail under
`CI=true`, so that CI can never go green without having run them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_SITE = REPO / "config" / "sites" / "demo.yaml"
MQTT_HOST = os.environ.get("WH_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("WH_TEST_MQTT_PORT", "1883"))
PG_HOST = os.environ.get("WH_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("WH_TEST_PG_PORT", "5432"))
PG_DATABASE = os.environ.get("WH_TEST_PG_DATABASE", "test")


@dataclass(frozen=True)
class Broker:
    host: str
    port: int


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _require(service: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{service} is not reachable on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: a missing service fails the test)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def mqtt_broker() -> Broker:
    _require("the MQTT broker", MQTT_HOST, MQTT_PORT)
    return Broker(MQTT_HOST, MQTT_PORT)


@pytest.fixture
def site_id() -> str:
    """A site id of its own per test, so that concurrent or leftover traffic never mixes."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database per test, dropped afterwards."""
    _require("PostgreSQL", PG_HOST, PG_PORT)
    import asyncpg

    database = f"wh_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{database}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


def write_site_config(directory: Path, site_id: str) -> Path:
    """A copy of the demo site with its own site id and AGV manufacturer, so that its MQTT
    topics (site-scoped and VDA 5050 alike) never meet another test's."""
    import yaml

    raw = yaml.safe_load(DEMO_SITE.read_text())
    raw["site"] = site_id
    for agv in raw["agvs"]:
        agv["manufacturer"] = f"sim{site_id}"
    path = directory / f"{site_id}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def site_config(tmp_path: Path, site_id: str) -> Path:
    return write_site_config(tmp_path, site_id)
