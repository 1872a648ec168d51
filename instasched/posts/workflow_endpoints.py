"""Retry in place, duplicate and the CSV import (issue 20 items 3 and 4). The history is served
by posts/endpoints.py (its GET must come before /posts/{accountId}/{postId})."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from instasched.auth.deps import BearerToken
from instasched.exceptions import BadRequest, Conflict, Invalid, PayloadTooLarge
from instasched.kit import examples as ex
from instasched.kit.deps import SessionDep, StateDep, get_state
from instasched.kit.openapi import errors, multipart_body
from instasched.media.receive import human_size
from instasched.media.service import PendingObjects
from instasched.posts import imports, lifecycle
from instasched.posts.endpoints import POST_NOT_FOUND, PostIdPath
from instasched.posts.schemas import Post
from instasched.posts.workflow_schemas import ImportReport, PostDuplicate, PostRetry
from instasched.workspaces.access import CurrentAccess, TokenAccess

router = APIRouter(prefix="/instagram/scheduling", tags=["Posts"])


@router.post(
    "/posts/{postId}/retry",
    response_model=Post,
    responses=errors(
        POST_NOT_FOUND,
        (
            "The post is not `failed`, or its account must be reconnected first",
            Conflict(
                "Only failed posts can be retried; this post is published (it is published; "
                "duplicate it to post it again)",
                detail={"status": "published", "postId": ex.POST_ID},
            ),
        ),
        (
            "The time is too soon, or a media item was deleted since",
            Invalid(
                "This post's media is no longer in your media library; send new mediaIds",
                field="mediaIds",
            ),
        ),
    ),
)
async def retry_post(
    post_id: PostIdPath,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    body: Annotated[
        PostRetry | None,
        Body(
            openapi_examples={
                "now": {"summary": "Try again in a few seconds", "value": {}},
                "later": {
                    "summary": "Reschedule",
                    "value": {"scheduledFor": "2026-12-21T09:30:00", "allowOverQuota": False},
                },
            }
        ),
    ] = None,
) -> Post:
    """Try a `failed` post again, in place: the same post id goes back to `scheduled` with a new
    attempt budget, due in a few seconds, or at `scheduledFor` (a reschedule, checked like an
    edit: time window and publishing quota). Fix the cause first (the post's history and
    `lastPublishError` say what it was); a post whose account needs reconnecting answers 409
    until it is reconnected. The earlier attempts stay in the history."""
    post, over_quota = await lifecycle.retry_post(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        post_id=post_id,
        body=body or PostRetry(),
    )
    return Post.of(post, over_quota)


@router.post(
    "/posts/{postId}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=Post,
    responses=errors(
        POST_NOT_FOUND,
        (
            "The copy breaks a rule of a new post (time, media deleted, quota...)",
            Invalid(
                "scheduledFor is required (an ISO 8601 date-time), or send useNextSlot: true",
                field="scheduledFor",
            ),
        ),
    ),
)
async def duplicate_post(
    post_id: PostIdPath,
    body: PostDuplicate,
    token: BearerToken,
    access: TokenAccess,
    session: SessionDep,
    state: StateDep,
) -> Post:
    """Copy any post (whatever its status) into a new **draft** (status `draft`), at
    `scheduledFor` or the next free slot if given (a draft needs no time), optionally on
    another of your accounts: caption (as rendered), media, tags, first comment, alt text and
    the other options. The copy is checked and saved as a new post (POST /posts with
    `draft: true`); its history starts with `created` naming the source. Submit it
    (POST .../posts/{postId}/submit) to schedule it or send it for approval."""
    post, over_quota = await lifecycle.duplicate_post(
        session,
        settings=state.settings,
        queue=state.queue,
        access=access,
        token_version=token.version,
        post_id=post_id,
        body=body,
    )
    return Post.of(post, over_quota)


# --- CSV import -----------------------------------------------------------------------------
IMPORT_MAX_BYTES = 10 * 1024 * 1024


async def _import_guard(request: Request) -> AsyncIterator[list[PendingObjects]]:
    # Before the session dependency, so torn down after it: on a failed import or commit, the
    # files fetched for it are deleted unless their row exists after all.
    pending: list[PendingObjects] = []
    try:
        yield pending
    except BaseException:
        state = get_state(request)
        for objects in pending:
            await objects.discard_unless_committed(state.storage, state.session_factory)
        raise


ImportGuard = Annotated[list[PendingObjects], Depends(_import_guard, scope="function")]

_IMPORT_BODY = multipart_body(
    {"file": {"type": "string", "format": "binary"}},
    required=["file"],
    also={"text/csv": {"schema": {"type": "string"}}},
)


async def _csv_bytes(request: Request) -> bytes:
    """The CSV: the multipart field `file`, or the body itself (text/csv); at most
    IMPORT_MAX_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > IMPORT_MAX_BYTES:
                raise PayloadTooLarge(
                    f"The CSV is larger than {human_size(IMPORT_MAX_BYTES)}; split it",
                    detail={"field": "file", "limit": IMPORT_MAX_BYTES},
                )
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise BadRequest("The upload was interrupted: the client disconnected") from exc
    body = b"".join(chunks)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return body

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=10).parse()
    except MultiPartException as exc:
        raise BadRequest(f"The multipart body cannot be read: {exc.message}") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("Send the CSV as the multipart field `file`", field="file")
    try:
        return await upload.read()
    finally:
        await upload.close()


