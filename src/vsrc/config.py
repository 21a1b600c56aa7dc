"""Settings: the only module that reads the environment (prefix ``VSRC_``)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vsrc.storage.url import FileLocation, StorageLocation, parse_storage_url


class Settings(BaseSettings):
    """Every configuration knob of VSRC; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="VSRC_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Where SQLite, the queue and media live")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite under data_dir if unset"
    )
    redis_url: str | None = Field(default=None, description="Redis for the queue and rate limits")
    storage_url: str | None = Field(
        default=None,
        description="file:///path (default: data_dir/storage) or s3://BUCKET[/PREFIX]?endpoint=&region=",
    )
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8000, ge=1, le=65535)
    rtmp_host: str = "0.0.0.0"
    rtmp_port: int = Field(default=1935, ge=0, le=65535)
    public_url: str = "http://localhost:8000"
    rtmp_public_url: str = "rtmp://localhost:1935/live"
    rtmp_region: str = "default"
    workers: int = Field(default=1, ge=1, le=64)
    api_workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes of `vsrc api`")
    api_worker_timeout: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="seconds a `vsrc api` worker may leave its supervisor's health ping unanswered "
        "before it is killed and replaced (VSRC_API_WORKERS > 1)",
    )
    fast_start_lanes: int = Field(
        default=1,
        ge=0,
        le=16,
        description="extra encode threads per worker, so a new upload starts (and becomes playable) "
        "while VSRC_WORKERS encodes run",
    )
    queue_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="longest wait of an idle worker between queue polls"
    )
    max_upload_bytes: int = Field(default=10 * 1024**3, ge=1)
    max_source_pixels: int = Field(
        default=8192 * 8192, ge=16 * 16, description="largest accepted source picture (width x height)"
    )
    min_free_bytes: int = Field(
        default=1024**3, ge=0, description="below this much free disk, workers pause and writes get 507"
    )
    heartbeat_seconds: float = Field(
        default=5, gt=0, le=60, description="how often workers and ingest servers record that they live"
    )
    upload_part_max_age: float = Field(
        default=3600, gt=0, description="seconds after which an untouched upload temp file is swept"
    )
    orphan_min_age: float = Field(
        default=86400, gt=0, description="seconds stored files of an item without a row wait before the sweep"
    )
    orphan_sweep_minutes: int = Field(
        default=60, ge=0, le=1440, description="how often the worker sweeps orphaned files (0: never)"
    )
    upload_url_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, le=7 * 24 * 3600, description="how long a direct upload's URL is valid"
    )
    upload_sweep_seconds: float = Field(
        default=300, gt=0, description="how often the API removes expired direct uploads' partial files"
    )
    rate_limit: str = "1000/15 minutes"
    ffmpeg: str | None = Field(default=None, description="ffmpeg binary; imageio-ffmpeg's if unset")
    hook_secret: str | None = Field(default=None, description="shared secret of the nginx-rtmp hooks")
    hook_allow_networks: str = Field(
        default="127.0.0.0/8,::1/128",
        description="comma-separated networks that may call the nginx-rtmp hooks without a secret",
    )
    recording_retry_seconds: float = Field(
        default=60, gt=0, description="how often an ingest retries storing recordings kept after a failure"
    )
    rtmp_publish_timeout: float = Field(
        default=15, gt=0, description="seconds an RTMP connection has to get its publish authorized"
    )
    rtmp_max_pending_per_ip: int = Field(
        default=10, ge=1, description="RTMP connections without an authorized publish per address (IPv6 /64)"
    )
    rtmp_preauth_max_message_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="largest RTMP message accepted before the publish is authorized",
    )
    player_dir: Path | None = Field(default=None, description="built VSRCPlayer (default: player/dist)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    source_fetch_max_bytes: int = Field(
        default=0,
        ge=0,
        description="on S3 storage an encode downloads a source up to this size before ffmpeg starts; "
        "a larger one is read in place (a presigned URL, HTTP range requests), with no local copy",
    )
    encode_stale_seconds: float = Field(
        default=90, gt=0, description="an encode without heartbeat for this long is re-queued"
    )
    key_touch_seconds: float = Field(
        default=10,
        ge=0,
        description="an API key's lastUsedAt is written (in the background) at most this often",
    )
    key_cache_seconds: float = Field(
        default=2,
        ge=0,
        le=60,
        description="how long an API process trusts a checked API key (the revocation delay)",
    )
    health_cache_seconds: float = Field(
        default=1, ge=0, le=60, description="how long an API process reuses its /health answer"
    )
    signing_key_cache_seconds: float = Field(
        default=10, ge=0, le=300, description="how long an API process trusts a cached signing key"
    )
    delivery_cache_seconds: float = Field(
        default=1, ge=0, le=60, description="how long delivery trusts a cached file, policy or resolve answer"
    )
    delivery_cache_mb: int = Field(
        default=256, ge=0, description="memory for cached delivery files per API process"
    )
    delivery_accel_prefix: str = Field(
        default="",
        description="behind nginx: send local media with X-Accel-Redirect to this internal location",
    )
    open_signup: bool = Field(
        default=False, description="dashboard sign-up stays open after the first user (else: CLI only)"
    )
    login_rate_limit: str = Field(
        default="10/minute", description="dashboard sign-in attempts per IP and per email"
    )
    analytics_retention_days: int = Field(default=90, ge=1, description="days analytics events are kept")
    analytics_ip_limit: str = Field(default="600/minute", description="analytics events per client IP")
    analytics_session_limit: str = Field(
        default="100/minute", description="analytics events per player session"
    )

    http_max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="largest request line + headers (else 431)"
    )
    http_max_headers: int = Field(default=100, ge=1, description="most header fields a request may send")
    http_header_timeout: float = Field(
        default=10, gt=0, description="seconds a client has to send a request's line and headers"
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="proxies (IPs, networks or *) whose X-Forwarded-For names the client",
    )
    webhook_allow_private: bool = Field(
        default=False, description="allow webhook URLs that resolve to loopback/private/link-local addresses"
    )
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60, description="per webhook request")
    webhook_retry_base_seconds: float = Field(
        default=15, gt=0, description="first webhook retry delay; doubles per attempt (at most 1 h)"
    )
    webhook_retry_window_seconds: float = Field(
        default=86400, gt=0, description="a webhook delivery is retried this long, then marked failed"
    )
    webhook_workers: int = Field(default=4, ge=1, le=64, description="webhook sender threads per worker")

    @field_validator("public_url", "rtmp_public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("rtmp_public_url")
    @classmethod
    def _rtmp_url(cls, value: str) -> str:
        if not value.startswith(("rtmp://", "rtmps://")):
            raise ValueError("must start with rtmp:// or rtmps://")
        return value

    @field_validator("rate_limit", "analytics_ip_limit", "analytics_session_limit", "login_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        # The `limits` library reads these strings, so it is the one that validates them.
        from limits import parse
        from limits.util import SEPARATORS, SINGLE_EXPR

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError("must look like '1000/15 minutes' or '100 per minute'") from exc
        # `limits` reads a window of 0 units ("10/0 minutes") as 1 unit: refuse it rather than guess.
        for part in SEPARATORS.split(value):
            match = SINGLE_EXPR.match(part)
            if match and match.group(3) is not None and int(match.group(3)) == 0:
                raise ValueError(f"{part.strip()!r} has a window of 0; use e.g. '1000/15 minutes'")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item != "*":
                ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("hook_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad entry
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage(cls, value: str | None) -> str | None:
        if value is not None:
            parse_storage_url(value)  # ValueError says which part is wrong
        return value

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    @cached_property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vsrc.db'}"

    @cached_property
    def storage_location(self) -> StorageLocation:
        if self.storage_url:
            return parse_storage_url(self.storage_url)
        return FileLocation(self.data_dir / "storage")

    @cached_property
    def storage_root(self) -> Path:
        """The local media folder; ``ConfigError`` when the storage is S3 (there is none)."""
        location = self.storage_location
        if not isinstance(location, FileLocation):
            from vsrc.errors import ConfigError

            raise ConfigError(f"VSRC_STORAGE_URL is {location.describe()}: there is no local storage root")
        return location.root

    @cached_property
    def player_dist(self) -> Path:
        if self.player_dir:
            return self.player_dir.expanduser().resolve()
        return Path(__file__).resolve().parents[2] / "player" / "dist"

    @cached_property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @cached_property
    def scratch_dir(self) -> Path:
        """Local copies of stored media while ffmpeg works on them (S3 storage only)."""
        return self.data_dir / "scratch"

    @cached_property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    @cached_property
    def webhook_queue_path(self) -> Path:
        return self.data_dir / "queue-webhooks.db"

    @cached_property
    def ffmpeg_path(self) -> str:
        if self.ffmpeg:
            return self.ffmpeg
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())

    @cached_property
    def hook_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``hook_allow_networks`` parsed."""
        parts = (p.strip() for p in self.hook_allow_networks.split(","))
        return tuple(ipaddress.ip_network(p, strict=False) for p in parts if p)


def load_settings() -> Settings:
    """Read and validate settings from the environment; raises ``ConfigError`` with a clear message."""
    from pydantic import ValidationError

    from vsrc.errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"VSRC_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
