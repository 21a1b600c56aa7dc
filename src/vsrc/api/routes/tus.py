"""``/tus/{token}``: the tus 1.0.0 endpoint behind a direct upload's ``uploadUrl`` (no API key: the
token in the path is the credential). POST creates (once), HEAD tells the offset, PATCH appends,
DELETE terminates, OPTIONS answers discovery and CORS preflights for the upload's ``corsOrigin``.

Errors carry the tus and CORS headers too, so a browser client can read why it was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from vsrc.api import tus
from vsrc.api.deps import AppState, get_state
from vsrc.api.errors import error_response
from vsrc.api.schemas.common import (
    BAD_REQUEST,
    CONFLICT,
    FORBIDDEN,
    GONE,
    LOCKED,
    NOT_FOUND,
    PRECONDITION,
    TOO_LARGE,
    UNSUPPORTED,
)
from vsrc.api.tus_body import append_body, while_held
from vsrc.db.models import DirectUpload
from vsrc.errors import (
    Conflict,
    Locked,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PreconditionFailed,
    VsrcError,
)
from vsrc.services import direct_uploads
from vsrc.services.tus_store import Receiver

log = logging.getLogger("vsrc.api.tus")

router = APIRouter(prefix="/tus", tags=["uploads"], responses={**NOT_FOUND, **GONE})


def _headers(description: str, *names: str) -> dict[str, Any]:
    docs = {
        "Upload-Offset": "bytes received so far",
        "Upload-Length": "the declared size",
        "Upload-Expires": "RFC 7231 date the URL stops working",
        "Location": "the upload's URL (the same as uploadUrl)",
        "Tus-Version": "1.0.0",
        "Tus-Extension": "creation,termination,expiration",
        "Tus-Max-Size": "the upload limit in bytes",
    }
    return {
        "description": description,
        "headers": {n: {"description": docs[n], "schema": {"type": "string"}} for n in names},
    }


Work = Callable[[AppState, DirectUpload], Awaitable[Response]]
TAKEOVER_SECONDS = 10  # a stale PATCH stops reading at once; its last write and bookkeeping remain


async def _answer(request: Request, token: str, work: Work) -> Response:
    state = get_state(request)
    upload = await run_in_threadpool(direct_uploads.find_by_token, state.sessions, token)
    try:
        if upload is None:
            raise NotFound("Upload not found")
        response = await work(state, upload)
    except VsrcError as exc:
        response = error_response(exc)
        if isinstance(exc, PreconditionFailed):
            response.headers["Tus-Version"] = tus.TUS_VERSION
    response.headers.update(
        tus.cors_headers(upload.cors_origin if upload else None, request.headers.get("origin"))
    )
    response.headers["Tus-Resumable"] = tus.TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


def _created(upload: DirectUpload) -> None:
    if upload.status == "waiting":
        raise NotFound("This upload has not been created yet: POST to this URL with Upload-Length first")


async def _hold(state: AppState, upload: DirectUpload) -> Receiver:
    """The upload, held for this request. A PATCH of the same upload still reading in this process
    is the client's own stale request (it would not send a new one otherwise): it is told to stop,
    and its hold awaited. Held by another process or machine: 423, which tus clients retry."""
    try:
        return await to_thread.run_sync(state.tus.open, upload)
    except Locked:
        if not state.tus_writers.stop(upload.public_id):
            raise
    deadline = anyio.current_time() + TAKEOVER_SECONDS
    while True:
        await anyio.sleep(0.02)
        try:
            return await to_thread.run_sync(state.tus.open, upload)
        except Locked:
            if anyio.current_time() > deadline:
                raise


def _finish(state: AppState, upload: DirectUpload) -> None:
    """The last byte is in: the media item, then its encode (enqueued after commit, as for multipart)."""
    media = direct_uploads.complete(
        state.sessions,
        state.storage,
        state.tus,
        upload_id=upload.id,
        max_pixels=state.settings.max_source_pixels,
    )
    try:
        state.queue.enqueue_encode(media.public_id)
    except Exception:  # the queue is down: the media is safe, workers re-queue forgotten pending media
        log.exception("could not enqueue the encode of %s; it will be re-queued", media.public_id)


@router.options(
    "/{token}",
    status_code=204,
    summary="tus discovery / CORS preflight",
    responses={204: _headers("Capabilities", "Tus-Version", "Tus-Extension", "Tus-Max-Size"), **FORBIDDEN},
)
async def tus_options(token: str, request: Request) -> Response:
    """tus capabilities (``Tus-Version``, ``Tus-Extension``, ``Tus-Max-Size``), or the CORS preflight
    for the upload's ``corsOrigin``."""

    async def work(state: AppState, upload: DirectUpload) -> Response:
        if tus.is_preflight(request.method, request.headers):
            allowed = tus.origin_allowed(upload.cors_origin, request.headers.get("origin"))
            if allowed is None:
                raise PermissionDenied("This upload URL was not created for this origin (see corsOrigin)")
            return Response(status_code=204, headers=tus.preflight_headers(allowed))
        return Response(status_code=204, headers=tus.capability_headers(state.settings.max_upload_bytes))

    return await _answer(request, token, work)


