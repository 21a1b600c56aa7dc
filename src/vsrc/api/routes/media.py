"""``/api/v1/media``: upload, list, tag search, get, delete, embed."""

from __future__ import annotations

import functools
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from vsrc.api.deps import AppState, Reader, SessionDep, StateDep, Writer
from vsrc.api.schemas.common import FORBIDDEN, READ_ERRORS, TOO_LARGE, UNSUPPORTED
from vsrc.api.schemas.live import Embed, EmbedResponse
from vsrc.api.schemas.media import (
    DeletedMedia,
    DeleteResponse,
    MediaPage,
    MediaPageResponse,
    MediaResponse,
    MediaUpdate,
    Pagination,
    UploadResponse,
    media_detail,
    media_summary,
    uploaded_media,
)
from vsrc.api.uploads import receive_upload
from vsrc.db.session import transaction
from vsrc.services import embed, live, media, uploads
from vsrc.services.media import MAX_PAGE, Page

log = logging.getLogger("vsrc.api.media")

# A comma list of tags of at most 255 characters each, one of them starting with a non-blank.
TAGS_PATTERN = r"^([^,\x00]{0,255},)*[^\s,\x00][^,\x00]{0,254}(,[^,\x00]{0,255})*$"
# The upload's tags as services/tags.py parses them: each at most 255 characters once trimmed.
FORM_TAGS_PATTERN = r"^\s*[^,\x00]{0,255}\s*(,\s*[^,\x00]{0,255}\s*)*$"

router = APIRouter(prefix="/api/v1/media", tags=["media"], responses=READ_ERRORS)

VodId = Annotated[
    str, Path(pattern=r"^vod_[a-f0-9\-]+$", examples=["vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890"])
]
AnyId = Annotated[str, Path(pattern=r"^(vod|live)_[a-f0-9\-]+$")]
PageQ = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number", examples=[1])]
LimitQ = Annotated[int, Query(ge=1, le=100, description="Items per page", examples=[20])]
Status = Literal["pending", "processing", "completed", "failed"]


def _page(result: Page, public_url: str) -> MediaPageResponse:
    return MediaPageResponse(
        data=MediaPage(
            media=[media_summary(m, public_url) for m in result.items],
            pagination=Pagination(
                page=result.page, limit=result.limit, total=result.total, totalPages=result.total_pages
            ),
        )
    )


