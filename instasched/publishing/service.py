"""Publishing one post, exactly once: the orchestration of an attempt (`Publisher`).

```
scheduled ──claim (conditional UPDATE, attempt + 1, lease)──> publishing
publishing ──containers stored (committed) ──> media_publish ──> published
           ──retryable error, attempts left──> scheduled (later)
           ──quota──> scheduled (when the 24 h window frees; the attempt is given back)
           ──permanent error / attempts used up / 190──> failed (a message a person can act on)
publishing, lease expired (worker died) ──take over (conditional UPDATE on the old lease)──>
           the same flow, which starts by reading the stored container
```
A job claims its post (`process`), or takes over one whose worker died (`recover`); the attempt
then reads its account, makes and publishes the containers (`publishing.containers`; several
stories: `publishing.sequence`) and ends in one outcome (`publishing.outcomes`; the quota and an
expired connection: `publishing.account_errors`). After the publication, one call reads the
permalink, counts and reach (field expansion `insights.metric(reach)`); 3 Graph calls for an
image post.

Several workers: the claim, the take-over and every write are conditional on the lease (a
fencing token, renewed by `publishing.leases`), and Meta refuses to publish one container twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

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
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, MediaAsset, PostStatus, ScheduledPost, post_time
from instasched.publishing import containers, repository, sequence, timeline
from instasched.publishing.account_errors import needs_reauth, quota_wait
from instasched.publishing.attempt import Attempt, InternalError, LeaseLost, Outcome
from instasched.publishing.leases import LeaseKeeper
from instasched.publishing.outcomes import fail, retry, succeed
from instasched.publishing.sources import PostProblem, load_assets
from instasched.publishing.staging import staged_and_usable
from instasched.state import AppState

log = logging.getLogger("instasched.publishing")


class Publisher:
    def __init__(self, app: AppState) -> None:
        self.app = app
        self.settings = app.settings
        self.graph = app.graph
        self.events = app.events
        # Every attempt's lease renewed by one statement a second (publishing/leases.py).
        self.leases = LeaseKeeper(self.connect, length=self.lease_length)
        # The staging leases of posts whose containers are made ahead (publishing/stager.py).
        self.staging_leases = LeaseKeeper(self.connect, length=self.lease_length, staging=True)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        """An asyncpg connection for every statement of a publication (publishing/repository.py):
        no ORM session, no SQLAlchemy statement execution or pool. Each statement is its own
        transaction (PostgreSQL's implicit one): an attempt's writes are single conditional
        UPDATEs, atomic alone, so BEGIN and COMMIT would be two extra round trips each
        (measured: ~20 % of the worker's and of PostgreSQL's CPU per publication)."""
        pool = await self.app.driver_pool()
        async with pool.acquire() as conn:
            yield conn

    def graph_for(self, attempt: Attempt) -> GraphClient:
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
        async with self.connect() as conn:
            post = await repository.get_post(conn, post_id)
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
        async with self.connect() as conn:
            taken = await repository.take_over(
                conn, post_id, expired_lease=expired_lease, now=now, lease_until=lease
            )
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
            return await fail(self, attempt, "The Instagram account was removed.", "account")
        if account.needs_reauth:
            return await needs_reauth(self, attempt, account, None)
        attempt.graph = self.graph.for_kind(account.login_kind)
        try:
            token = self.app.cipher.decrypt(account.access_token_encrypted)
        except ValueError:
            return await needs_reauth(self, attempt, account, None)
        try:
            # Several stories as one post: publishing/sequence.py; else one container.
            publish = sequence.publish if sequence.is_sequence(post) else containers.publish
            media_id = await publish(self, attempt, account, token)
        except PostProblem as exc:
            return await fail(self, attempt, str(exc), "post")
        except GraphQuotaError as exc:
            return await quota_wait(self, attempt, account, token, exc)
        except GraphAuthError as exc:
            return await needs_reauth(self, attempt, account, exc)
        except GraphPermanentError as exc:
            self.events.graph_error(exc.code_label)
            return await fail(self, attempt, exc.human(), exc.code_label)
        except (GraphRetryableError, GraphNewContainerNeeded, GraphMediaNotReady) as exc:
            self.events.graph_error(exc.code_label)
            return await retry(self, attempt, exc)
        except GraphError as exc:
            self.events.graph_error(exc.code_label)
            return await fail(self, attempt, exc.human(), exc.code_label)
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
            return await retry(self, attempt, internal)
        return await succeed(self, attempt, account, token, media_id)

    async def write(self, attempt: Attempt, values: dict[str, Any]) -> None:
        """Write these values to the attempt's post while it holds the attempt's lease (the
        staging lease for a staging); `LeaseLost` when another worker took it over."""
        async with attempt.lock, self.connect() as conn:
            ok = await repository.fenced_update(
                conn, attempt.post.id, lease=attempt.lease, values=values, staging=attempt.staging
            )
        if not ok:
            raise LeaseLost
