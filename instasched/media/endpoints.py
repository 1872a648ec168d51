"""Media library endpoints under /api/instagram/scheduling/media.

Route order matters: the fixed paths (`/media/usage`, `/media/upload`, `/media/assets/...`) are
declared before `/media/{accountId}`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from starlette.requests import ClientDisconnect

from instasched.exceptions import (
    BadRequest,
    Conflict,
    Invalid,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep, get_state
from instasched.kit.openapi import ACCOUNT_NOT_FOUND, ErrorCase, errors, example_200, multipart_body
from instasched.kit.schemas import Message
from instasched.media import service
from instasched.media.schemas import MediaAsset, MediaPage, MediaType, MediaUpdate, MediaUsage
from instasched.workspaces.access import CurrentAccess

router = APIRouter(prefix="/instagram/scheduling", tags=["Media"])


async def _upload_guard(request: Request) -> AsyncIterator[service.PendingObjects]:
    # Declared before the session dependency, so it is torn down after it: an exception here
    # is a failed endpoint or a failed commit, and the uploaded objects must go.
    pending = service.PendingObjects()
    try:
        yield pending
    except BaseException:
        state = get_state(request)
        await pending.discard_unless_committed(state.storage, state.session_factory)
        raise


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect as exc:  # an expected event, not a server error
        raise BadRequest(
            "The upload was interrupted: the client disconnected", detail={"field": "file"}
        ) from exc


UploadGuard = Annotated[service.PendingObjects, Depends(_upload_guard, scope="function")]

_UPLOAD_BODY = multipart_body(
    {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "JPEG, PNG, MP4 or MOV (type read from the content)",
        },
        "tags": {
            "type": "string",
            "description": "Comma-separated tags, a JSON array, or repeated",
        },
    },
    required=["file"],
)

_ASSET_NOT_FOUND: ErrorCase = (
    "No such asset for this user (another user's id included)",
    NotFound("Media asset not found"),
)
_BAD_TAGS: ErrorCase = (
    "Too many tags, or a tag too long",
    Invalid("At most 30 tags per asset (got 31)", field="tags"),
)
_UPLOAD_ERRORS = errors(
    ACCOUNT_NOT_FOUND,
    (
        "The upload was cut off or the multipart body is malformed",
        BadRequest(
            "The upload was cut off before the end of the multipart body; send it again",
            detail={"field": "file"},
        ),
    ),
    (
        "Over MAX_FILE_SIZE (images) / MAX_VIDEO_FILE_SIZE (videos)",
        PayloadTooLarge(
            "The image is larger than 10 MB (MAX_FILE_SIZE); upload a smaller file",
            detail={"field": "file", "limit": 10 * 1024 * 1024},
        ),
    ),
    (
        "Not JPEG, PNG, MP4 or MOV (read from the content)",
        UnsupportedMediaType(
            "The file is a PDF document, not an accepted format (JPEG, PNG, MP4 or MOV); the "
            "type is read from the file's content, not its name",
            detail={"field": "file", "detected": "a PDF document"},
        ),
    ),
    (
        "Corrupt or truncated file",
        Invalid(
            "The file starts like a JPEG image but cannot be read as one (corrupt or "
            "truncated); export it again",
            field="file",
        ),
    ),
    _BAD_TAGS,
)


@router.post(
    "/media/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaAsset,
    openapi_extra=_UPLOAD_BODY,
    responses=_UPLOAD_ERRORS,
)
async def upload_media(
    request: Request,
    pending: UploadGuard,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    account_id: Annotated[
        uuid.UUID | None,
        Query(alias="accountId", description="Instagram account the media is for (optional)"),
    ] = None,
) -> MediaAsset:
    """Upload an image or video (multipart field `file`, optional `tags`).

    The body is streamed to disk; the type is read from the file's content (JPEG, PNG, MP4,
    MOV). Images over `MAX_FILE_SIZE` (10 MB) and videos over `MAX_VIDEO_FILE_SIZE` (100 MB)
    are refused with 413 as soon as the limit is crossed. Images are decoded to verify them;
    PNG, CMYK or EXIF-rotated JPEGs get an Instagram-ready sRGB JPEG beside the original, and a
    preview is stored. Videos are probed (duration, size, rotation, fps, codecs, sample rate,
    faststart) and get a thumbnail. The response holds presigned URLs and an Instagram
    compatibility report per placement (feed, carousel, reel, story).
    """
    content_length = request.headers.get("content-length")
    asset = await service.upload(
        session,
        state.storage,
        state.settings,
        workspace_id=access.workspace_id,
        account_id=account_id,
        stream=_body(request),
        content_type=request.headers.get("content-type"),
        content_length=int(content_length) if content_length and content_length.isdigit() else None,
        pending=pending,
    )
    return await service.present(state.storage, state.settings, asset)


@router.get("/media/usage", response_model=MediaUsage)
async def media_usage(access: CurrentAccess, session: SessionDep) -> MediaUsage:
    """Storage used by the user's library: asset count and bytes (originals plus derived)."""
    return await service.usage(session, workspace_id=access.workspace_id)


