"""The central API's settings: one pydantic-settings class, read from `WH_*` variables.

Nothing is read at import time; `get_settings()` reads the environment once, on first use.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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


@lru_cache(maxsize=1)
def get_settings() -> ApiSettings:
    return ApiSettings()
