"""Fixtures of the site controller's tests: the demo site and a fresh controller for it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.domain.layout import Site
from controller.service.site_controller import SiteController
from controller.siteconfig import load_site
from tests.conftest import DEMO_SITE


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(DEMO_SITE)


@pytest.fixture
def ctl(site: Site) -> SiteController:
    return SiteController(
        site, id_prefix="t", next_sscc_serial=1, verify_window=timedelta(seconds=5)
    )