@router.get(
    "/media",
    response_model=MediaPage,
    responses=errors(
        ACCOUNT_NOT_FOUND,
        (
            "The tag is longer than 50 characters",
            Invalid("Tag 'winterstylewinterst…' is longer than 50 characters", field="tag"),
        ),
    ),
)
async def list_media(
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    media_type: Annotated[MediaType | None, Query(alias="mediaType")] = None,
    account_id: Annotated[uuid.UUID | None, Query(alias="accountId")] = None,
    tag: Annotated[str | None, Query(max_length=60)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MediaPage:
    """All the user's media, newest first, filtered by `mediaType`, `accountId` and `tag`."""
    return await service.list_assets(
        session,
        state.storage,
        state.settings,
        workspace_id=access.workspace_id,
        media_type=media_type,
        account_id=account_id,
        tag=tag,
        page=page,
        limit=limit,
    )


@router.get(
    "/media/assets/{asset_id}", response_model=MediaAsset, responses=errors(_ASSET_NOT_FOUND)
)
async def get_media(
    asset_id: uuid.UUID, access: CurrentAccess, session: SessionDep, state: StateDep
) -> MediaAsset:
    """One asset with fresh presigned URLs."""
    return await service.get_asset(
        session, state.storage, state.settings, workspace_id=access.workspace_id, asset_id=asset_id
    )


@router.patch(
    "/media/assets/{asset_id}",
    response_model=MediaAsset,
    responses=errors(_ASSET_NOT_FOUND, _BAD_TAGS),
)
async def update_media(
    asset_id: uuid.UUID,
    body: MediaUpdate,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> MediaAsset:
    """Replace the asset's tags."""
    return await service.update_tags(
        session,
        state.storage,
        state.settings,
        workspace_id=access.workspace_id,
        asset_id=asset_id,
        tags=body.tags,
    )


@router.post(
    "/media/assets/{asset_id}/convert",
    response_model=MediaAsset,
    responses=errors(
        _ASSET_NOT_FOUND,
        (
            "An image, or the conversion failed or ran out of time (MEDIA_CONVERT_*)",
            Invalid(
                "The video could not be converted: the conversion took longer than 600 s "
                "(MEDIA_CONVERT_WALL_SECONDS). Export it as MP4 with H.264 and AAC, 30 fps, and "
                "upload it again",
                field="assetId",
            ),
        ),
        (
            "The video already fits Instagram's format rules",
            Conflict(
                "The video already fits Instagram's format rules; there is nothing to convert",
                detail={"field": "assetId"},
            ),
        ),
    ),
)
async def convert_media(
    asset_id: uuid.UUID,
    pending: UploadGuard,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> MediaAsset:
    """Convert a video that breaks Instagram's format rules (see `conversionOffered`).

    `remux` copies the streams into a file with the moov atom first; `transcode` re-encodes to
    H.264 (yuv420p, progressive, closed GOPs, 23-60 fps, at most 1920 px wide, at most 8 Mbps)
    and AAC (128 kbps, at most 48 kHz, mono or stereo). The result becomes the asset's publish
    file (the original is kept); the answer holds the new compatibility report. Runs in a child
    process bounded by `MEDIA_CONVERT_CPU_SECONDS` and `MEDIA_CONVERT_WALL_SECONDS`.
    """
    return await service.convert_asset(
        session,
        state.storage,
        state.settings,
        workspace_id=access.workspace_id,
        asset_id=asset_id,
        pending=pending,
    )


@router.delete(
    "/media/assets/{asset_id}",
    response_model=Message,
    responses={
        **example_200({"message": "Media asset deleted"}),
        **errors(
            _ASSET_NOT_FOUND,
            (
                "A scheduled or publishing post uses the asset",
                Conflict(
                    "The asset is used by 1 scheduled or publishing post(s); cancel or change "
                    "those posts first",
                    detail={"field": "assetId", "postIds": [ex.POST_ID]},
                ),
            ),
        ),
    },
)
async def delete_media(
    asset_id: uuid.UUID, access: CurrentAccess, session: SessionDep, state: StateDep
) -> Message:
    """Delete the asset and its S3 objects; 409 while a scheduled or publishing post uses it."""
    await service.delete_asset(
        session, state.storage, workspace_id=access.workspace_id, asset_id=asset_id
    )
    return Message(message="Media asset deleted")


@router.get(
    "/media/{account_id}", response_model=list[MediaAsset], responses=errors(ACCOUNT_NOT_FOUND)
)
async def list_account_media(
    account_id: uuid.UUID,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[MediaAsset]:
    """The account's media, newest first (the spec's list; up to 100 per page)."""
    result = await service.list_assets(
        session,
        state.storage,
        state.settings,
        workspace_id=access.workspace_id,
        media_type=None,
        account_id=account_id,
        tag=None,
        page=page,
        limit=limit,
    )
    return result.items
