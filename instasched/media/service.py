"""Media library rules: uploads (validate, derive, store, record), listing, tags, deletion.

Orphan-free uploads: every S3 key is registered in a `PendingObjects` before its PUT starts. A
failure inside `upload` deletes them at once; a failure after it (the commit) is handled by the
endpoint's guard, which deletes them unless the row turns out to exist.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.db import add_row, after_commit, release_connections
from instasched.exceptions import Conflict, Invalid
from instasched.integrations.instagram import publish_rules as meta_rules
from instasched.integrations.instagram.publish_rules import seconds_shown
from instasched.integrations.storage import Storage
from instasched.kit.surrogates import has_lone_surrogate
from instasched.kit.text import counted
from instasched.kit.time import utcnow
from instasched.media import compat, convert, repository
from instasched.media.probe import Processed, process_image, process_video, run_cpu
from instasched.media.receive import ReceivedFile, receive_upload
from instasched.media.schemas import MediaAsset as MediaAssetOut
from instasched.media.schemas import MediaPage, MediaUsage, UsageByType
from instasched.media.sniff import MOV, MP4
from instasched.models import MediaAsset

log = logging.getLogger(__name__)

MAX_TAGS = 30
MAX_TAG_LENGTH = 50
_TAG_SPLIT = re.compile(r"[,\n]")


class PendingObjects:
    """S3 keys written for a unit of work that has not committed yet."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.asset_id: uuid.UUID | None = None

    def add(self, key: str) -> None:
        self.keys.append(key)

    async def discard(self, storage: Storage) -> None:
        keys, self.keys = self.keys, []
        if keys:
            # Shielded: a cancelled request must not cancel its own clean-up.
            await asyncio.shield(storage.delete(*keys))

    async def discard_unless_committed(
        self, storage: Storage, session_factory: async_sessionmaker[AsyncSession]
    ) -> None:
        """After a failed commit: delete the objects unless the row exists after all.

        A commit can fail after the server committed (connection lost during COMMIT); deleting
        then would leave a row without its file, so the row is looked up first.
        """
        if not self.keys:
            return
        if self.asset_id is not None:
            try:
                async with session_factory() as check:
                    if await repository.exists(check, asset_id=self.asset_id):
                        self.keys = []
                        return
            except Exception:
                log.error(
                    "upload commit failed and the database cannot be checked; objects kept, "
                    "possibly orphaned: %s",
                    self.keys,
                )
                return
        await self.discard(storage)


# --- tags ----------------------------------------------------------------------------------------


def normalise_tags(raw: list[str], *, field: str = "tags") -> list[str]:
    """Lower-cased, '#' removed, trimmed, de-duplicated in order; 422 naming the field."""
    tags: list[str] = []
    for value in raw:
        tag = value.strip().lstrip("#").strip().lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(
                f"Tag '{tag[:20]}…' is longer than {MAX_TAG_LENGTH} characters", field=field
            )
        if any(ord(c) < 32 for c in tag) or has_lone_surrogate(tag):
            raise Invalid(
                "Tags cannot contain control characters or lone UTF-16 surrogates", field=field
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise Invalid(f"At most {MAX_TAGS} tags per asset (got {len(tags)})", field=field)
    return tags


def tags_from_form(values: list[str]) -> list[str]:
    """Form `tags`: repeated fields, comma-separated, or a JSON array."""
    import json

    raw: list[str] = []
    for value in values:
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise Invalid("tags is not a valid JSON array of strings", field="tags") from exc
            if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
                raise Invalid("tags must be a JSON array of strings", field="tags")
            raw.extend(parsed)
        else:
            raw.extend(_TAG_SPLIT.split(text))
    return normalise_tags(raw)


# --- upload --------------------------------------------------------------------------------------


async def require_account(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """404 unless the Instagram account belongs to the user."""
    await accounts_repository.get_owned(session, workspace_id=workspace_id, account_id=account_id)


def object_key(workspace_id: uuid.UUID, asset_id: uuid.UUID, suffix: str) -> str:
    now = utcnow()
    return f"{workspace_id}/{now:%Y}/{now:%m}/{asset_id}.{suffix}"


async def upload(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID | None,
    stream: AsyncIterator[bytes],
    content_type: str | None,
    content_length: int | None,
    pending: PendingObjects,
) -> MediaAsset:
    """Receive, verify, derive, store in S3, then insert the row (not committed).

    Must start its unit of work (nothing pending in the session): while the body streams in and
    the file is decoded (seconds), no database connection is held, so a hundred concurrent uploads
    do not exhaust the pool. The account is checked before (fail fast) and again before the insert.
    """
    if account_id is not None:
        await require_account(session, workspace_id=workspace_id, account_id=account_id)
    await release_connections(session)
    work_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="instasched-media-"))
    try:
        form = await receive_upload(
            stream,
            content_type=content_type,
            content_length=content_length,
            tmp_dir=work_dir,
            image_limit=settings.max_file_size,
            video_limit=settings.max_video_file_size,
        )
        assert form.file is not None
        tags = tags_from_form(form.fields.get("tags", []))
        return await _store(
            session,
            storage,
            settings,
            workspace_id=workspace_id,
            account_id=account_id,
            received=form.file,
            tags=tags,
            work_dir=work_dir,
            pending=pending,
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)


