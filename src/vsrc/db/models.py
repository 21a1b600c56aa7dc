"""SQLAlchemy 2 models (typed ``Mapped[]`` columns only; behaviour lives in ``vsrc.services``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from vsrc.timeutil import utcnow

DEFAULT_TAG_COLOR = "#6c757d"


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person who signs in to the dashboard; belongs to one account (email + argon2 hash)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()


class WebSession(Base):
    """A dashboard sign-in; the cookie holds a random token whose SHA-256 is ``token_hash``."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    user: Mapped[User] = relationship()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    permission: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()


media_tags = Table(
    "media_tags",
    Base.metadata,
    Column("media_id", ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_media_tags_tag_media", "tag_id", "media_id"),
)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("account_id", "name_key", name="uq_tags_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    # Lower-cased name: tags match case-insensitively with a plain indexed equality on any database.
    name_key: Mapped[str] = mapped_column(String(255))
    color: Mapped[str] = mapped_column(String(7), default=DEFAULT_TAG_COLOR)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EncodingProfile(Base):
    __tablename__ = "encoding_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL account: a built-in profile every account may use.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(default=False)
    rungs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    audio_bitrate: Mapped[int] = mapped_column(default=128_000)
    preset: Mapped[str] = mapped_column(String(16), default="veryfast")
    segment_seconds: Mapped[int] = mapped_column(default=4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (
        Index("ix_media_account_created", "account_id", "created_at", "id"),
        Index("ix_media_account_status_created", "account_id", "encoding_status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(64))
    original_filename: Mapped[str | None] = mapped_column(String(255))
    source_key: Mapped[str] = mapped_column(String(512))
    encoding_status: Mapped[str] = mapped_column(String(16), default="pending")
    upload_status: Mapped[str] = mapped_column(String(16), default="completed")
    encoding_progress: Mapped[int] = mapped_column(default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    encode_attempts: Mapped[int] = mapped_column(default=0)
    # Refreshed by the worker while it encodes; a stale one means the worker died (the job is re-queued).
    encode_heartbeat_at: Mapped[datetime | None]
    original_width: Mapped[int | None]
    original_height: Mapped[int | None]
    duration: Mapped[float | None] = mapped_column(Float)
    # The upload's probe result (vsrc.media.probed), so the encode job need not probe again.
    source_probe: Mapped[str | None] = mapped_column(Text)
    encoding_profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("encoding_profiles.id", ondelete="SET NULL")
    )
    live_stream_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_streams.id", ondelete="SET NULL"), index=True
    )
    # "public" or "signed" (playback needs a token signed by one of the account's signing keys).
    playback_policy: Mapped[str] = mapped_column(String(8), default="public", server_default="public")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tags: Mapped[list[Tag]] = relationship(secondary=media_tags, order_by=Tag.id)


class RtmpServer(Base):
    __tablename__ = "rtmp_servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    region: Mapped[str] = mapped_column(String(64), index=True)
    rtmp_url: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="online")
    last_heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveStream(Base):
    __tablename__ = "live_streams"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("rtmp_servers.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    stream_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="idle")
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    session_started_at: Mapped[datetime | None]
    playback_policy: Mapped[str] = mapped_column(String(8), default="public", server_default="public")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    server: Mapped[RtmpServer] = relationship()


# The dashboard's own preview key: at most one active per account, also when processes race to make it.
ONE_DASHBOARD_KEY = "purpose = 'dashboard' AND revoked_at IS NULL"


class SigningKey(Base):
    """An RSA public key that verifies playback tokens. A customer's (``purpose`` "api") private half was
    shown once and not kept; the dashboard's internal key ("dashboard") keeps it in ``private_key``."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index(
            "uq_signing_keys_dashboard",
            "account_id",
            unique=True,
            sqlite_where=text(ONE_DASHBOARD_KEY),
            postgresql_where=text(ONE_DASHBOARD_KEY),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    purpose: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    private_key: Mapped[str | None] = mapped_column(Text)


class AnalyticsEvent(Base):
    """One VSRCPlayer analytics event; kept ``VSRC_ANALYTICS_RETENTION_DAYS`` days."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_media_created", "media_public_id", "created_at"),
        Index("ix_analytics_events_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # vod_… or live_…; no foreign key (two tables), owner copied into account_id at ingest.
    media_public_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    current_time: Mapped[float] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[str | None] = mapped_column(String(32))
    client_ts: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DirectUpload(Base):
    """A browser-safe resumable (tus) upload: the settings of the media item it will become, and
    where the bytes stand. The one-time URL's token is stored only as its SHA-256."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # waiting → uploading → completed | failed; cancelled or expired from waiting/uploading.
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # No foreign key: a profile deleted before the last byte fails the upload instead of silently
    # switching it to the default profile.
    encoding_profile_id: Mapped[int | None]
    playback_policy: Mapped[str] = mapped_column(String(16), default="public")
    cors_origin: Mapped[str | None] = mapped_column(String(255))
    length: Mapped[int | None] = mapped_column(BigInteger)
    received_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    filename: Mapped[str | None] = mapped_column(String(255))
    media_public_id: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # On object storage (services/tus_s3.py) the bytes go straight into a multipart upload of the
    # media item's original, chosen at creation; none of these are used on local storage.
    source_key: Mapped[str | None] = mapped_column(String(512))
    storage_upload_id: Mapped[str | None] = mapped_column(String(1024))
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    # [[part number, ETag, size], ...] of the parts uploaded and recorded, in order.
    parts: Mapped[list[list[Any]] | None] = mapped_column(JSON)
    # The object holding the bytes past the last part (fewer than a part), if any.
    tail_key: Mapped[str | None] = mapped_column(String(512))
    # Which request may write the upload, until when (renewed while bytes flow).
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


class Webhook(Base):
    """An account's webhook endpoint; ``secret`` signs every delivery (kept, as the signer needs it)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(Text)
    # NULL: every event type, including types added later.
    events: Mapped[list[str] | None] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """The outbox: one row per event, written in the transaction of the change that caused it.

    ``body`` is the exact JSON sent: every retry carries the same bytes and the same event id."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_subject_type", "subject_id", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookDelivery(Base):
    """One event for one webhook: its state and its last attempt (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    # pending → delivered | failed (retries exhausted); redeliver makes it pending again.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # A worker sending it holds it until then; a duplicate task finds it taken and does nothing.
    locked_until: Mapped[datetime | None]
    # Retries stop this long after here (the 24 h window); a redelivery restarts it.
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_latency_ms: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    webhook: Mapped[Webhook] = relationship()
    event: Mapped[WebhookEvent] = relationship()


class ProcessHeartbeat(Base):
    """A running background process (a worker) that beats here; ``/health`` reads them in every
    deployment, a fleet included (docs/architecture.md#failure-modes-and-limits)."""

    __tablename__ = "process_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    instance: Mapped[str] = mapped_column(String(128), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    state: Mapped[str] = mapped_column(String(255), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
