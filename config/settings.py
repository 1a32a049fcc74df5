"""Typed settings: defaults in code, then a TOML file, then environment variables.

Environment variables are named ``CALLGUARD__<SECTION>__<KEY>`` (for example
``CALLGUARD__DATABASE__URL``); the file is given by ``--config`` or ``CALLGUARD_CONFIG``.
Everything is validated once at start-up; a bad value stops start-up with a message naming the key.
Secrets are ``SecretStr`` and never appear in ``repr`` or logs.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.tls import TlsError, client_context, server_context
from core.clock import whole_hour_zone
from core.messages import Language

__all__ = ["ConfigError", "Settings", "load_settings"]


class ConfigError(Exception):
    """The configuration is invalid; the message names every offending key."""


class ServerSettings(BaseModel):
    """HTTP server."""

    # a key this section does not know stops start-up (``cors_origins``, removed, was never read: say so)
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0: any free one (logged at start)")
    instance_id: str = Field("", description="Name of this service instance; defaults to host name + pid")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body")
    max_bulk_body_bytes: int = Field(32 * 1_048_576, ge=1024, description="Largest body for bulk imports")
    default_language: Language = Field(
        "zh-CN", description="Language of error messages when a request's Accept-Language names none we speak")
    tls_cert_file: FilePath | None = Field(
        None, description="PEM certificate chain: given (with tls_key_file), the service speaks HTTPS only")
    tls_key_file: FilePath | None = Field(None, description="PEM private key of tls_cert_file (unencrypted)")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list, description=(
            "Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (client address for the "
            "rate limit and the audit trail, https for the session cookie); from any other peer they are ignored"))

    @field_validator("tls_cert_file", "tls_key_file", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @model_validator(mode="after")
    def _tls_loads(self) -> ServerSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file are given together")
        if self.tls_cert_file is not None and self.tls_key_file is not None:
            try:  # fail at start-up, not at the first handshake
                server_context(self.tls_cert_file, self.tls_key_file)
            except TlsError as exc:
                raise ValueError(str(exc)) from None
        return self


class DatabaseSettings(BaseModel):
    """Database: SQLite file by default, PostgreSQL (asyncpg) when a postgresql URL is given."""

    url: str = "sqlite+aiosqlite:///.run/callguard.db"
    echo: bool = False
    pool_size: int = Field(10, ge=1)
    sqlite_busy_timeout_ms: int = Field(10_000, ge=0)
    migrate_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


class PbxSettings(BaseModel):
    """One Asterisk PBX reached through AMI."""

    name: str = Field("local", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_user: str = "callguard"
    ami_secret: SecretStr = SecretStr("")
    ping_interval_s: float = Field(5.0, gt=0)
    pong_timeout_s: float = Field(3.0, gt=0)
    context: str = Field("callguard-outbound", pattern=r"^[A-Za-z0-9_-]+$")
    channel_template: str = Field("PJSIP/{sip_user}", description="Dial string of an agent's phone")
    agent_ring_timeout_s: int = Field(30, ge=5, le=300, description="How long the agent's phone rings")
    ami_tls: bool = Field(False, description="Speak AMI over TLS (Asterisk's tlsenable; its port is usually 5039)")
    ami_tls_ca_file: FilePath | None = Field(
        None, description="PEM CA (or the PBX's self-signed certificate) to verify it by; none: the system's CAs")
    ami_tls_verify: bool = Field(True, description="Verify the PBX's certificate and its name (ami_host)")

    @field_validator("ami_tls_ca_file", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @model_validator(mode="after")
    def _ami_tls_loads(self) -> PbxSettings:
        if self.ami_tls_ca_file is not None and not self.ami_tls:
            raise ValueError("ami_tls_ca_file is given but ami_tls is off")
        if self.ami_tls:
            try:
                client_context(self.ami_tls_ca_file, verify=self.ami_tls_verify)
            except TlsError as exc:
                raise ValueError(str(exc)) from None
        return self


class DialerSettings(BaseModel):
    """Click-to-dial behaviour."""

    default_region: str = Field("CN", pattern=r"^[A-Z]{2}$", description="Region for numbers without +")
    stale_call_after_s: int = Field(
        120, ge=10, description="A call still 'requested' with no PBX event after this is ended as failed"
    )
    max_event_backlog: int = Field(
        200, ge=1, description="New dials are refused (503 service-overloaded, Retry-After) while this instance "
                               "has more PBX events than this read and not yet applied: the calls it already "
                               "placed (their go-ahead, their states) come before new ones")


class RecordingSettings(BaseModel):
    """Recording ingest and retention."""

    ingest: Literal["service", "external"] = Field(
        "service", description="'service': this instance ingests spool_dir; 'external': an ingest role beside "
        "each PBX does (callguard ingest) and this instance needs no spool")
    spool_dir: Path = Path(".run/spool")
    format: Literal["opus", "mp3", "wav"] = "opus"
    bitrate: str = Field("24k", pattern=r"^[0-9]{1,3}k$")
    stereo: bool = True
    scan_interval_s: float = Field(1.0, gt=0)
    retention_days: int = Field(730, ge=1)
    retention_floor_days: int = Field(730, ge=1)
    reconcile_interval_s: float = Field(60.0, gt=0)
    missing_after_s: int = Field(300, ge=10, description="Answered call without stored recording after this")
    store_scan_page_size: int = Field(1000, ge=1, le=1000,
                                      description="Keys per page of the store scan for objects without a row")
    store_scan_pages_per_run: int = Field(1, ge=0, le=10_000,
                                          description="Store-scan pages per reconcile run; 0 = no store scan")
    min_free_bytes: int = Field(512 * 1_048_576, ge=0)
    agents_may_listen_own: bool = True
    probe_interval_s: float = Field(0, ge=0, description="0 disables the scheduled recording probe")
    ingest_concurrency: int = Field(4, ge=1, le=64, description="Recordings ingested at once per instance")
    ingest_workers: int = Field(2, ge=1, le=32, description="Threads for merge/transcode/hash")
    lease_s: float = Field(120.0, gt=0, description="How long an instance owns a recording it ingests")
    retry_max_backoff_s: float = Field(300.0, gt=0, description="Longest wait between ingest retries")
    max_attempts: int = Field(10, ge=1, description="Ingest attempts (other than storage outages) before failed")
    purge_interval_s: float = Field(3600.0, gt=0, description="How often expired recordings are purged")
    probe_sip_user: str = Field("", description="SIP account the probe phone registers with; '' = no probe")
    probe_sip_password: SecretStr = SecretStr("")
    probe_sip_host: str = "127.0.0.1"
    probe_sip_port: int = Field(5060, ge=1, le=65535)
    probe_call_seconds: float = Field(3.0, gt=0, le=60, description="How long the probe call lasts")
    probe_timeout_s: float = Field(60.0, gt=0, description="Probe call + ingest must finish within this")

    @model_validator(mode="after")
    def _floor(self) -> RecordingSettings:
        if self.retention_days < self.retention_floor_days:
            raise ValueError("retention_days may not be below retention_floor_days")
        return self


class StorageSettings(BaseModel):
    """Where recordings are stored: local files (default) or S3 with Object Lock."""

    backend: Literal["local", "s3"] = "local"
    local_root: Path = Path(".run/recordings")
    s3_bucket: str = "callguard-recordings"
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_max_workers: int = Field(8, ge=1, le=64)


class ComplianceSettings(BaseModel):
    """Compliance gate defaults."""

    default_profile: str = "CN"
    unknown_timezone: Literal["block", "country_zones"] = "block"
    conversation_min_talk_s: int = Field(30, ge=0)
    window_evidence_max_age_s: int = Field(
        1800, ge=0, description="An agent's agreed window names a call that ended at most this long ago")
    window_max_days: int = Field(30, ge=1, le=366, description="An agreed calling window expires within this")


class CaseSettings(BaseModel):
    """Case batch files (``callguard import-cases``)."""

    import_max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="A batch file over this is refused (413)")
    import_max_rows: int = Field(50_000, ge=1, description="A batch file with more data rows is refused (413)")


class AnalyticsSettings(BaseModel):
    """Reports."""

    rollup_zones: list[str] = Field(
        default_factory=lambda: ["UTC", "Asia/Shanghai"],
        description="Zones reports are usually read in: each gets a daily rollup (whole-hour offsets only)")
    refresh_interval_s: float = Field(30.0, gt=0, description="How often changed hours are rolled up again")

    @field_validator("rollup_zones")
    @classmethod
    def _whole_hour_zones(cls, v: list[str]) -> list[str]:
        bad = [z for z in v if not whole_hour_zone(z)]
        if bad:
            raise ValueError(f"not IANA zones with whole-hour offsets: {', '.join(bad)}")
        return v


class HookSettings(BaseModel):
    """Outbound webhooks."""

    allow_private_targets: bool = False
    request_timeout_s: float = Field(10.0, gt=0)
    poll_interval_s: float = Field(0.2, gt=0)
    batch_size: int = Field(200, ge=1, le=5000)
    lease_s: float = Field(60.0, gt=0, description="How long an instance owns the messages it claims; longer than "
                                                    "request_timeout_s, or nothing is ever sent")
    concurrency: int = Field(32, ge=1, le=512)

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> HookSettings:
        # the dispatcher sends a claimed message only while a whole request still fits in its lease: a lease
        # no longer than the request timeout would give every claim back unsent, forever
        if self.lease_s <= self.request_timeout_s:
            raise ValueError(f"lease_s ({self.lease_s:g}) must be longer than request_timeout_s "
                             f"({self.request_timeout_s:g}): a claimed webhook is sent only while a whole request "
                             "still fits in its lease")
        return self


class AuthSettings(BaseModel):
    """Tokens, EventSource tickets and the failed sign-in throttle."""

    person_token_days: int = Field(90, ge=1, le=3650, description="Lifetime of a person's token (and its maximum)")
    integration_token_days: int = Field(365, ge=1, le=3650,
                                        description="Lifetime of an integration token when none is given")
    last_used_resolution_s: int = Field(60, ge=1, description="A token's last-used time is written at most this often")
    ticket_ttl_s: int = Field(60, ge=5, le=600, description="Lifetime of an EventSource ticket (single use)")
    stream_recheck_s: float = Field(15.0, gt=0, le=3600,
                                    description="An open event stream re-checks its token and user this often")
    failure_window_s: int = Field(900, ge=10, description="Failed sign-ins are counted per address over this window")
    delay_after_failures: int = Field(5, ge=1, description="Failed answers are slowed down from this many failures")
    delay_step_ms: int = Field(500, ge=0, description="Each failure past the threshold adds this delay")
    max_delay_ms: int = Field(5000, ge=0, description="Longest delay of a failed answer")
    lockout_after_failures: int = Field(20, ge=1, description="An address is refused (429) from this many failures")
    lockout_s: int = Field(900, ge=1, description="How long after its last failure a locked-out address is refused")
    requests_per_s: float = Field(100.0, gt=0, le=1_000_000,
                                  description="Requests per second one credential (token, else address) may make "
                                              "to one instance; beyond it 429 rate-limited")
    request_burst: int = Field(1000, ge=1, le=10_000_000,
                               description="Requests one credential may make at once before the rate applies")
    rate_limit_buckets: int = Field(100_000, ge=100, le=10_000_000,
                                    description="Most credentials whose request rate one instance remembers")
    session_idle_s: int = Field(1800, ge=60, le=86_400,
                                description="A signed-in session ends after this long without a request")
    session_max_hours: int = Field(12, ge=1, le=720, description="A signed-in session ends this long after sign-in")
    password_min_length: int = Field(10, ge=8, le=128, description="Shortest password a person may set")

    @model_validator(mode="after")
    def _lockout_after_delay(self) -> AuthSettings:
        if self.lockout_after_failures < self.delay_after_failures:
            raise ValueError("lockout_after_failures must be >= delay_after_failures")
        return self


class ApprovalSettings(BaseModel):
    """The two-person rule: releases of legal hard stops and legal holds."""

    request_ttl_days: int = Field(7, ge=1, le=90, description="A release request not decided within this expires")


class PresenceSettings(BaseModel):
    """Agent presence: wrap-up after calls, pause codes, how often the PBX's phones are re-read."""

    wrap_up_s: int = Field(30, ge=0, le=3600, description=(
        "After a call the agent answered, wrap-up lasts until its disposition is saved or this many seconds"))
    wrap_up_by_client: dict[str, int] = Field(
        default_factory=dict, description="Wrap-up seconds per client (of the call), instead of wrap_up_s")
    pause_codes: list[str] = Field(
        default_factory=lambda: ["break", "training", "meeting", "system"],
        description="Codes an agent may pause with (break 休息, training 培训, meeting 会议, system 系统问题)")
    sweep_interval_s: float = Field(1.0, gt=0, le=60, description="How often ended wrap-ups are turned available")
    device_sync_interval_s: float = Field(60.0, gt=0, description="How often every PBX's phone states are re-read")

    @field_validator("pause_codes")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", c)]
        if bad or not v or len(set(v)) != len(v):
            raise ValueError("pause codes are distinct lower-case names (a-z, 0-9, _ or -), at least one")
        return v

    @field_validator("wrap_up_by_client")
    @classmethod
    def _seconds(cls, v: dict[str, int]) -> dict[str, int]:
        if any(not 0 <= s <= 3600 for s in v.values()):
            raise ValueError("wrap-up seconds are between 0 and 3600")
        return v


