"""The fleet view (`/api/v1/sites/{site}/agvs`) on SQLite and PostgreSQL: the edge pushes
snapshots, operators read the newest per AGV."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import EDGE, ERP, OPS, SITE, assert_problem

AGVS = f"/api/v1/sites/{SITE}/agvs"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def snapshot(serial: str = "AGV-01", at: datetime = T0, **fields: Any) -> dict[str, Any]:
    return {
        "serial_number": serial,
        "manufacturer": "simbotics",
        "observed_at": at.isoformat(),
        "connection": "ONLINE",
        "state_at": at.isoformat(),
        "stale": False,
        "dispatchable": False,
        "operating_mode": "AUTOMATIC",
        "driving": True,
        "paused": False,
        "e_stop": "NONE",
        "battery": {"charge": 81.5, "charging": False},
        "position": {"x": 4.0, "y": 2.5, "theta": 1.57, "map_id": "demo"},
        "last_node_id": "N12",
        "order": {
            "order_id": "T-7",
            "order_update_id": 0,
            "task_id": "T-7",
            "nodes_left": 3,
            "edges_left": 2,
            "actions_finished": 0,
            "actions_total": 1,
        },
        "errors": [
            {
                "error_type": "lowBattery",
                "level": "WARNING",
                "description": "",
                "references": {"orderId": "T-7"},
            }
        ],
    } | fields


async def push(client: httpx.AsyncClient, *snaps: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await client.put(AGVS, json={"agvs": list(snaps)}, headers=EDGE)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def fleet(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    answer = await client.get(AGVS, headers=OPS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["site"] == SITE
    return {agv["serial_number"]: agv for agv in body["agvs"]}


async def test_every_configured_agv_is_listed_before_any_report(client: httpx.AsyncClient) -> None:
    agvs = await fleet(client)
    assert sorted(agvs) == ["AGV-01", "AGV-02", "AGV-03", "AGV-04"]
    for agv in agvs.values():
        assert agv["manufacturer"] == "simbotics"
        assert agv["status"] is None
        assert agv["reported_at"] is None
        assert agv["report_stale"] is True


async def test_a_pushed_snapshot_is_shown_whole(client: httpx.AsyncClient) -> None:
    sent = snapshot(observed_at=datetime.now(UTC).isoformat())
    assert await push(client, sent) == [{"serial_number": "AGV-01", "status": "stored"}]
    agv = (await fleet(client))["AGV-01"]
    assert agv["report_stale"] is False
    assert agv["reported_at"] is not None
    status = agv["status"]
    assert status["connection"] == "ONLINE"
    assert status["operating_mode"] == "AUTOMATIC"
    assert status["battery"] == {"charge": 81.5, "charging": False}
    assert status["position"] == {"x": 4.0, "y": 2.5, "theta": 1.57, "map_id": "demo"}
    assert status["order"]["order_id"] == "T-7"
    assert status["order"]["nodes_left"] == 3
    assert status["errors"][0]["references"] == {"orderId": "T-7"}
    assert (await fleet(client))["AGV-02"]["status"] is None


async def test_a_late_snapshot_never_replaces_a_newer_one(client: httpx.AsyncClient) -> None:
    newer = snapshot(at=T0 + timedelta(seconds=5), connection="CONNECTIONBROKEN")
    older = snapshot(at=T0, connection="ONLINE")
    assert await push(client, newer) == [{"serial_number": "AGV-01", "status": "stored"}]
    assert await push(client, older) == [{"serial_number": "AGV-01", "status": "stale"}]
    assert await push(client, newer) == [{"serial_number": "AGV-01", "status": "stale"}]
    assert (await fleet(client))["AGV-01"]["status"]["connection"] == "CONNECTIONBROKEN"


async def test_the_newest_of_one_push_wins(client: httpx.AsyncClient) -> None:
    results = await push(
        client,
        snapshot(at=T0 + timedelta(seconds=2), last_node_id="N2"),
        snapshot(at=T0 + timedelta(seconds=9), last_node_id="N9"),
        snapshot(at=T0 + timedelta(seconds=4), last_node_id="N4"),
        snapshot("AGV-02", at=T0, last_node_id="P2"),
    )
    assert [r["status"] for r in results] == ["stale", "stored", "stale", "stored"]
    agvs = await fleet(client)
    assert agvs["AGV-01"]["status"]["last_node_id"] == "N9"
    assert agvs["AGV-02"]["status"]["last_node_id"] == "P2"


async def test_concurrent_pushes_keep_the_newest(client: httpx.AsyncClient) -> None:
    """Edges retry: the same AGV from many requests at once, in any order; the newest stays."""
    times = [T0 + timedelta(seconds=s) for s in range(12)]
    answers = await asyncio.gather(
        *(
            client.put(AGVS, json={"agvs": [snapshot(at=t, last_node_id=f"N{i}")]}, headers=EDGE)
            for i, t in reversed(list(enumerate(times)))
        )
    )
    assert all(a.status_code == 200 for a in answers)
    assert (await fleet(client))["AGV-01"]["status"]["last_node_id"] == "N11"


async def test_an_agv_not_in_the_config_is_refused_by_name(client: httpx.AsyncClient) -> None:
    answer = await client.put(
        AGVS,
        json={"agvs": [snapshot(), snapshot("AGV-99"), snapshot("AGV-02", manufacturer="other")]},
        headers=EDGE,
    )
    problem = assert_problem(answer, 422)
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"agvs[1].serial_number", "agvs[2].manufacturer"}
    assert (await fleet(client))["AGV-01"]["status"] is None  # nothing of the push was kept


async def test_malformed_snapshots_get_a_problem(client: httpx.AsyncClient) -> None:
    for bad in (
        snapshot(connection="MAYBE"),
        snapshot(battery={"charge": 140, "charging": False}),
        snapshot(observed_at="yesterday"),
    ):
        assert_problem(await client.put(AGVS, json={"agvs": [bad]}, headers=EDGE), 422)


async def test_who_may_read_and_push(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(AGVS, headers=ERP), 403)
    assert_problem(await client.put(AGVS, json={"agvs": [snapshot()]}, headers=OPS), 403)
    assert (await client.get(AGVS, headers=EDGE)).status_code == 200
    assert_problem(await client.get("/api/v1/sites/nowhere/agvs", headers=OPS), 404)
    assert_problem(
        await client.put("/api/v1/sites/nowhere/agvs", json={"agvs": []}, headers=EDGE), 404
    )
