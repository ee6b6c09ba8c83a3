"""What one running API holds: settings, the database, the site configs, keys, metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from api.auth import KeyRing
from api.db import Database
from api.metrics import Metrics
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

    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the database is not open: is the app's lifespan running?")
        return self.db