@router.post(
    "/upload",
    status_code=201,
    response_model=UploadResponse,
    responses={**FORBIDDEN, **TOO_LARGE, **UNSUPPORTED},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "title"],
                        "properties": {
                            "file": {"type": "string", "format": "binary", "description": "max 10GB"},
                            "title": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 255,
                                "pattern": r"^[^\x00]*\S[^\x00]*$",
                            },
                            "description": {"type": "string", "maxLength": 1000, "pattern": r"^[^\x00]*$"},
                            "encodingProfileId": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                            "tags": {
                                "type": "string",
                                "maxLength": 500,
                                "pattern": FORM_TAGS_PATTERN,
                                "example": "conference,2024",
                            },
                            "playbackPolicy": {
                                "type": "string",
                                "enum": ["public", "signed"],
                                "default": "public",
                                "description": "'signed': playback needs a token from a signing key",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload_media(request: Request, principal: Writer, state: StateDep) -> UploadResponse:
    """Upload a video (streamed to storage) for adaptive HLS encoding."""
    open_file = functools.partial(uploads.open_source, state.storage, state.settings.tmp_dir)
    upload = await receive_upload(request, open_file=open_file, max_bytes=state.settings.max_upload_bytes)
    created = await run_in_threadpool(
        uploads.ingest,
        state.sessions,
        state.storage,
        upload,
        account_id=principal.account_id,
        max_pixels=state.settings.max_source_pixels,
    )
    try:
        await run_in_threadpool(state.queue.enqueue_encode, created.public_id)  # a queue write: off the loop
    except Exception:  # the queue is down: the upload is safe, workers re-queue forgotten pending media
        log.exception("could not enqueue the encode of %s; it will be re-queued", created.public_id)
    return UploadResponse(data=uploaded_media(created))


def _list_page(
    state: AppState, account_id: int, page: int, limit: int, status: str | None
) -> MediaPageResponse:
    with transaction(state.sessions) as session:
        result = media.list_media(session, account_id=account_id, page=page, limit=limit, status=status)
        return _page(result, state.settings.public_url)


@router.get("", response_model=MediaPageResponse)
async def list_media(
    principal: Reader,
    state: StateDep,
    page: PageQ = 1,
    limit: LimitQ = 20,
    encodingStatus: Status | None = None,
) -> MediaPageResponse:
    """The account's media, newest first."""
    # One thread-pool hop for the query and the page's models (docs/architecture.md#api-keys).
    return await run_in_threadpool(_list_page, state, principal.account_id, page, limit, encodingStatus)


@router.get("/search", response_model=MediaPageResponse)
def search_media(
    principal: Reader,
    session: SessionDep,
    state: StateDep,
    tags: Annotated[
        str,
        Query(max_length=500, pattern=TAGS_PATTERN, examples=["conference,2024,keynote"]),
    ],
    match: Literal["any", "all"] = "any",
    page: PageQ = 1,
    limit: LimitQ = 20,
) -> MediaPageResponse:
    """Media with any (OR) or all (AND) of the given tags, newest first."""
    result = media.search_media(
        session, account_id=principal.account_id, tags=tags, match=match, page=page, limit=limit
    )
    return _page(result, state.settings.public_url)


def _detail(state: AppState, account_id: int, public_id: str) -> MediaResponse:
    with transaction(state.sessions) as session:
        item = media.get_media(session, account_id=account_id, public_id=public_id)
        return MediaResponse(data=media_detail(item, state.settings.public_url))


@router.get("/{mediaId}", response_model=MediaResponse)
async def get_media(mediaId: VodId, principal: Reader, state: StateDep) -> MediaResponse:
    """One media item with its tags."""
    return await run_in_threadpool(_detail, state, principal.account_id, mediaId)


@router.patch("/{mediaId}", response_model=MediaResponse, responses=FORBIDDEN)
def update_media(
    mediaId: VodId,
    principal: Writer,
    state: StateDep,
    body: MediaUpdate = Body(
        examples=[
            {"title": "My Edited Video", "description": "A better description", "tags": "keynote,2024"},
            {"playbackPolicy": "signed"},
        ]
    ),
) -> MediaResponse:
    """Edit title, description, tags or playbackPolicy (same limits as the upload); emits
    ``media.updated``."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    item = uploads.edit(
        state.sessions, state.storage, account_id=principal.account_id, public_id=mediaId, changes=changes
    )
    return MediaResponse(data=media_detail(item, state.settings.public_url))


@router.delete("/{mediaId}", response_model=DeleteResponse, responses=FORBIDDEN)
def delete_media(mediaId: VodId, principal: Writer, state: StateDep) -> DeleteResponse:
    """Delete the media item, its tag links and every stored file."""
    uploads.remove(state.sessions, state.storage, account_id=principal.account_id, public_id=mediaId)
    return DeleteResponse(data=DeletedMedia(mediaId=mediaId))


@router.get("/{mediaId}/embed", response_model=EmbedResponse)
def get_embed(
    mediaId: AnyId,
    principal: Reader,
    session: SessionDep,
    state: StateDep,
    token: Annotated[
        str | None, Query(max_length=4096, description="Playback token to put in the code (signed media)")
    ] = None,
) -> EmbedResponse:
    """HTML/JavaScript embed code for a VOD or live media item."""
    public_url = state.settings.public_url
    if mediaId.startswith("live_"):
        stream = live.get_live(session, account_id=principal.account_id, public_id=mediaId)
        title, description, status, kind = stream.title, stream.description, None, "live"
        policy = stream.playback_policy
    else:
        item = media.get_media(session, account_id=principal.account_id, public_id=mediaId)
        title, description, status, kind = item.title, item.description, item.encoding_status, "vod"
        policy = item.playback_policy
    code = embed.embed_code(
        public_url=public_url, media_id=mediaId, player_type=kind, token=token, signed=policy == "signed"
    )
    return EmbedResponse(
        data=Embed(
            mediaId=mediaId,
            title=title,
            description=description,
            playerType=kind,
            encodingStatus=status,
            embedCode=code,
        )
    )
