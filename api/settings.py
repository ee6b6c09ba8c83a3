"""The central API's settings: one pydantic-settings class, read from `WH_*` variables.

Nothing is read at import time; `get_settings()` reads the environment once, on first use.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from controller.siteconfig import site_config_path


class Scope(StrEnum):
    """What an API key may do (DESIGN §5.1). `admin` may do everything."""

    ERP = "erp"
    EDGE = "edge"
    OPS = "ops"
    ADMIN = "admin"


def _default_sites() -> list[Path]:
    return [site_config_path("demo")]


class WebhookSettings(BaseModel):
    """ERP webhook delivery (`WH_WEBHOOKS__*`, e.g. `WH_WEBHOOKS__MAX_ATTEMPTS=12`)."""

    model_config = ConfigDict(frozen=True)

    # Run a delivery worker in this process (any number of processes may).
    deliver: bool = True
    # How often the worker looks for due deliveries enqueued by other processes (this
    # process's own enqueues wake it at once).
    poll_interval_s: float = Field(default=1.0, gt=0)
    # One attempt, connecting included; a slower receiver counts as failed.
    timeout_s: float = Field(default=10.0, gt=0)
    # Back-off before the second attempt, doubling per failure up to `max_retry_s`, jittered.
    first_retry_s: float = Field(default=5.0, gt=0)
    max_retry_s: float = Field(default=3600.0, gt=0)
    # Attempts in all (the first included); after the last one the delivery is `failed`.
    # The defaults keep trying for 5 to 10.5 hours (through an ERP's overnight outage).
    max_attempts: int = Field(default=20, ge=1)
    # Deliveries one worker sends at the same time.
    concurrency: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    def _cap_not_below_first(self) -> WebhookSettings:
        if self.max_retry_s < self.first_retry_s:
            raise ValueError("max_retry_s must not be below first_retry_s")
        return self


class ApiSettings(BaseSettings):
    """`WH_DATABASE_URL`, `WH_SITE_CONFIGS` (JSON list of paths), `WH_API_KEYS` (JSON object
    key → list of scopes, e.g. `{"k1": ["erp"], "k2": ["edge"]}`)."""

    model_config = SettingsConfigDict(
        env_prefix="WH_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./warehouse.db"
    site_configs: list[Path] = Field(default_factory=_default_sites, min_length=1)
    api_keys: dict[SecretStr, list[Scope]] = Field(default_factory=dict)
    # SQLite only: how long a writer waits for the lock before "database is locked".
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)
    # Echo SQL to the log (debugging).
    database_echo: bool = False
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)


@lru_cache(maxsize=1)
def get_settings() -> ApiSettings:
    return ApiSettings()
