"""Bulk CSV import of scheduled posts: a dry-run report per row, then a commit of the valid rows
in one transaction (docs/csv-import.md has the columns).

Every row goes through the checks of POST /posts (`service.prepare_post`: time window, template,
media, caption and Meta's rules) and is inserted by the same single statement as a create
(`repository.insert_posts`: the assets' locks, the publishing quota counting the rows inserted
before it, the `created` event), the statements pipelined in file order. A dry run does
exactly that inside the transaction and then rolls it back, so its report is what a commit
would do, quota included.

Media given by URL is fetched with the upload's checks (media.fetch: SSRF protection, size and
time limits) and stored as an upload is. Its objects are registered in `pending` (the endpoint's
guard deletes them if the request fails); a dry run, a refused import and the rows that are not
saved delete theirs, so no file is left in S3 without its row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts_repository
from instasched.config import Settings
from instasched.db import after_commit, driver_connection, release_connections
from instasched.exceptions import InstaschedError, Invalid
from instasched.integrations.storage import Storage
from instasched.kit.time import utcnow
from instasched.media import fetch
from instasched.media.receive import ReceivedFile
from instasched.media.service import PendingObjects, store_fetched
from instasched.models import InstagramAccount, MediaAsset, PostStatus, PostTemplate
from instasched.posts import approvals, imports_repository, media_refs, quota, repository, service
from instasched.posts.schemas import MediaTypeName, PostCreate
from instasched.posts.workflow_schemas import ImportProblem, ImportReport, ImportRow
from instasched.worker.queue import PublishQueue

if TYPE_CHECKING:
    from instasched.workspaces.access import Access

Mode = Literal["valid", "all"]

COLUMNS = (
    "account",
    "time",
    "caption",
    "template",
    "variables",
    "media",
    "media_type",
    "first_comment",
    "alt_text",
    "tags",
    "collaborators",
    "location_id",
)
REQUIRED = ("account", "time", "media")
MEDIA_TYPES = get_args(MediaTypeName)
VAR_PREFIX = "var."
FETCH_CONCURRENCY = 4
_SPLIT = re.compile(r"[\s|]+")
_LIST_SPLIT = re.compile(r"[\s|,;]+")
_TAG = re.compile(r"^@?([A-Za-z0-9._]{1,30})(?::([0-9.]+):([0-9.]+))?$")

# The create's JSON fields, as the CSV names them (a problem is reported on its column).
_COLUMN_OF = {
    "instagramAccountId": "account",
    "scheduledFor": "time",
    "useNextSlot": "time",
    "caption": "caption",
    "templateId": "template",
    "templateVariables": "variables",
    "mediaIds": "media",
    "mediaUrls": "media",
    "mediaType": "media_type",
    "firstComment": "first_comment",
    "altText": "alt_text",
    "userTags": "tags",
    "collaborators": "collaborators",
    "locationId": "location_id",
}


@dataclass
class _Row:
    number: int
    body: dict[str, Any] = field(default_factory=dict)
    media: list[tuple[str, str]] = field(default_factory=list)  # ("id" | "url", value)
    problems: list[tuple[str, str]] = field(default_factory=list)
    account: InstagramAccount | None = None
    post_id: uuid.UUID | None = None
    scheduled_for: datetime | None = None

    def problem(self, column: str, message: str) -> None:
        self.problems.append((column, message))


def column_of(api_field: str | None) -> str:
    if not api_field:
        return "row"
    base = re.split(r"[\[.]", api_field, maxsplit=1)[0]
    return _COLUMN_OF.get(base, "row")


# --- the file -------------------------------------------------------------------------------
def read_csv(data: bytes, *, max_rows: int) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The normalised header and the non-empty rows (numbered as a spreadsheet: header = 1)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("The file is not UTF-8 text; save the CSV as UTF-8", field="file") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        raw_header = next(reader)
    except StopIteration:
        raise Invalid(
            "The file is empty; the first line must name the columns", field="file"
        ) from None
    header = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in raw_header]
    header = [h if not h.startswith(VAR_PREFIX) else VAR_PREFIX + h[4:] for h in header]
    unknown = [h for h in header if h and h not in COLUMNS and not h.startswith(VAR_PREFIX)]
    if unknown:
        raise Invalid(
            f"Unknown column(s): {', '.join(unknown)}. Columns: {', '.join(COLUMNS)}, and "
            f"{VAR_PREFIX}NAME for a template variable",
            field="file",
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise Invalid(f"Missing column(s): {', '.join(missing)}", field="file")
    if len(set(header)) != len(header):
        raise Invalid("A column is named twice in the header", field="file")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            extra = {"__extra__": "x"} if len(values) > len(header) else {}
            cells = {h: v.strip() for h, v in zip(header, values, strict=False) if h}
            rows.append((number, {**cells, **extra}))
            if len(rows) > max_rows:
                raise Invalid(
                    f"The file has more than {max_rows} rows (IMPORT_MAX_ROWS); split it",
                    field="file",
                )
    except csv.Error as exc:
        raise Invalid(f"The CSV cannot be read: {exc}", field="file") from exc
    if not rows:
        raise Invalid("The file has a header but no rows", field="file")
    return header, rows


def _parse_row(
    number: int,
    cells: dict[str, str],
    *,
    accounts: dict[str, InstagramAccount],
    templates: dict[str, PostTemplate | None],
) -> _Row:
    row = _Row(number)
    body = row.body
    if "__extra__" in cells:
        row.problem("row", "The row has more cells than the header has columns")
    name = cells.get("account", "")
    account = accounts.get(name.lower().lstrip("@")) if name else None
    if not name:
        row.problem("account", "account is empty: give the username or id of your account")
    elif account is None:
        row.problem("account", f"No account {name!r} among your Instagram accounts")
    else:
        row.account = account
        body["instagramAccountId"] = str(account.id)
    if not cells.get("time"):
        row.problem("time", "time is empty: give an ISO 8601 date-time")
    else:
        body["scheduledFor"] = cells["time"]
    if cells.get("caption"):
        body["caption"] = cells["caption"]
    for column, key in (
        ("first_comment", "firstComment"),
        ("alt_text", "altText"),
        ("location_id", "locationId"),
    ):
        if cells.get(column):
            body[key] = cells[column]
    if cells.get("media_type"):
        body["mediaType"] = cells["media_type"].upper()
        if body["mediaType"] not in MEDIA_TYPES:
            row.problem("media_type", f"media_type must be one of {', '.join(MEDIA_TYPES)}")
    template = cells.get("template", "")
    if template:
        found = templates.get(template.lower())
        if found is None:
            row.problem("template", f"No template {template!r} among your templates")
        else:
            body["templateId"] = str(found.id)
    variables = _variables(row, cells)
    if variables:
        body["templateVariables"] = variables
    for entry in _media_entries(cells.get("media", "")):
        if entry.lower().startswith(("http://", "https://")):
            row.media.append(("url", entry))
            continue
        try:
            row.media.append(("id", str(uuid.UUID(entry))))
        except ValueError:
            row.problem("media", f"{entry!r} is neither a media asset id nor an http(s) URL")
    if not row.media and not any(c == "media" for c, _ in row.problems):
        row.problem("media", "media is empty: give media asset ids or URLs")
    tags = []
    for entry in _SPLIT.split(cells.get("tags", "")):
        if not entry:
            continue
        match = _TAG.match(entry)
        if match is None:
            row.problem("tags", f"{entry!r} is not a tag: username or username:x:y (0..1)")
            continue
        tag: dict[str, Any] = {"username": match.group(1)}
        if match.group(2) is not None:
            tag.update(x=float(match.group(2)), y=float(match.group(3)))
        tags.append(tag)
    if tags:
        body["userTags"] = tags
    collaborators = [c.lstrip("@") for c in _LIST_SPLIT.split(cells.get("collaborators", "")) if c]
    if collaborators:
        body["collaborators"] = collaborators
    return row


def _media_entries(cell: str) -> list[str]:
    return [e for e in (e.strip().rstrip(",") for e in _SPLIT.split(cell)) if e]


def _own_storage(url: str, settings: Settings) -> bool:
    """A URL into this server's bucket: one of the user's uploads (or refused), never fetched."""
    return any(bucket == settings.s3_bucket for bucket, _ in media_refs.url_locations(url))


def _variables(row: _Row, cells: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    raw = cells.get("variables", "")
    if raw:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            row.problem("variables", 'variables must be a JSON object, e.g. {"name": "value"}')
        else:
            for key, value in parsed.items():
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    row.problem("variables", f"variable {key!r} must be a string or a number")
                else:
                    values[str(key)] = value
    for column, value in cells.items():
        if column.startswith(VAR_PREFIX) and value:
            values[column[len(VAR_PREFIX) :]] = value
    return values


# --- the import -----------------------------------------------------------------------------
async def import_csv(
    session: AsyncSession,
    *,
    settings: Settings,
    storage: Storage,
    queue: PublishQueue,
    access: Access,
    data: bytes,
    dry_run: bool,
    mode: Mode,
    allow_over_quota: bool,
    pending: list[PendingObjects],
    now: datetime | None = None,
) -> ImportReport:
    """The saved rows become `scheduled`, or `needs_approval` for an editor's import in a
    workspace that requires approval (`approvals.placed_status`)."""
    _, raw_rows = read_csv(data, max_rows=settings.import_max_rows)
    now = now or utcnow()
    workspace_id, user_id = access.workspace_id, access.user_id
    # Downloads first, before anything is read: no database connection is held meanwhile.
    urls = [
        entry
        for _, cells in raw_rows
        for entry in _media_entries(cells.get("media", ""))
        if entry.lower().startswith(("http://", "https://"))
    ]
    to_fetch = [u for u in dict.fromkeys(urls) if not _own_storage(u, settings)]
    async with _work_dir() as work:  # the downloaded files, until they are stored
        downloads: dict[str, ReceivedFile | str] = {}
        if to_fetch:
            await release_connections(session)
            downloads = await _download_all(settings=settings, urls=to_fetch, work=work)

        accounts: dict[str, InstagramAccount] = {}
        for account in await accounts_repository.list_owned(session, workspace_id=workspace_id):
            accounts[str(account.id)] = account
            accounts[account.username.lower()] = account
        template_rows = await imports_repository.templates_of_user(
            session, workspace_id=workspace_id
        )
        templates: dict[str, PostTemplate | None] = {}
        for template in template_rows:
            templates[str(template.id)] = template
            templates.setdefault(template.name.lower(), template)
        rows = [
            _parse_row(n, cells, accounts=accounts, templates=templates) for n, cells in raw_rows
        ]
        known = await _media(
            session, settings=settings, storage=storage, workspace_id=workspace_id, rows=rows,
            downloads=downloads, pending=pending,
        )  # fmt: skip
    status = await approvals.placed_status(session, access)

    # One transaction from here: every row's checks and INSERT.
    await driver_connection(session, write=True)
    template_cache: dict[uuid.UUID, PostTemplate | None] = {t.id: t for t in template_rows}
    planned: list[tuple[_Row, service.Prepared]] = []
    for row in rows:
        if row.problems or row.account is None:
            continue
        prepared = await _check_row(
            session,
            settings=settings,
            workspace_id=workspace_id,
            row=row,
            known=known,
            templates=template_cache,
            now=now,
        )
        if prepared is not None:
            planned.append((row, prepared))
    await _insert_rows(
        session, planned, allow_over_quota=allow_over_quota, user_id=user_id, status=status,
        now=now,
    )  # fmt: skip
    saved: list[tuple[uuid.UUID, datetime]] = []
    used_assets: set[uuid.UUID] = set()
    for row, _ in planned:
        if row.post_id is not None and row.scheduled_for is not None:
            saved.append((row.post_id, row.scheduled_for))
            used_assets.update(uuid.UUID(i) for i in row.body["mediaIds"])
    invalid = sum(1 for r in rows if r.problems)
    commit = not dry_run and not (mode == "all" and invalid) and bool(saved)
    if not commit:
        await session.rollback()
        for objects in pending:
            await objects.discard(storage)
        for row in rows:
            row.post_id = None
    else:
        unused = [p for p in pending if p.asset_id is not None and p.asset_id not in used_assets]
        await imports_repository.delete_assets(
            session, asset_ids=[p.asset_id for p in unused if p.asset_id is not None]
        )
        for objects in unused:
            after_commit(session, partial(objects.discard, storage))
        if status == PostStatus.SCHEDULED:  # posts awaiting approval get no job
            after_commit(
                session,
                partial(queue.schedule_many, saved),
                timeout=service.ENQUEUE_TIMEOUT_SECONDS * 4,
            )
    return ImportReport(
        dry_run=dry_run,
        mode=mode,
        committed=commit,
        total=len(rows),
        valid=len(rows) - invalid,
        invalid=invalid,
        created=len(saved) if commit else 0,
        rows=[
            ImportRow(
                row=r.number,
                valid=not r.problems,
                problems=[ImportProblem(column=c, message=m) for c, m in r.problems],
                post_id=r.post_id,
                scheduled_for=r.scheduled_for,
                status=status if r.post_id is not None else None,
            )
            for r in rows
        ],
    )


async def _check_row(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    row: _Row,
    known: dict[uuid.UUID, MediaAsset],
    templates: dict[uuid.UUID, PostTemplate | None],
    now: datetime,
) -> service.Prepared | None:
    """The row through the create's checks: the post to insert, or None (its problems noted)."""
    assert row.account is not None
    body = row.body
    if "mediaType" not in body:
        kinds = [known[uuid.UUID(i)].media_type for i in body["mediaIds"] if uuid.UUID(i) in known]
        if len(kinds) != len(body["mediaIds"]):
            body["mediaType"] = "IMAGE"  # the media check names the unknown item
        elif len(kinds) > 1:
            body["mediaType"] = "CAROUSEL"
        else:
            body["mediaType"] = "REELS" if kinds[0] == "video" else "IMAGE"
    try:
        create = PostCreate.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            row.problem(column_of(loc[0] if loc else None), f"{'.'.join(loc)}: {error['msg']}")
        return None
    try:
        return await service.prepare_post(
            session,
            settings=settings,
            workspace_id=workspace_id,
            account=row.account,
            body=create,
            known_assets=known,
            now=now,
            templates=templates,
        )
    except InstaschedError as exc:
        row.problem(_column_of_error(exc), exc.message)
        return None


