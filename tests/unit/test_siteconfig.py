"""Site configs are validated once, on load, and an error names the offending field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.domain.errors import SiteConfigError
from controller.domain.layout import NodeKind
from controller.siteconfig import load_site, parse_site
from tests.conftest import DEMO_SITE

RAW: dict[str, Any] = yaml.safe_load(DEMO_SITE.read_text())


def broken(change) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


def test_the_demo_site_is_what_the_walking_skeleton_promises() -> None:
    site = load_site(DEMO_SITE)
    assert 50 <= len(site.nodes) <= 200
    assert len(site.agvs) == 4
    assert len(site.stations) == 2
    assert len([c for c in site.sorter.chutes if c.carrier]) >= 4
    assert len(site.dock_doors) == 2
    assert len(site.skus) >= 20
    assert all(len(s.gtin) == 14 for s in site.skus)
    assert {n.kind for n in site.nodes} == set(NodeKind)


def test_edges_get_their_length_from_the_coordinates() -> None:
    site = load_site(DEMO_SITE)
    edge = next(e for e in site.edges if {e.a, e.b} == {"F00", "F03"})
    assert edge.length_m == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda r: r["agvs"][2].update(start_node="P9"), "agvs[2].start_node", "unknown node 'P9'"),
        (lambda r: r["nodes"][3].update(x="far"), "nodes[3].x", "valid number"),
        (lambda r: r["nodes"][5].update(kind="teleporter"), "nodes[5].kind", "Input should be"),
        (lambda r: r["skus"][4].update(gtin="00614141001049"), "skus[4].gtin", "check digit"),
        (
            lambda r: r["skus"][0]["bins"][0].update(node="F00"),
            "skus[0].bins[0].node",
            "not a rack",
        ),
        (
            lambda r: r["stations"][1].update(rfid_reader="gate-9"),
            "stations[1].rfid_reader",
            "unknown reader",
        ),
        (lambda r: r["sorter"].update(reject_chute="C42"), "sorter.reject_chute", "unknown chute"),
        (
            lambda r: r["dock_doors"][0]["carriers"].append("FEDEX"),
            "dock_doors[0].carriers[2]",
            "unknown carrier",
        ),
        (
            lambda r: r["rfid_readers"][0].update(format="sick"),
            "rfid_readers[0].format",
            "Input should be",
        ),
        (lambda r: r["agvs"][1].update(serial_number="AGV/01"), "agvs[1].serial_number", "pattern"),
        (lambda r: r["agvs"].append(dict(r["agvs"][0])), "agvs[4].id", "duplicate id 'AGV-01'"),
        (lambda r: r.update(color="blue"), "color", "Extra inputs"),
        (lambda r: r.pop("sorter"), "sorter", "Field required"),
        (lambda r: r["edges"].append(["P1", "P1"]), f"edges[{len(RAW['edges'])}]", "to itself"),
        (
            lambda r: r.update(edges=[e for e in r["edges"] if "CH2" not in e]),
            "edges",
            "not connected: ['CH2']",
        ),
    ],
)
def test_a_broken_config_names_the_bad_field(change, field: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SiteConfigError) as caught:
        parse_site(broken(change), "demo.yaml")
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"demo.yaml: {field}: ")


def test_a_missing_or_unparsable_file_is_an_error_too(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="not found"):
        load_site(tmp_path / "nowhere.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: [unclosed\n")
    with pytest.raises(SiteConfigError, match="not valid YAML"):
        load_site(bad)
