"""Fixtures for the device simulators' tests: the demo site, a fresh world, a virtual clock."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from simulators.agv.model import AgvModel
from simulators.common.config import SiteConfig, SiteMap, load_site
from simulators.common.world import World
from tests.conftest import DEMO_SITE


@pytest.fixture(scope="session")
def demo_site() -> SiteConfig:
    return load_site(DEMO_SITE)


@pytest.fixture
def world(demo_site: SiteConfig) -> World:
    return World.from_site(demo_site)


@pytest.fixture
def make_agv(demo_site: SiteConfig, world: World) -> Callable[..., AgvModel]:
    def make(start_node: str = "P1", speed_mps: float = 1.5) -> AgvModel:
        return AgvModel(
            manufacturer="simbotics",
            serial_number="AGV-01",
            start_node=start_node,
            speed_mps=speed_mps,
            site_map=SiteMap(demo_site),
            world=world,
            rng=random.Random(7),
        )

    return make