async def _insert_rows(
    session: AsyncSession,
    planned: Sequence[tuple[_Row, service.Prepared]],
    *,
    allow_over_quota: bool,
    user_id: uuid.UUID,
    status: str,
    now: datetime,
) -> None:
    """Insert the checked rows in file order (each counted by the quota of the ones after it),
    pipelined (`repository.insert_posts`); a row not inserted gets its reason."""
    inserts = []
    for row, prepared in planned:
        post = prepared.post
        post.id = uuid.uuid4()
        post.status = status
        if status == PostStatus.NEEDS_APPROVAL:
            approvals.mark_submitted(post, user_id=user_id, at=now)
        inserts.append(
            repository.PlannedInsert(
                post=post,
                asset_ids=[a.id for a, _ in prepared.media],
                quota=None if allow_over_quota else prepared.quota,
                actor_user_id=user_id,
                event={
                    "source": "import",
                    "row": row.number,
                    "scheduledFor": post.scheduled_for.isoformat(),
                    "status": status,
                },
            )
        )
    inserted = await repository.insert_posts(session, inserts)
    refused = [(row, prepared) for row, prepared in planned if prepared.post.id not in inserted]
    gone = await repository.lock_assets(
        session, asset_ids=[a.id for _, p in refused for a, _ in p.media]
    )
    for row, prepared in planned:
        post = prepared.post
        if post.id in inserted:
            row.post_id = post.id
            row.scheduled_for = post.scheduled_for
        elif any(a.id in gone for a, _ in prepared.media):
            row.problem("media", "a media item was deleted from your library during the import")
        else:
            found = await quota.windows(
                session,
                account_id=post.instagram_account_id,
                quota=prepared.quota,
                times=[post.scheduled_for],
            )
            window = found[post.scheduled_for]
            row.problem(
                "time",
                window.message().replace(
                    "send allowOverQuota: true", "import with allowOverQuota=true"
                ),
            )


