"""Signing-key shapes of the public API."""

from __future__ import annotations

from pydantic import BaseModel

from vsrc.db.models import SigningKey
from vsrc.timeutil import iso_ms

EXAMPLE_KEY_ID = "sk_3f1c2a9be0d54c6f8a7b1e2d3c4b5a69"
EXAMPLE_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC…\n-----END PRIVATE KEY-----\n"


class SigningKeyOut(BaseModel):
    keyId: str
    createdAt: str


class NewSigningKey(SigningKeyOut):
    privateKey: str


class SigningKeyCreateResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "message": "Signing key created; store the private key now, it is not shown again",
                    "data": {
                        "keyId": EXAMPLE_KEY_ID,
                        "privateKey": EXAMPLE_PEM,
                        "createdAt": "2024-01-15T10:30:00.000Z",
                    },
                }
            ]
        }
    }
    success: bool = True
    message: str = "Signing key created; store the private key now, it is not shown again"
    data: NewSigningKey


class SigningKeyListResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "success": True,
                    "data": [{"keyId": EXAMPLE_KEY_ID, "createdAt": "2024-01-15T10:30:00.000Z"}],
                }
            ]
        }
    }
    success: bool = True
    data: list[SigningKeyOut]


class RevokedKey(BaseModel):
    keyId: str


class SigningKeyDeleteResponse(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"success": True, "message": "Signing key revoked", "data": {"keyId": EXAMPLE_KEY_ID}}
            ]
        }
    }
    success: bool = True
    message: str = "Signing key revoked"
    data: RevokedKey


def key_out(row: SigningKey) -> SigningKeyOut:
    return SigningKeyOut(keyId=row.key_id, createdAt=iso_ms(row.created_at))