class CampaignSettings(BaseModel):
    """Campaigns."""

    progressive_preview_s: float = Field(5.0, ge=0, le=120, description=(
        "A progressive campaign shows the agent the next case this long before dialling it"))
    tick_s: float = Field(1.0, gt=0, le=60, description="How often each instance offers and dials progressive cases")
    handover_interval_s: float = Field(30.0, gt=0, le=3600, description=(
        "How often each instance hands to their team the callbacks not done within the client's grace"))


class PaymentSettings(BaseModel):
    """Payments and promises to pay."""

    sweep_interval_s: float = Field(60.0, gt=0, le=3600, description=(
        "How often each instance settles the promises whose deadline has passed (kept or broken)"))


class LoggingSettings(BaseModel):
    """Logging (core/logs.py): text lines, or one JSON object a line with the request and call ids."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, description="One JSON object per line (time, level, logger, message, "
                                                 "request_id, call_id) instead of text lines")
    access_log: bool = Field(True, description="One line per HTTP request (method, path, status, duration)")


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``GET /metrics`` (metrics/, docs/OPERATIONS.md)."""

    token: SecretStr = Field(SecretStr(""), description=(
        "Bearer token the monitoring system scrapes /metrics with ('' = only a global admin's token may read it)"))
    db_state_max_age_s: float = Field(10.0, ge=0, le=3600, description=(
        "Database-state gauges (backlogs, dead letters, missing recordings) are counted at most this often"))
    loop_lag_interval_s: float = Field(0.5, gt=0, le=60, description="How often the event loop's lag is measured")

    @field_validator("token")
    @classmethod
    def _long_token(cls, v: SecretStr) -> SecretStr:
        if v.get_secret_value() and len(v.get_secret_value()) < 32:
            raise ValueError("the metrics token must be at least 32 characters (or empty)")
        return v


class Settings(BaseSettings):
    """All of Callguard's settings."""

    model_config = SettingsConfigDict(
        env_prefix="CALLGUARD__", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    pbx: list[PbxSettings] = Field(default_factory=lambda: [PbxSettings()])
    dialer: DialerSettings = Field(default_factory=DialerSettings)
    recordings: RecordingSettings = Field(default_factory=RecordingSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    cases: CaseSettings = Field(default_factory=CaseSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    presence: PresenceSettings = Field(default_factory=PresenceSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @model_validator(mode="after")
    def _unique_pbx(self) -> Settings:
        names = [p.name for p in self.pbx]
        if len(set(names)) != len(names):
            raise ValueError("pbx names must be unique")
        if not names:
            raise ValueError("at least one pbx is required")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment wins over the file (passed as init kwargs), which wins over defaults
        return (env_settings, init_settings)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Load and validate settings from ``path`` (or ``$CALLGUARD_CONFIG``) plus the environment.

    Raises ConfigError with one line per bad key; never includes secret values.
    """
    path = path or os.environ.get("CALLGUARD_CONFIG") or None
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    data = _deep_merge(data, overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_input=False, include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"  {key}: {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None