@router.post(
    "/{token}",
    status_code=201,
    summary="tus creation",
    responses={
        201: _headers("Created", "Location", "Upload-Expires"),
        **BAD_REQUEST,
        **CONFLICT,
        **PRECONDITION,
        **TOO_LARGE,
    },
)
async def tus_create(token: str, request: Request) -> Response:
    """Create the upload: ``Upload-Length`` (at most ``Tus-Max-Size``), optional ``Upload-Metadata``
    (``filename``/``name``). Answers 201 with ``Location`` (the same URL). Works once per URL."""
    override = tus.method_override(request.headers)
    if override == "PATCH":
        return await tus_patch(token, request)
    if override == "DELETE":
        return await tus_terminate(token, request)
    if override == "HEAD":
        return await tus_head(token, request)

    async def work(state: AppState, upload: DirectUpload) -> Response:
        tus.check_version(request.headers)
        length = tus.upload_length(request.headers)
        name = tus.filename(tus.metadata(request.headers))
        settings = state.settings
        started = await run_in_threadpool(
            direct_uploads.start,
            state.sessions,
            state.tus,
            upload_id=upload.id,
            length=length,
            filename=name,
            max_bytes=settings.max_upload_bytes,
        )
        if length == 0:  # nothing will ever be PATCHed: this is already the last byte
            await run_in_threadpool(_finish, state, started)
        headers = {
            "Location": f"{settings.public_url}/tus/{token}",
            "Upload-Expires": tus.expires(started.expires_at),
        }
        return Response(status_code=201, headers=headers)

    return await _answer(request, token, work)


@router.head(
    "/{token}",
    summary="tus offset",
    responses={
        200: _headers("Where the upload stands", "Upload-Offset", "Upload-Length", "Upload-Expires"),
        **PRECONDITION,
    },
)
async def tus_head(token: str, request: Request) -> Response:
    """``Upload-Offset`` (bytes received, kept across dropped connections) and ``Upload-Length``."""

    async def work(state: AppState, upload: DirectUpload) -> Response:
        tus.check_version(request.headers)
        direct_uploads.check_receiving(upload)
        _created(upload)
        offset = await run_in_threadpool(direct_uploads.current_offset, state.tus, upload)
        headers = {"Upload-Offset": str(offset), "Upload-Length": str(upload.length)}
        if upload.status == "uploading":
            headers["Upload-Expires"] = tus.expires(upload.expires_at)
        return Response(status_code=200, headers=headers)

    return await _answer(request, token, work)


@router.patch(
    "/{token}",
    status_code=204,
    summary="tus append",
    responses={
        204: _headers("Appended", "Upload-Offset", "Upload-Expires"),
        **CONFLICT,
        **PRECONDITION,
        **TOO_LARGE,
        **UNSUPPORTED,
        **LOCKED,
    },
)
async def tus_patch(token: str, request: Request) -> Response:
    """Append ``application/offset+octet-stream`` bytes at ``Upload-Offset`` (409 if it is not the
    upload's offset). A request cut mid-way keeps what arrived. The last byte turns the upload into a
    media item (415 + ``failed`` if it is not a video)."""

    async def work(state: AppState, upload: DirectUpload) -> Response:
        tus.check_version(request.headers)
        tus.check_patch_content_type(request.headers)
        offset = tus.upload_offset(request.headers)
        direct_uploads.check_receiving(upload)
        _created(upload)
        if upload.status == "completed":
            raise Conflict("This upload is already complete")
        assert upload.length is not None  # set by creation
        receiver = await _hold(state, upload)
        try:
            current = receiver.offset
            if offset != current:
                raise Conflict(
                    f"Upload-Offset {offset} is not the upload's offset {current}: HEAD, then resume"
                )
            room = upload.length - current
            declared = tus.content_length(request.headers)
            if declared is not None and declared > room:
                raise PayloadTooLarge("The PATCH body goes past Upload-Length")
            appended = await append_body(
                request, receiver, writers=state.tus_writers, upload_id=upload.public_id, room=room
            )
            new_offset = appended.offset
            if new_offset == upload.length:  # even if the client left right after its last byte
                await while_held(receiver, lambda: _finish(state, upload))
        finally:
            await to_thread.run_sync(receiver.close)
        return Response(
            status_code=204,
            headers={"Upload-Offset": str(new_offset), "Upload-Expires": tus.expires(upload.expires_at)},
        )

    return await _answer(request, token, work)


@router.delete("/{token}", status_code=204, summary="tus termination", responses={**CONFLICT, **PRECONDITION})
async def tus_terminate(token: str, request: Request) -> Response:
    """Terminate (cancel) the upload and free the bytes received."""

    async def work(state: AppState, upload: DirectUpload) -> Response:
        tus.check_version(request.headers)
        direct_uploads.check_receiving(upload)
        await run_in_threadpool(direct_uploads.cancel, state.sessions, state.tus, upload=upload)
        return Response(status_code=204)

    return await _answer(request, token, work)