async def store_fetched(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    received: ReceivedFile,
    work_dir: Path,
    pending: PendingObjects,
) -> MediaAsset:
    """A file fetched from a URL (media.fetch) checked, derived and stored as an upload is; the
    row is inserted, not committed (`pending` holds its objects until the commit)."""
    return await _store(
        session, storage, settings, workspace_id=workspace_id, account_id=None, received=received,
        tags=[], work_dir=work_dir, pending=pending,
    )  # fmt: skip


async def _store(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID | None,
    received: ReceivedFile,
    tags: list[str],
    work_dir: Path,
    pending: PendingObjects,
) -> MediaAsset:
    sniffed = received.sniffed
    out_dir = work_dir / "derived"
    await asyncio.to_thread(out_dir.mkdir)
    processed: Processed
    if sniffed.media_type == "image":
        processed = await run_cpu(
            lambda: process_image(
                received.path,
                sniffed,
                out_dir=out_dir,
                max_pixels=settings.max_image_pixels,
                preview_size=settings.preview_size,
            )
        )
    else:
        processed = await run_cpu(
            lambda: process_video(
                received.path, sniffed, out_dir=out_dir, preview_size=settings.preview_size
            )
        )

    asset_id = uuid.uuid4()
    pending.asset_id = asset_id
    original_key = object_key(workspace_id, asset_id, sniffed.ext)
    keys: dict[str, str] = {}
    uploads: list[tuple[str, Path, str]] = [(original_key, received.path, sniffed.mime_type)]
    for derived in processed.derived:
        key = original_key.rsplit("/", 1)[0] + f"/{asset_id}.{derived.suffix}"
        keys[derived.role] = key
        uploads.append((key, derived.path, derived.content_type))
    stored_bytes = 0
    try:
        for key, _, _ in uploads:
            pending.add(key)
        results = await asyncio.gather(
            *(storage.put_file(key, path, ctype) for key, path, ctype in uploads),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
            stored_bytes += result.size

        meta = processed.metadata
        facts = compat.facts_from(
            sniffed.media_type, processed.width, processed.height, meta, received.size
        )
        thumb_key = keys.get("thumbnail") or keys.get("preview")
        asset = MediaAsset(
            id=asset_id,
            workspace_id=workspace_id,
            instagram_account_id=account_id,
            filename=f"{asset_id}.{sniffed.ext}",
            original_filename=received.filename[:255],
            mime_type=sniffed.mime_type,
            file_size=received.size,
            media_type=sniffed.media_type,
            s3_bucket=storage.bucket,
            s3_key=original_key,
            s3_url=storage.object_url(original_key),
            width=processed.width,
            height=processed.height,
            duration=None
            if processed.duration_ms is None
            else seconds_shown(processed.duration_ms),
            thumbnail_url=storage.object_url(thumb_key) if thumb_key else None,
            used_in_posts_before=0,
            tags=tags,
            publish_key=keys.get("publish"),
            preview_key=keys.get("preview"),
            thumbnail_key=keys.get("thumbnail"),
            checksum_sha256=received.sha256,
            media_metadata={
                **meta,
                "client_content_type": received.client_content_type,
            },
            compatibility=compat.report(facts),
            stored_bytes=stored_bytes,
        )
        if account_id is not None:
            await require_account(session, workspace_id=workspace_id, account_id=account_id)
        await add_row(session, asset)
    except BaseException:
        await pending.discard(storage)
        raise
    return asset


# --- presentation --------------------------------------------------------------------------------


async def present(storage: Storage, settings: Settings, asset: MediaAsset) -> MediaAssetOut:
    """The API view of an asset with fresh presigned URLs."""
    ttl = settings.s3_presign_ttl_seconds
    publish_key = asset.publish_key or asset.s3_key
    preview_key = asset.preview_key or asset.thumbnail_key
    thumb_key = asset.thumbnail_key or asset.preview_key
    signed: dict[str, str] = {}
    for key in {asset.s3_key, publish_key, preview_key, thumb_key}:
        if key:
            signed[key] = await storage.presign_get(key, ttl)
    meta: dict[str, Any] = dict(asset.media_metadata or {})
    duration_ms: int | None = meta.get("duration_ms")
    return MediaAssetOut(
        id=asset.id,
        instagram_account_id=asset.instagram_account_id,
        filename=asset.filename,
        original_filename=asset.original_filename,
        mime_type=asset.mime_type,
        file_size=asset.file_size,
        media_type=asset.media_type,  # type: ignore[arg-type]
        s3_url=asset.s3_url,
        url=signed[asset.s3_key],
        publish_url=signed[publish_key],
        preview_url=signed.get(preview_key) if preview_key else None,
        thumbnail_url=signed.get(thumb_key) if thumb_key else None,
        urls_expire_at=utcnow() + timedelta(seconds=ttl),
        width=asset.width,
        height=asset.height,
        # From durationMs when known: older rows stored the seconds rounded up.
        duration=asset.duration if duration_ms is None else seconds_shown(duration_ms),
        duration_ms=duration_ms,
        metadata=meta,
        compatibility=asset.compatibility,  # type: ignore[arg-type]
        conversion_offered=compat.conversion_offered(
            compat.facts_from(asset.media_type, asset.width, asset.height, meta, asset.file_size)
        ),
        tags=list(asset.tags or []),
        used_in_posts=asset.used_in_posts or 0,
        last_used_at=asset.last_used_at,
        stored_bytes=asset.stored_bytes or 0,
        checksum_sha256=asset.checksum_sha256,
        created_at=asset.created_at,
    )


# --- library -------------------------------------------------------------------------------------


async def list_assets(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    media_type: str | None,
    account_id: uuid.UUID | None,
    tag: str | None,
    page: int,
    limit: int,
) -> MediaPage:
    if account_id is not None:
        await require_account(session, workspace_id=workspace_id, account_id=account_id)
    wanted_tag = normalise_tags([tag], field="tag")[0] if tag and tag.strip("# ") else None
    items, total = await repository.list_owned(
        session,
        workspace_id=workspace_id,
        media_type=media_type,
        account_id=account_id,
        tag=wanted_tag,
        offset=(page - 1) * limit,
        limit=limit,
    )
    return MediaPage(
        items=[await present(storage, settings, a) for a in items],
        total=total,
        page=page,
        limit=limit,
    )


async def get_asset(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    asset_id: uuid.UUID,
) -> MediaAssetOut:
    asset = await repository.get_owned(session, workspace_id=workspace_id, asset_id=asset_id)
    return await present(storage, settings, asset)


async def update_tags(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    asset_id: uuid.UUID,
    tags: list[str],
) -> MediaAssetOut:
    asset = await repository.get_owned(
        session, workspace_id=workspace_id, asset_id=asset_id, for_update=True
    )
    asset.tags = normalise_tags(tags)
    await session.flush()
    return await present(storage, settings, asset)


async def delete_asset(
    session: AsyncSession, storage: Storage, *, workspace_id: uuid.UUID, asset_id: uuid.UUID
) -> None:
    """Delete the row now and its S3 objects once the deletion has committed.

    The row is locked first, so a post being scheduled with it (which locks the row `FOR KEY
    SHARE`) either commits before (and is seen here) or waits for the deletion.
    """
    asset = await repository.get_owned(
        session, workspace_id=workspace_id, asset_id=asset_id, for_update=True
    )
    posts = await repository.active_posts_using(
        session, workspace_id=workspace_id, asset_id=asset_id
    )
    if posts:
        raise Conflict(
            f"The asset is used by {counted(len(posts), 'scheduled or publishing post')}; "
            "cancel or change those posts first",
            detail={"field": "assetId", "postIds": [str(p) for p in posts]},
        )
    keys = [asset.s3_key, asset.publish_key, asset.preview_key, asset.thumbnail_key]
    await repository.delete(session, asset)

    async def _delete_objects() -> None:
        await storage.delete(*keys)

    after_commit(session, _delete_objects)


async def usage(session: AsyncSession, *, workspace_id: uuid.UUID) -> MediaUsage:
    by_type = await repository.usage(session, workspace_id=workspace_id)
    image = by_type.get("image", (0, 0, 0))
    video = by_type.get("video", (0, 0, 0))
    return MediaUsage(
        count=image[0] + video[0],
        bytes=image[1] + video[1],
        original_bytes=image[2] + video[2],
        images=UsageByType(count=image[0], bytes=image[1]),
        videos=UsageByType(count=video[0], bytes=video[1]),
    )


# --- conversion ----------------------------------------------------------------------------------

_convert_slots: dict[int, asyncio.Semaphore] = {}


def _slots(settings: Settings) -> asyncio.Semaphore:
    # Per event loop (tests run several): conversions beyond the setting wait their turn.
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _convert_slots:
        _convert_slots[loop_id] = asyncio.Semaphore(settings.media_convert_concurrency)
    return _convert_slots[loop_id]


async def convert_asset(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    *,
    workspace_id: uuid.UUID,
    asset_id: uuid.UUID,
    pending: PendingObjects,
) -> MediaAssetOut:
    """Make a video fit Meta's format rules: remux or transcode the original (in a child
    process bounded by MEDIA_CONVERT_CPU_SECONDS / MEDIA_CONVERT_WALL_SECONDS), store the result
    as the asset's publish file (what Instagram fetches; the original is kept), and answer the
    asset with its fresh compatibility report. Posts using the asset publish the new file.

    No database connection is held while converting. 422 for an image or a failed conversion,
    409 when the video already fits.
    """
    asset = await repository.get_owned(session, workspace_id=workspace_id, asset_id=asset_id)
    if asset.media_type != "video":
        raise Invalid("Only videos are converted; this asset is an image", field="assetId")
    old_meta: dict[str, Any] = dict(asset.media_metadata or {})
    before = compat.facts_from(
        asset.media_type, asset.width, asset.height, old_meta, asset.file_size
    )
    plan = compat.conversion_offered(before)
    if plan is None:
        raise Conflict(
            "The video already fits Instagram's format rules; there is nothing to convert",
            detail={"field": "assetId"},
        )
    problems = [p.rule for p in meta_rules.video_problems(before.video_facts())]
    kind = "mov" if plan == "remux" and old_meta.get("container") == "mov" else "mp4"
    source_key = asset.s3_key
    await release_connections(session)
    work_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="instasched-convert-"))
    try:
        src = work_dir / f"source.{old_meta.get('container') or 'mp4'}"
        await storage.get_file(source_key, src)
        dst = work_dir / f"converted.{kind}"
        async with _slots(settings):
            try:
                await convert.run(
                    src,
                    dst,
                    plan=plan,
                    kind=str(old_meta.get("container") or "mp4"),
                    cpu_seconds=settings.media_convert_cpu_seconds,
                    wall_seconds=settings.media_convert_wall_seconds,
                )
            except convert.ConversionFailed as exc:
                raise Invalid(
                    f"The video could not be converted: {exc}. Export it as MP4 with H.264 and "
                    "AAC, 30 fps, and upload it again",
                    field="assetId",
                ) from exc
        sniffed = MP4 if kind == "mp4" else MOV
        out_dir = work_dir / "derived"
        await asyncio.to_thread(out_dir.mkdir)
        processed = await run_cpu(
            lambda: process_video(dst, sniffed, out_dir=out_dir, preview_size=settings.preview_size)
        )
        size = (await asyncio.to_thread(dst.stat)).st_size
        key = source_key.rsplit("/", 1)[0] + f"/{asset_id}.converted-{uuid.uuid4().hex[:8]}.{kind}"
        pending.add(key)
        stored = await storage.put_file(key, dst, sniffed.mime_type)
    finally:
        await asyncio.to_thread(shutil.rmtree, work_dir, True)

    asset = await repository.get_owned(
        session, workspace_id=workspace_id, asset_id=asset_id, for_update=True
    )
    old_publish = asset.publish_key if asset.publish_key != asset.s3_key else None
    old_size = 0
    if old_publish:
        head = await storage.head(old_publish)
        old_size = head.size if head else 0
    new_meta = {
        **processed.metadata,
        "publish_bytes": size,
        "client_content_type": old_meta.get("client_content_type"),
        "conversion_applied": {"plan": plan, "fixed": problems, "source": old_meta},
    }
    facts = compat.facts_from("video", processed.width, processed.height, new_meta, size)
    asset.publish_key = key
    asset.media_metadata = new_meta
    asset.compatibility = compat.report(facts)
    asset.width, asset.height = processed.width, processed.height
    asset.stored_bytes = max(0, (asset.stored_bytes or 0) - old_size) + stored.size
    await session.flush()

    async def _drop_old() -> None:
        await storage.delete(old_publish)

    if old_publish:
        after_commit(session, _drop_old)
    log.info("asset %s converted (%s: %s)", asset_id, plan, ", ".join(problems))
    return await present(storage, settings, asset)
