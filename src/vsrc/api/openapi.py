"""The OpenAPI document, made to say what the app does (a schemathesis run checks it in the tests).

FastAPI documents 422 for request validation; VSRC answers 400 with its error envelope
(``api/errors.py``), so every 422 becomes that 400. An operation with path parameters can be 404; an
operation that takes input can be 400; what the rate limit and the free-disk guard answer is added
where they apply. The public delivery routes return files, not JSON: their 200
lists the media types they serve (``services/playback.py`` ``CONTENT_TYPES``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vsrc.api.schemas.common import ErrorResponse

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
BINARY = {"schema": {"type": "string", "format": "binary"}}

# What the public file routes serve, per path prefix.
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "/hls/{mediaId}/": (
        "application/vnd.apple.mpegurl",
        "video/mp2t",
        "video/iso.segment",
        "video/mp4",
        "audio/aac",
    ),
    "/thumbnails/{mediaId}/": ("image/jpeg", "image/png", "text/vtt"),
    "/player/dist/": ("text/javascript", "text/css", "application/json"),
}

# Errors the generic rules cannot see, per (method, path prefix; a trailing ``$``: that path only).
EXTRA_ERRORS: dict[tuple[str, str], dict[int, str]] = {
    ("get", "/hls/"): {403: "Signed item without a valid playback token", 404: "Unknown media or file"},
    ("get", "/thumbnails/"): {
        403: "Signed item without a valid playback token",
        404: "Unknown media or file",
    },
    ("get", "/embed/"): {403: "Signed item without a valid playback token", 404: "Unknown media"},
    ("get", "/player/dist/"): {404: "Not a file of the player bundle"},
    ("post", "/hooks/rtmp/"): {403: "Publish denied (bad key or hook secret)"},
    ("post", "/api/v1/live$"): {409: "No online RTMP server in the region, or the chosen one is offline"},
    ("post", "/api/analytics/"): {
        404: "Well-formed events about media that does not exist (nothing stored)",
        413: "Payload over 64 KiB",
        429: "Every event over the per-IP or per-session limit (see Retry-After)",
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _fix_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    params = operation.get("parameters", [])
    responses.pop("422", None)
    if params or "requestBody" in operation:
        responses.setdefault("400", _error_response("Validation failed"))
    if any(p.get("in") == "path" for p in params):
        responses.setdefault("404", _error_response("Not found"))
    # The middlewares in api/app.py answer before any route: the rate limit (all of /api/ but the
    # analytics ingest, which has its own per-IP limits) and the free-disk guard on writes.
    if path.startswith("/api/") and not path.startswith("/api/analytics/"):
        responses.setdefault("429", _error_response("Rate limit exceeded (see Retry-After)"))
    if path.startswith(("/api/", "/tus/")) and method in ("post", "put", "patch"):
        responses.setdefault("507", _error_response("The server is low on disk space: try again later"))
    for (extra_method, prefix), errors in EXTRA_ERRORS.items():
        exact = prefix.endswith("$")
        if method == extra_method and (path == prefix[:-1] if exact else path.startswith(prefix)):
            for status, description in errors.items():
                responses.setdefault(str(status), _error_response(description))
    for prefix, types in FILE_TYPES.items():
        if method == "get" and path.startswith(prefix) and "200" in responses:
            responses["200"]["content"] = dict.fromkeys(types, BINARY)
            if prefix != "/player/dist/":
                responses["206"] = {
                    "description": "Partial content (HTTP Range)",
                    "content": dict.fromkeys(types, BINARY),
                }


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict):
                _fix_operation(method, path, operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorResponse", ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
