"""Settings of the edge process (env prefix `WH_`, nested with `__`: `WH_MQTT__HOST`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from controller.siteconfig import site_config_path


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 1883
    keepalive_s: int = 30
    client_id: str | None = None  # default: edge-<site>
    # DESIGN: lose nothing. A persistent session (MQTT 3.1.1 clean_session=False) under the
    # stable client id has the broker queue QoS 1 device events while we are briefly offline.
    persistent_session: bool = True
    outgoing_max: int = Field(default=10_000, gt=0)  # queued publications before back-pressure


class CentralSettings(BaseModel):
    url: str = "http://127.0.0.1:8000"
    api_key: SecretStr = SecretStr("")
    poll_interval_s: float = Field(default=0.5, gt=0)
    # How often the AGVs' changed snapshots go to the fleet view (edge/fleet.py).
    fleet_interval_s: float = Field(default=2.0, gt=0)


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WH_", env_nested_delimiter="__", extra="ignore")

    site_config: Path = Field(default_factory=lambda: site_config_path("demo"))
    mqtt: MqttSettings = MqttSettings()
    central: CentralSettings = CentralSettings()
    db_path: Path = Path("edge.db")
    metrics_port: int = 9108  # 0: no /metrics endpoint
    verify_window_s: float = Field(default=5.0, gt=0)
    tick_interval_s: float = Field(default=0.25, gt=0)
