"""What one running API holds: settings, the database, the site configs, keys, metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from api.auth import KeyRing
from api.db import Database
from api.metrics import Metrics
from api.orders.intake import IntakeWriter
from api.settings import ApiSettings
from controller.domain.layout import Site


@dataclass
class AppContext:
    settings: ApiSettings
    keys: KeyRing
    metrics: Metrics
    # Set by the lifespan; None outside it.
    db: Database | None = None
    sites: Mapping[str, Site] = field(default_factory=dict)
    # Per site, each bin's distance (m) along the floor to the nearest station.
    distances: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    intake: IntakeWriter | None = None

    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the database is not open: is the app's lifespan running?")
        return self.db

    def intake_writer(self) -> IntakeWriter:
        if self.intake is None:
            raise RuntimeError("order intake is not running: is the app's lifespan running?")
        return self.intake
