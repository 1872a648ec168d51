"""Publishing one post, exactly once.

```
scheduled ──claim (conditional UPDATE, attempt + 1, lease)──> publishing
publishing ──containers stored (committed) ──> media_publish ──> published
           ──retryable error, attempts left──> scheduled (next_attempt_at = now + base × 2^(n-1))
           ──quota (9/2207042)──> scheduled (next_attempt_at = when the 24 h window frees, or
                                   a doubling wait while Meta's limit says there is room;
                                   the attempt is given back)
           ──permanent error / attempts used up / 190──> failed (a message a person can act on)
publishing, lease expired (worker died) ──take over (conditional UPDATE on the old lease)──>
           the same flow, which starts by reading the stored container
```
An image container (feed image, image story) is published without reading its status first:
Meta finishes it at once, and when it has not, `media_publish` answers 9007 without publishing, and
the container is waited for then. Video and carousel containers are waited for before publishing.
After the publication, one call reads the permalink, counts and reach (field expansion
`insights.metric(reach)`); 3 Graph calls for an image post.

The container id is committed before `media_publish`. Any later attempt or recovery reads the
container first: PUBLISHED → success (the media id is found among the account's recent media),
FINISHED → publish, IN_PROGRESS → wait, EXPIRED/ERROR → a new container. `media_publish` is never
repeated without that read, so an uncertain publish (a timeout after Meta acted) is never
repeated blind. Several workers: the claim, the take-over and every write are conditional on the
lease (a fencing token), and Meta refuses to publish one container twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import async_sessionmaker

from instasched.accounts.repository import fetch_account
from instasched.db import is_connection_error
from instasched.integrations.instagram import (
    GraphAuthError,
    GraphClient,
    GraphError,
    GraphMediaNotReady,
    GraphNewContainerNeeded,
    GraphPermanentError,
    GraphQuotaError,
    GraphRetryableError,
)
from instasched.integrations.instagram.call_log import recorded as graph_calls_recorded
from instasched.integrations.instagram.media import ContainerStatusCode
from instasched.kit.text import counted
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, MediaAsset, PostStatus, ScheduledPost, post_time
from instasched.publishing import insights, repository, sequence, timeline
from instasched.publishing.leases import LeaseKeeper
from instasched.publishing.sources import (
    PostProblem,
    build_plan,
    load_assets,
    resolve_cover,
    resolve_sources,
)
from instasched.publishing.staging import staged_and_usable
from instasched.state import AppState

log = logging.getLogger("instasched.publishing")

QUOTA_FALLBACK = timedelta(hours=1)
QUOTA_RECHECK_MIN_SECONDS = 0.1
QUOTA_WINDOW = timedelta(hours=24)
RECENT_MEDIA_SLACK = timedelta(minutes=2)
REAUTH_MESSAGE = (
    "The Instagram connection of @{username} has expired or was revoked. Reconnect the account "
    "(Instagram accounts → reconnect), then reschedule this post."
)

QuotaWaitReason = Literal["window_full", "limit_has_room"]
OutcomeKind = Literal[
    "published", "retry", "rescheduled", "failed", "skipped", "not_due", "other_account"
]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    due_at: datetime | None = None
    detail: str | None = None


class InternalError(GraphRetryableError):
    """Our side failed (storage, database, a bug): retried like a transient Graph error."""

    @property
    def code_label(self) -> str:
        return "internal"


class ContainerFailed(GraphNewContainerNeeded):
    """A container ended ERROR/EXPIRED while we waited for it: make a new one next attempt."""

    @property
    def code_label(self) -> str:
        return "container_error"


class LeaseLost(Exception):
    """Another worker took the post over; stop without writing."""


@dataclass
class Attempt:
    post: ScheduledPost
    lease: datetime
    recovering: bool = False
    lost: bool = False
    # Writes and lease renewals take turns: a renewal changes the fencing value.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    account: InstagramAccount | None = None
    assets: dict[uuid.UUID, MediaAsset] | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    # The Graph client of the account's login kind (its host), set once the account is read.
    graph: GraphClient | None = None
    # Staging ahead of the due time (publishing.staging): the fence is the staging lease of a
    # `scheduled` post, not the lease of a `publishing` one.
    staging: bool = False
    # When media_publish answered (the publication's time), before its details are read.
    published_at: datetime | None = None

    @property
    def post_id(self) -> uuid.UUID:
        return self.post.id


class Publisher:
    def __init__(self, app: AppState) -> None:
        self.app = app
        self.settings = app.settings
        self.graph = app.graph
        self.events = app.events
        # Sessions whose every statement is its own transaction (PostgreSQL's implicit one): an
        # attempt's writes are single conditional UPDATEs, atomic alone, so BEGIN and COMMIT
        # would be two extra round trips each (measured: ~20 % of the worker's and of
        # PostgreSQL's CPU per publication). Writes that must go together use
        # `app.session_factory`.
        autocommit = app.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.sessions = async_sessionmaker(autocommit, expire_on_commit=False, autoflush=False)
        # Every attempt's lease renewed by one statement a second (publishing/leases.py).
        self.leases = LeaseKeeper(self.connect, length=self.lease_length)
        # The staging leases of posts whose containers are made ahead (publishing/stager.py).
        self.staging_leases = LeaseKeeper(self.connect, length=self.lease_length, staging=True)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        """An asyncpg connection (autocommit) for the statements of every publication
        (publishing/repository.py): no ORM session, no SQLAlchemy statement execution or pool."""
        pool = await self.app.driver_pool()
        async with pool.acquire() as conn:
            yield conn

    def _graph(self, attempt: Attempt) -> GraphClient:
        """The client of the attempt's account's host (graph.instagram.com or .facebook.com)."""
        return attempt.graph or self.graph

    @property
    def lease_length(self) -> timedelta:
        return timedelta(seconds=self.settings.publish_lease_seconds)

    # --- entry points ----------------------------------------------------------------------
    async def process(self, post_id: uuid.UUID, *, account_id: uuid.UUID | None = None) -> Outcome:
        """The job's work: publish the post if it is due and still scheduled.

        With `account_id` (the account whose slot the caller holds, worker/inflight.py) the post
        is claimed only while it is of that account; a post moved to another account meanwhile
        answers `other_account` with that account's id as the detail, unclaimed."""
        now = utcnow()
        lease = now + self.lease_length
        claimed: ScheduledPost | None = None
        account: InstagramAccount | None = None
        assets: dict[uuid.UUID, MediaAsset] | None = None
        # The common case first: one conditional UPDATE claims a due, scheduled post (and reads
        # its account in the same round trip).
        async with self.connect() as conn:
            claim = await repository.claim(
                conn, post_id, now=now, lease_until=lease, account_id=account_id
            )
            if claim is not None:
                claimed, account = claim
                # Everything the attempt reads, on the same connection.
                if not staged_and_usable(claimed, False, now):
                    # (A staged container needs no media: only media_publish remains.)
                    assets = await load_assets(conn, claimed)
        if claimed is not None:
            due = claimed.next_attempt_at or post_time(claimed)
            self.events.publish_started(
                post_id=post_id, lateness_seconds=(now - due).total_seconds()
            )
            return await self.run(
                Attempt(post=claimed, lease=lease, account=account, assets=assets)
            )
        async with self.sessions() as session:
            post = await repository.get_post(session, post_id)
        if post is None:
            return Outcome("skipped", detail="post deleted")
        if post.status == PostStatus.SCHEDULED:
            if account_id is not None and post.instagram_account_id != account_id:
                return Outcome("other_account", detail=str(post.instagram_account_id))
            later = post.next_attempt_at or post_time(post)
            if later > now:
                # Early (clock skew) or edited to a later time: wait for the new due time.
                return Outcome("not_due", due_at=later)
            # Claimed and already put back by another worker in the meantime: look again soon.
            return Outcome("not_due", due_at=utcnow() + timedelta(seconds=1))
        if post.status == PostStatus.PUBLISHING:
            current = utcnow()
            if post.lease_expires_at is None:
                expired = post.updated_at < current - self.lease_length
            else:
                expired = post.lease_expires_at < current
            if expired:
                return await self.recover(post_id, post.lease_expires_at)
        return Outcome("skipped", detail=f"status {post.status}")

    async def recover(self, post_id: uuid.UUID, expired_lease: datetime | None) -> Outcome:
        """Take over a `publishing` post whose worker died; never publishes blind."""
        now = utcnow()
        lease = now + self.lease_length
        async with self.sessions() as session:
            if expired_lease is None:
                taken = await repository.set_lease_if_missing(
                    session, post_id, now=now, lease_until=lease
                )
            else:
                taken = await repository.take_over(
                    session, post_id, expired_lease=expired_lease, now=now, lease_until=lease
                )
            await session.commit()
        if taken is None:
            return Outcome("skipped", detail="taken over by another worker")
        self.events.recovered(post_id=post_id, kind="lease_expired")
        return await self.run(Attempt(post=taken, lease=lease, recovering=True))

    # --- one attempt -----------------------------------------------------------------------
    async def run(self, attempt: Attempt) -> Outcome:
        outcome: Outcome | None = None
        with graph_calls_recorded() as graph_calls:
            try:
                # Renewed every third of its length while working (a slow Graph call, video
                # processing that takes minutes): a live worker keeps its posts with a short
                # lease, and a dead one's are taken over within a lease.
                async with self.leases.hold(attempt):
                    outcome = await self._run(attempt)
            except LeaseLost:
                log.warning(
                    "lease lost; another worker owns the post",
                    extra={"post_id": str(attempt.post.id)},
                )
                outcome = Outcome("skipped", detail="lease lost")
            finally:
                # The post's history: the attempt, its Graph calls, its outcome (one INSERT).
                await timeline.record_attempt(self, attempt, graph_calls, outcome)
        return outcome

    async def _run(self, attempt: Attempt) -> Outcome:
        post = attempt.post
        account = attempt.account
        if account is None:
            async with self.connect() as conn:
                account = await fetch_account(conn, post.instagram_account_id)
        if account is None:
            return await self._fail(attempt, "The Instagram account was removed.", "account")
        if account.needs_reauth:
            return await self._auth_failure(attempt, account, None)
        attempt.graph = self.graph.for_kind(account.login_kind)
        try:
            token = self.app.cipher.decrypt(account.access_token_encrypted)
        except ValueError:
            return await self._auth_failure(attempt, account, None)
        try:
            media_id = await self._publish(attempt, account, token)
        except PostProblem as exc:
            return await self._fail(attempt, str(exc), "post")
        except GraphQuotaError as exc:
            return await self._quota(attempt, account, token, exc)
        except GraphAuthError as exc:
            return await self._auth_failure(attempt, account, exc)
        except GraphPermanentError as exc:
            self.events.graph_error(exc.code_label)
            return await self._fail(attempt, exc.human(), exc.code_label)
        except (GraphRetryableError, GraphNewContainerNeeded, GraphMediaNotReady) as exc:
            self.events.graph_error(exc.code_label)
            return await self._retry(attempt, exc)
        except GraphError as exc:
            self.events.graph_error(exc.code_label)
            return await self._fail(attempt, exc.human(), exc.code_label)
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:  # S3 signing, a bug: retry, counted
            if is_connection_error(exc):
                # PostgreSQL is unreachable: no write can record a retry. The job runs again in
                # a second or two; the post keeps its lease until it expires and is taken over
                # (the container read tells what Meta did), without using an attempt more.
                raise
            log.exception("publish attempt crashed", extra={"post_id": str(post.id)})
            internal = InternalError(
                f"{type(exc).__name__}: {exc}",
                explanation="An internal error interrupted publishing; we will try again.",
            )
            return await self._retry(attempt, internal)
        return await self._succeed(attempt, account, token, media_id)

    async def _publish(self, attempt: Attempt, account: InstagramAccount, token: str) -> str | None:
        post = attempt.post
        if sequence.is_sequence(post):  # several stories as one post: publishing/sequence.py
            return await sequence.publish(self, attempt, account, token)
        ig_user = account.ig_user_id
        max_wait = self.settings.container_poll_max_seconds
        container_id = post.container_id
        if container_id and staged_and_usable(post, attempt.recovering, utcnow()):
            # Staged ahead (publishing.staging): waited for until FINISHED and never published
            # (this is the post's first attempt, not a recovery), so only media_publish
            # remains. An answer other than the media id is read as below (_after_uncertain).
            attempt.notes["publishedFromStaged"] = container_id
            return await self._publish_container(attempt, account, container_id, token)
        if container_id:
            status = await self._graph(attempt).container_status(container_id, token)
            if status.status_code == ContainerStatusCode.IN_PROGRESS:
                status = await self._graph(attempt).wait_for_container(
                    container_id, token, max_seconds=max_wait
                )
            if status.status_code == ContainerStatusCode.PUBLISHED:
                attempt.notes["recoveredFromContainer"] = container_id
                return await self._find_media(attempt, account, token)
            if status.status_code != ContainerStatusCode.FINISHED:
                # EXPIRED or ERROR: this container can never be published; make a new one.
                attempt.notes["replacedContainer"] = {
                    "id": container_id,
                    "status": status.status_code,
                }
                container_id = None
        if not container_id:
            container_id, ready_at_once = await self._create_containers(attempt, ig_user, token)
            # An image container is normally FINISHED at once: publish without reading its
            # status first. When it is not, media_publish answers 9007 (GraphMediaNotReady,
            # nothing published) and the wait below happens then. Video and carousel
            # containers are waited for as before.
            if not ready_at_once:
                status = await self._graph(attempt).wait_for_container(
                    container_id, token, max_seconds=max_wait
                )
                if status.status_code != ContainerStatusCode.FINISHED:
                    raise ContainerFailed(
                        f"Container {container_id} ended {status.status_code}: {status.status}",
                        explanation="Instagram could not process the media; a new upload will "
                        "be made.",
                    )
        return await self._publish_container(attempt, account, container_id, token)

    async def _publish_container(
        self, attempt: Attempt, account: InstagramAccount, container_id: str, token: str
    ) -> str | None:
        ig_user = account.ig_user_id
        max_wait = self.settings.container_poll_max_seconds
        if attempt.lost:
            raise LeaseLost
        try:
            media_id = await self._graph(attempt).publish_container(ig_user, container_id, token)
            attempt.published_at = utcnow()
            return media_id
        except GraphMediaNotReady:
            await self._graph(attempt).wait_for_container(container_id, token, max_seconds=max_wait)
            return await self._publish_checked(attempt, ig_user, container_id, token)
        except (GraphRetryableError, GraphNewContainerNeeded) as exc:
            # The outcome is uncertain (a timeout may have published): read, never repeat blind.
            return await self._after_uncertain(attempt, account, container_id, token, exc)
        except GraphPermanentError as exc:
            # "(#100) This container has already been published": a worker that lost its lease
            # published it meanwhile. Read the container: PUBLISHED is this post's publication,
            # found rather than failed; anything else is the refusal it says.
            return await self._after_uncertain(attempt, account, container_id, token, exc)

    async def _account(self, attempt: Attempt) -> InstagramAccount:
        async with self.connect() as conn:
            account = await fetch_account(conn, attempt.post.instagram_account_id)
        if account is None:
            raise PostProblem("The Instagram account was removed.")
        return account

    async def _publish_checked(
        self, attempt: Attempt, ig_user: str, container_id: str, token: str
    ) -> str | None:
        status = await self._graph(attempt).container_status(container_id, token)
        if status.status_code == ContainerStatusCode.PUBLISHED:
            account = await self._account(attempt)
            return await self._find_media(attempt, account, token)
        if attempt.lost:
            raise LeaseLost
        return await self._graph(attempt).publish_container(ig_user, container_id, token)

    async def _after_uncertain(
        self,
        attempt: Attempt,
        account: InstagramAccount,
        container_id: str,
        token: str,
        error: GraphError,
    ) -> str | None:
        try:
            status = await self._graph(attempt).container_status(container_id, token)
        except GraphError:
            raise error from None
        if status.status_code == ContainerStatusCode.PUBLISHED:
            attempt.notes["uncertainPublishResolved"] = error.code_label
            return await self._find_media(attempt, account, token)
        if status.status_code in (ContainerStatusCode.EXPIRED, ContainerStatusCode.ERROR):
            await self._store_containers(attempt, None, [])
        raise error

    async def _create_containers(
        self, attempt: Attempt, ig_user: str, token: str
    ) -> tuple[str, bool]:
        """Create the container(s) and commit the id; also says whether the container is an
        image (feed image or image story), which Meta normally finishes at once."""
        post = attempt.post
        ttl = self.settings.publish_url_ttl_seconds
        assets = attempt.assets
        if assets is None:
            async with self.connect() as conn:
                assets = await load_assets(conn, post)
        sources = await resolve_sources(self.app.storage, post, assets, ttl_seconds=ttl)
        cover = await resolve_cover(self.app.storage, post, assets, ttl_seconds=ttl)
        plan = build_plan(post, sources, cover)
        child_ids: list[str] = []
        if plan.children:
            child_ids = list(
                await asyncio.gather(
                    *(
                        self._graph(attempt).create_container(ig_user, token, c)
                        for c in plan.children
                    )
                )
            )
            max_wait = self.settings.container_poll_max_seconds
            for child_id in child_ids:
                status = await self._graph(attempt).wait_for_container(
                    child_id, token, max_seconds=max_wait
                )
                if status.status_code != ContainerStatusCode.FINISHED:
                    raise ContainerFailed(
                        f"Carousel item {child_id} ended {status.status_code}: {status.status}",
                        explanation="Instagram could not process one of the carousel's media; "
                        "a new upload will be made.",
                    )
        if attempt.lost:
            raise LeaseLost
        parent = replace(plan.parent, children=child_ids) if child_ids else plan.parent
        container_id = await self._graph(attempt).create_container(ig_user, token, parent)
        # Committed before media_publish: any retry or recovery reads this container first.
        await self._store_containers(attempt, container_id, child_ids)
        image = parent.image_url is not None and parent.media_type in (None, "IMAGE", "STORIES")
        return container_id, image

    async def _store_containers(
        self, attempt: Attempt, container_id: str | None, child_ids: list[str]
    ) -> None:
        now = utcnow()
        values = {
            "container_id": container_id,
            "child_container_ids": child_ids,
            "container_created_at": now if container_id else None,
            "updated_at": now,
        }
        post_id, staging = attempt.post.id, attempt.staging
        async with attempt.lock, self.connect() as conn:
            lease = attempt.lease  # read under the lock: a renewal may have just moved it
            if container_id:  # counted in the account's containers of the last 24 h
                ok = await repository.store_containers(
                    conn, post_id, lease=lease, values=values,
                    created=1 + len(child_ids), at=now, staging=staging,
                )  # fmt: skip
            else:
                ok = await repository.fenced_update(
                    conn, post_id, lease=lease, values=values, staging=staging
                )
        if not ok:
            raise LeaseLost
        attempt.post.container_id = container_id
        attempt.post.child_container_ids = child_ids
        attempt.post.container_created_at = now if container_id else None

    async def _find_media(
        self, attempt: Attempt, account: InstagramAccount, token: str
    ) -> str | None:
        """The media id of a publication we did not see answered: the account's recent media
        with this caption, published after the container was made, not claimed by another post.
        """
        post = attempt.post
        recent = await self._graph(attempt).recent_media(account.ig_user_id, token)
        since = post.container_created_at or post.publishing_started_at or post_time(post)
        since = since - RECENT_MEDIA_SLACK
        caption = (post.caption or "").strip()
        candidates = [
            m
            for m in recent
            if (m.caption or "").strip() == caption
            and (m.timestamp is None or m.timestamp >= since)
        ]
        if not candidates:
            attempt.notes["mediaIdUnknown"] = True
            return None
        async with self.sessions() as session:
            taken = await repository.media_ids_taken(
                session,
                account_id=post.instagram_account_id,
                post_id=post.id,
                media_ids=[m.id for m in candidates],
            )
        free = [m for m in candidates if m.id not in taken]
        if not free:
            attempt.notes["mediaIdUnknown"] = True
            return None
        free.sort(key=lambda m: (m.timestamp is None, m.timestamp))
        return free[0].id

    # --- outcomes --------------------------------------------------------------------------
    async def _succeed(
        self, attempt: Attempt, account: InstagramAccount, token: str, media_id: str | None
    ) -> Outcome:
        post = attempt.post
        meta = dict(post.meta or {})
        meta.update(attempt.notes)
        # Permalink and initial counts are read before the one write that records success (a
        # crash in between is recovered through the container, which reads PUBLISHED).
        details = await self._media_details(post, self._graph(attempt), token, media_id, meta)
        now = utcnow()
        meta["attempts"] = [*meta.get("attempts", []), _attempt_note(post, now, None)]
        # The publication's time is media_publish's answer, not the end of the details' read.
        published_at = attempt.published_at or now
        async with attempt.lock, self.connect() as conn:
            ok = await repository.fenced_update(
                conn,
                post.id,
                lease=attempt.lease,
                values={
                    **details,
                    "status": PostStatus.PUBLISHED,
                    "published_at": published_at,
                    "instagram_media_id": media_id,
                    "lease_expires_at": None,
                    "next_attempt_at": None,
                    "last_publish_error": None,
                    "last_error_code": None,
                    "meta": meta,
                    "updated_at": now,
                },
            )
            if ok and media_id is not None:
                # Likes, reach... read again 1 h, 24 h and 7 d from now (publishing.insights);
                # the publication is recorded already, so a failure here is only logged.
                try:
                    await insights.plan(
                        conn, post_id=post.id, media_type=post.media_type, published_at=published_at
                    )
                except Exception:
                    log.exception("insights readings not planned", extra={"post_id": str(post.id)})
        if not ok:
            raise LeaseLost
        self.events.published(
            post_id=post.id,
            account_id=post.instagram_account_id,
            media_type=post.media_type,
            attempt=post.publish_attempts or 1,
            media_id=media_id or "unknown",
        )
        if media_id is not None and post.first_comment and not post.first_comment_id:
            await self._first_comment(post, self._graph(attempt), token, media_id, meta)
        return Outcome("published", detail=media_id)

    async def _media_details(
        self,
        post: ScheduledPost,
        graph: GraphClient,
        token: str,
        media_id: str | None,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        """Permalink, media URL, initial likes/comments/reach; failures are only noted."""
        values: dict[str, Any] = {}
        if media_id is None:
            return values
        insights: dict[str, int] | None = None
        try:
            if post.media_type.upper() == "STORIES":
                info = await graph.get_media(media_id, token)
            else:
                try:
                    # Fields and insights in one call (Graph field expansion).
                    info, insights = await graph.get_media_with_insights(
                        media_id, token, metrics=("reach",)
                    )
                except GraphError as exc:
                    # The nested insights edge fails the whole request (e.g. no insights
                    # permission): note it, and read the fields alone.
                    meta["insightsError"] = exc.human()
                    info = await graph.get_media(media_id, token)
            values.update(
                instagram_media_url=info.media_url,
                permalink=info.permalink,
                initial_likes=info.like_count or 0,
                initial_comments=info.comments_count or 0,
            )
        except GraphError as exc:
            meta["mediaFieldsError"] = exc.human()
        if insights is not None:
            values["initial_reach"] = insights.get("reach", 0)
        return values

    async def _first_comment(
        self,
        post: ScheduledPost,
        graph: GraphClient,
        token: str,
        media_id: str,
        meta: dict[str, Any],
    ) -> None:
        """After the publication is recorded; a failure un-publishes nothing."""
        assert post.first_comment is not None
        values: dict[str, Any] = {}
        try:
            values["first_comment_id"] = await graph.post_comment(
                media_id, post.first_comment, token
            )
        except GraphError as exc:
            meta["firstCommentError"] = exc.human()
            values["meta"] = meta
            log.warning(
                "first comment failed",
                extra={"post_id": str(post.id), "error_code": exc.code_label},
            )
        async with self.sessions() as session:
            await repository.update_published(session, post.id, values=values)
            await session.commit()

    async def _retry(self, attempt: Attempt, error: GraphError) -> Outcome:
        post = attempt.post
        attempts = post.publish_attempts or 1
        if attempts >= self.settings.publish_max_attempts:
            # Not error.human(): its "we will try again" is untrue once the post has failed.
            cause = (error.explanation or "").split(";")[0].rstrip(".") or "Instagram refused"
            message = (
                f"Publishing failed after {counted(attempts, 'attempt')}. Last error: {cause} "
                f"(Instagram said: {error.message}; code {error.code_label})"
            )
            return await self._fail(attempt, message, error.code_label)
        now = utcnow()
        delay = self.settings.publish_retry_base_seconds * (2 ** (attempts - 1))
        due = now + timedelta(seconds=delay)
        meta = dict(post.meta or {})
        meta.update(attempt.notes)
        meta["attempts"] = [*meta.get("attempts", []), _attempt_note(post, now, error)]
        values: dict[str, Any] = {
            "status": PostStatus.SCHEDULED,
            "next_attempt_at": due,
            "last_publish_error": error.human(),
            "last_error_code": error.code_label,
            "lease_expires_at": None,
            "meta": meta,
            "updated_at": now,
        }
        if isinstance(error, GraphNewContainerNeeded):
            values.update(container_id=None, child_container_ids=[], container_created_at=None)
        await self._write(attempt, values)
        self.events.retry(
            post_id=post.id,
            account_id=post.instagram_account_id,
            media_type=post.media_type,
            attempt=attempts,
            code=error.code_label,
            message=error.human(),
            delay_seconds=delay,
        )
        return Outcome("retry", due_at=due, detail=error.code_label)

    async def _quota(
        self, attempt: Attempt, account: InstagramAccount, token: str, error: GraphQuotaError
    ) -> Outcome:
        post = attempt.post
        now = utcnow()
        meta = dict(post.meta or {})
        meta.update(attempt.notes)
        waits = int(meta.get("quotaWaits", 0)) + 1
        due, reason = await self._quota_frees_at(account, token, now, waits=waits)
        meta["quotaWaits"] = waits
        meta["attempts"] = [*meta.get("attempts", []), _attempt_note(post, now, error)]
        await self._write(
            attempt,
            {
                "status": PostStatus.SCHEDULED,
                "next_attempt_at": due,
                # A quota wait is not a failed attempt: give it back.
                "publish_attempts": max(0, (post.publish_attempts or 1) - 1),
                "last_publish_error": error.human()
                + f" Next try: {due.strftime('%Y-%m-%d %H:%M UTC')}.",
                "last_error_code": error.code_label,
                "lease_expires_at": None,
                "meta": meta,
                "updated_at": now,
            },
        )
        self.events.graph_error(error.code_label)
        self.events.rescheduled(
            post_id=post.id,
            account_id=post.instagram_account_id,
            media_type=post.media_type,
            code=error.code_label,
            until=due.isoformat(),
            reason=reason,
            waits=waits,
        )
        return Outcome("rescheduled", due_at=due, detail=error.code_label)

    async def _quota_frees_at(
        self, account: InstagramAccount, token: str, now: datetime, *, waits: int
    ) -> tuple[datetime, QuotaWaitReason]:
        """When the moving 24 h window lets one more post through, and why we wait.

        Meta tells the usage and the total, not when the oldest publication leaves the window;
        our own publications of the last 24 h tell that (Instagram's app may add more, hence
        the fallback of one hour). When Meta's limit says there is room although media_publish
        refused, the post waits `PUBLISH_RETRY_BASE_SECONDS` doubled at each such wait (its
        `waits`-th), at most the fallback: re-asking every second made a media_publish call a
        second for as long as Meta disagreed with itself.
        """
        window = QUOTA_WINDOW
        total: int | None = None
        usage: int | None = None
        try:
            limit = await self.graph.for_kind(account.login_kind).publishing_limit(
                account.ig_user_id, token
            )
            total, usage = limit.quota_total, limit.quota_usage
            if limit.quota_duration:
                window = timedelta(seconds=limit.quota_duration)
        except GraphError:
            pass
        if total is not None and usage is not None and usage < total:
            base = max(QUOTA_RECHECK_MIN_SECONDS, self.settings.publish_retry_base_seconds)
            delay = min(QUOTA_FALLBACK.total_seconds(), base * 2 ** min(waits - 1, 32))
            return now + timedelta(seconds=delay), "limit_has_room"
        async with self.sessions() as session:
            if total:  # what later placements of the account's posts are checked against
                await repository.store_publishing_quota(
                    session, account_id=account.id, quota=total, now=now
                )
            ours = await repository.published_since(
                session, account_id=account.id, since=now - window
            )
        if ours:
            excess = 0
            if total is not None and usage is not None:
                excess = max(0, usage - total)
            index = min(excess, len(ours) - 1)
            return max(ours[index] + window, now + timedelta(seconds=1)), "window_full"
        return now + QUOTA_FALLBACK, "window_full"

    async def _auth_failure(
        self, attempt: Attempt, account: InstagramAccount, error: GraphAuthError | None
    ) -> Outcome:
        message = REAUTH_MESSAGE.format(username=account.username)
        if error is not None:
            message += f" (Instagram said: {error.message}; code {error.code_label})"
        code = error.code_label if error is not None else "190"
        now = utcnow()
        async with self.app.session_factory() as session:
            await repository.mark_needs_reauth(session, account.id)
            others = await repository.fail_due_posts_of_account(
                session, account_id=account.id, now=now, message=message, code=code
            )
            await session.commit()
        await timeline.record_failed_together(self, others, message=message, code=code)
        if others:
            log.warning(
                "failed the account's due posts: the account needs re-authentication",
                extra={"account_id": str(account.id), "post_ids": [str(p) for p in others]},
            )
        if not account.needs_reauth:
            self.events.needs_reauth(account_id=account.id, username=account.username)
        return await self._fail(attempt, message, code)

    async def _fail(self, attempt: Attempt, message: str, code: str) -> Outcome:
        post = attempt.post
        now = utcnow()
        meta = dict(post.meta or {})
        meta.update(attempt.notes)
        meta["attempts"] = [
            *meta.get("attempts", []),
            {**_attempt_note(post, now, None), "error": code},
        ]
        await self._write(
            attempt,
            {
                "status": PostStatus.FAILED,
                "failed_at": now,
                "last_publish_error": message,
                "last_error_code": code,
                "next_attempt_at": None,
                "lease_expires_at": None,
                "meta": meta,
                "updated_at": now,
            },
        )
        self.events.failed(
            post_id=post.id,
            account_id=post.instagram_account_id,
            media_type=post.media_type,
            attempt=post.publish_attempts or 1,
            code=code,
            message=message,
        )
        return Outcome("failed", detail=message)

    async def _write(self, attempt: Attempt, values: dict[str, Any]) -> None:
        async with attempt.lock, self.connect() as conn:
            ok = await repository.fenced_update(
                conn, attempt.post.id, lease=attempt.lease, values=values, staging=attempt.staging
            )
        if not ok:
            raise LeaseLost


def _attempt_note(post: ScheduledPost, now: datetime, error: GraphError | None) -> dict[str, Any]:
    note: dict[str, Any] = {
        "attempt": post.publish_attempts or 1,
        "startedAt": (post.publishing_started_at or now).isoformat(),
        "endedAt": now.isoformat(),
    }
    if error is not None:
        note["error"] = error.code_label
    return note