def _column_of_error(exc: InstaschedError) -> str:
    detail = exc.detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return column_of(detail[0].get("field"))
    return "row"


async def _media(
    session: AsyncSession,
    *,
    settings: Settings,
    storage: Storage,
    workspace_id: uuid.UUID,
    rows: Sequence[_Row],
    downloads: dict[str, ReceivedFile | str],
    pending: list[PendingObjects],
) -> dict[uuid.UUID, MediaAsset]:
    """Every row's media as asset ids (body `mediaIds`): ids as given, URLs of the user's own
    uploads as their asset, downloaded files stored as uploads (only for rows that can still be
    saved). Returns the user's assets named."""
    ids = {uuid.UUID(v) for r in rows for kind, v in r.media if kind == "id"}
    known = (
        dict(await repository.assets_by_ids(session, workspace_id=workspace_id, ids=ids))
        if ids
        else {}
    )
    own_urls = list(
        dict.fromkeys(
            v for r in rows for kind, v in r.media if kind == "url" and v not in downloads
        )
    )
    by_url: dict[str, MediaAsset | str] = {}
    if own_urls:
        locations = {u: media_refs.url_locations(u) for u in own_urls}
        own = await repository.assets_by_locations(
            session,
            workspace_id=workspace_id,
            locations=[loc for locs in locations.values() for loc in locs],
        )
        for url, locs in locations.items():
            asset = media_refs.asset_at(own, locs)
            by_url[url] = asset or "it is in this server's storage but not one of your uploads"
    for row in rows:
        media_ids: list[str] = []
        for kind, value in row.media:
            if kind == "id":
                if uuid.UUID(value) not in known:
                    row.problem(
                        "media", f"{value} is not one of your media assets; upload it first"
                    )
                media_ids.append(value)
                continue
            if value not in by_url and not row.problems:
                by_url[value] = await _store(
                    session, settings=settings, storage=storage, workspace_id=workspace_id,
                    received=downloads[value], pending=pending,
                )  # fmt: skip
            found = by_url.get(value)
            if isinstance(found, MediaAsset):
                known[found.id] = found
                media_ids.append(str(found.id))
            elif isinstance(found, str):
                row.problem("media", f"{value} could not be used: {found}")
        row.body["mediaIds"] = media_ids
    return known


