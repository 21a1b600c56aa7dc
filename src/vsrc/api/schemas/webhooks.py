"""Webhook shapes of the public API (the secret appears only in the create answer)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vsrc.db.models import Webhook, WebhookDelivery
from vsrc.services.webhooks import MAX_DESCRIPTION, SUBSCRIBABLE
from vsrc.timeutil import iso_ms
from vsrc.webhooks.outbox import ALL_EVENTS
from vsrc.webhooks.targets import MAX_URL_LENGTH

EXAMPLE_WEBHOOK: dict[str, Any] = {
    "webhookId": "whk_3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c",
    "url": "https://example.com/vsrc/webhooks",
    "events": ["media.completed", "media.failed"],
    "description": "Production receiver",
    "enabled": True,
    "createdAt": "2024-01-15T10:30:00.000Z",
    "updatedAt": "2024-01-15T10:30:00.000Z",
}
EXAMPLE_DELIVERY: dict[str, Any] = {
    "deliveryId": "dlv_9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "eventId": "evt_1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    "eventType": "media.completed",
    "status": "pending",
    "attempts": 2,
    "lastStatusCode": 500,
    "lastLatencyMs": 84,
    "lastError": "HTTP 500",
    "lastAttemptAt": "2024-01-15T10:31:00.000Z",
    "nextAttemptAt": "2024-01-15T10:31:30.000Z",
    "deliveredAt": None,
    "createdAt": "2024-01-15T10:30:45.000Z",
}


# The fields stay ``Any`` so that services/webhooks.py names every bad field in one answer; the
# document states its rules. Whether the host resolves (to a public address) is known only when saved.
URL_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "uri",
    "minLength": 1,
    "maxLength": MAX_URL_LENGTH,
    "pattern": r"^https?://[^\s/?#@]+(/[^\s#]*)?$",
    "description": "http(s) URL without credentials or #fragment; its host must resolve to public "
    "addresses (unless VSRC_WEBHOOK_ALLOW_PRIVATE)",
}
EVENTS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": [*SUBSCRIBABLE, ALL_EVENTS]},
        },
        {"type": "null"},
    ],
    "description": 'event types; omitted, null or ["*"]: every event',
}
DESCRIPTION_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "maxLength": MAX_DESCRIPTION, "pattern": r"^[^\x00]*$"}, {"type": "null"}]
}


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Any = Field(examples=["https://example.com/vsrc/webhooks"], json_schema_extra=URL_SCHEMA)
    events: Any = Field(
        default=None, examples=[["media.completed", "media.failed"]], json_schema_extra=EVENTS_SCHEMA
    )
    description: Any = Field(
        default=None, examples=["Production receiver"], json_schema_extra=DESCRIPTION_SCHEMA
    )


def _update_schema(schema: dict[str, Any]) -> None:
    # A field left out is unchanged: no defaults (``url: null`` or ``enabled: null`` are refused).
    for prop in schema["properties"].values():
        prop.pop("default", None)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_update_schema)

    url: Any = Field(
        default=None, examples=["https://example.com/new-receiver"], json_schema_extra=URL_SCHEMA
    )
    events: Any = Field(default=None, examples=[["*"]], json_schema_extra=EVENTS_SCHEMA)
    description: Any = Field(
        default=None, examples=["Staging receiver"], json_schema_extra=DESCRIPTION_SCHEMA
    )
    enabled: Any = Field(default=None, examples=[False], json_schema_extra={"type": "boolean"})


class WebhookOut(BaseModel):
    webhookId: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    createdAt: str
    updatedAt: str


class WebhookCreated(WebhookOut):
    secret: str


class WebhookCreateResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Webhook created; store the secret now, it is not shown again",
                    "data": {
                        **EXAMPLE_WEBHOOK,
                        "secret": "whsec_Q2hhbmdlIG1lIGlmIHlvdSBjb3B5IHRoaXMgZXhhbXBsZQ",
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Webhook created; store the secret now, it is not shown again"
    data: WebhookCreated


class WebhookResponse(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"success": True, "data": EXAMPLE_WEBHOOK}]}}
    success: bool = True
    data: WebhookOut


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class WebhookListResponse(BaseModel):
    model_config = {
        "json_schema_extra": {"examples": [{"success": True, "data": {"webhooks": [EXAMPLE_WEBHOOK]}}]}
    }
    success: bool = True
    data: WebhookList


class WebhookDeleteResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Webhook deleted",
                    "data": {"webhookId": EXAMPLE_WEBHOOK["webhookId"]},
                }
            ]
        }
    }
    success: bool = True
    message: str = "Webhook deleted"
    data: dict[str, str]


class DeliveryOut(BaseModel):
    deliveryId: str
    eventId: str
    eventType: str
    status: str
    attempts: int
    lastStatusCode: int | None
    lastLatencyMs: int | None
    lastError: str | None
    lastAttemptAt: str | None
    nextAttemptAt: str | None
    deliveredAt: str | None
    createdAt: str


class DeliveryResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Delivery queued",
                    "data": {
                        **EXAMPLE_DELIVERY,
                        "status": "pending",
                        "nextAttemptAt": "2024-01-15T10:32:00.000Z",
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Delivery queued"
    data: DeliveryOut


class DeliveryPagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    pagination: DeliveryPagination


class DeliveryListResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "data": {
                        "deliveries": [EXAMPLE_DELIVERY],
                        "pagination": {"page": 1, "limit": 20, "total": 1, "totalPages": 1},
                    },
                }
            ]
        }
    }
    success: bool = True
    data: DeliveryList


def _iso(value: Any) -> str | None:
    return iso_ms(value) if value is not None else None


def webhook_out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        webhookId=webhook.public_id,
        url=webhook.url,
        events=list(webhook.events) if webhook.events is not None else [ALL_EVENTS],
        description=webhook.description,
        enabled=webhook.enabled,
        createdAt=iso_ms(webhook.created_at),
        updatedAt=iso_ms(webhook.updated_at),
    )


def webhook_created(webhook: Webhook) -> WebhookCreated:
    return WebhookCreated(**webhook_out(webhook).model_dump(), secret=webhook.secret)


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        deliveryId=delivery.public_id,
        eventId=delivery.event.public_id,
        eventType=delivery.event.type,
        status=delivery.status,
        attempts=delivery.attempts,
        lastStatusCode=delivery.last_status_code,
        lastLatencyMs=delivery.last_latency_ms,
        lastError=delivery.last_error,
        lastAttemptAt=_iso(delivery.last_attempt_at),
        nextAttemptAt=_iso(delivery.next_attempt_at),
        deliveredAt=_iso(delivery.delivered_at),
        createdAt=iso_ms(delivery.created_at),
    )