@router.post(
    "/import",
    response_model=ImportReport,
    openapi_extra=_IMPORT_BODY,
    responses=errors(
        (
            "The file is not a CSV this import reads (encoding, header, too many rows)",
            Invalid("Missing column(s): time", field="file"),
        ),
        (
            "The CSV is over IMPORT_MAX_BYTES",
            PayloadTooLarge(
                "The CSV is larger than 10 MB; split it",
                detail={"field": "file", "limit": IMPORT_MAX_BYTES},
            ),
        ),
    ),
)
async def import_posts(
    request: Request,
    pending: ImportGuard,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
    dry_run: Annotated[
        bool,
        Query(alias="dryRun", description="Check every row and report; save nothing"),
    ] = True,
    mode: Annotated[
        Literal["valid", "all"],
        Query(
            description="valid: save the valid rows, report the others; all: save nothing "
            "unless every row is valid"
        ),
    ] = "valid",
    allow_over_quota: Annotated[
        bool,
        Query(alias="allowOverQuota", description="Save rows over the publishing quota too"),
    ] = False,
) -> ImportReport:
    """Schedule many posts from a CSV file (multipart field `file`, or a `text/csv` body; UTF-8,
    comma or semicolon separated, first line = column names). Columns: `account` (username or
    id of one of your accounts), `time` (ISO 8601; without an offset it is read in the account's
    timezone), `caption`, or `template` (name or id) with `variables` (a JSON object) and/or
    `var.NAME` columns, `media` (media asset ids or http(s) URLs, separated by spaces or `|`;
    URLs are downloaded with the checks of an upload), `media_type` (default: IMAGE, REELS for
    one video, CAROUSEL for several), `first_comment`, `alt_text`, `tags` (people:
    `username` or `username:x:y`), `collaborators`, `location_id`.

    `dryRun=true` (the default) checks every row exactly as a commit would (POST /posts's rules,
    the publishing quota counting the file's earlier rows) and saves nothing. `dryRun=false`
    saves the valid rows in one transaction (with `mode=all`: only if every row is valid) and
    returns each row's post id; their publish jobs are queued after the commit. Each invalid
    row lists its problems with the column."""
    data = await _csv_bytes(request)
    return await imports.import_csv(
        session,
        settings=state.settings,
        storage=state.storage,
        queue=state.queue,
        access=access,
        data=data,
        dry_run=dry_run,
        mode=mode,
        allow_over_quota=allow_over_quota,
        pending=pending,
    )