async def _store(
    session: AsyncSession,
    *,
    settings: Settings,
    storage: Storage,
    workspace_id: uuid.UUID,
    received: ReceivedFile | str,
    pending: list[PendingObjects],
) -> MediaAsset | str:
    if isinstance(received, str):
        return received
    objects = PendingObjects()
    pending.append(objects)
    try:
        return await store_fetched(
            session, storage, settings, workspace_id=workspace_id, received=received,
            work_dir=received.path.parent, pending=objects,
        )  # fmt: skip
    except InstaschedError as exc:
        return exc.message


async def _download_all(
    *, settings: Settings, urls: Sequence[str], work: Path
) -> dict[str, ReceivedFile | str]:
    """The URLs' files in `work`, a few at a time; a URL that fails maps to the reason."""
    limit = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(url: str, index: int) -> ReceivedFile | str:
        directory = work / str(index)
        await asyncio.to_thread(directory.mkdir)
        async with limit:
            try:
                return await fetch.fetch(url, settings=settings, tmp_dir=directory)
            except fetch.FetchError as exc:
                return str(exc)

    received = await asyncio.gather(*(one(u, i) for i, u in enumerate(urls)))
    return dict(zip(urls, received, strict=True))


@asynccontextmanager
async def _work_dir() -> AsyncIterator[Path]:
    """A temporary directory, deleted with its files on the way out."""
    work = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="instasched-import-"))
    try:
        yield work
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
