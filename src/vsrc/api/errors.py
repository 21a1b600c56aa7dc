"""The one place that maps the ``vsrc.errors`` tree (and framework errors) to HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from vsrc import errors

log = logging.getLogger("vsrc.api")

STATUS: dict[type[errors.VsrcError], int] = {
    errors.ValidationFailed: 400,
    errors.AuthError: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.PreconditionFailed: 412,
    errors.Locked: 423,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMedia: 415,
    errors.RateLimited: 429,
    errors.PublishDenied: 403,
    errors.InsufficientStorage: 507,
}


def envelope(
    status: int,
    message: str,
    field_errors: list[errors.FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "message": message}
    if field_errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in field_errors]
    return JSONResponse(body, status_code=status, headers=headers)


def _html_page(request: Request, status: int, message: str) -> Response | None:
    """The dashboard's HTML error page when a dashboard route failed (``web/auth.mark_dashboard``)."""
    render = getattr(request.app.state, "html_error_page", None)
    if render is None or not getattr(request.state, "dashboard", False):
        return None
    page: Response = render(request, status, message)
    return page


def _status_for(exc: errors.VsrcError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _vsrc_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.VsrcError)
    status = _status_for(exc)
    if status < 500 and (page := _html_page(request, status, _with_fields(exc))) is not None:
        return page
    return error_response(exc)


def error_response(exc: errors.VsrcError) -> JSONResponse:
    """The envelope answer for ``exc`` (for routes that must add their own headers to errors)."""
    status = _status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if status >= 500 and status != 507:
        log.error("internal error: %s", exc.message)
        return envelope(status, "Internal server error", headers=headers)
    field_errors = exc.errors if isinstance(exc, errors.ValidationFailed | errors.TokenRefused) else None
    return envelope(status, exc.message, field_errors, headers)


def _with_fields(exc: errors.VsrcError) -> str:
    if isinstance(exc, errors.ValidationFailed) and exc.errors:
        return "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return exc.message


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    field_errors = [
        errors.FieldError(_field_name(tuple(err.get("loc", ()))), str(err.get("msg", "invalid")))
        for err in exc.errors()
    ]
    message = "; ".join(f"{e.field}: {e.message}" for e in field_errors)
    if (page := _html_page(request, 400, message)) is not None:
        return page
    return envelope(400, "Validation failed", field_errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return envelope(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _client_gone(_request: Request, _exc: Exception) -> JSONResponse:
    # Nobody reads this answer; the upload code already cleaned up and logged the abort.
    return envelope(400, "Client disconnected")


async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return envelope(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.VsrcError, _vsrc_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unhandled)
