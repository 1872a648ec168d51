"""The staging job: create a post's containers ahead of its due time and wait until FINISHED.

The rules are in `instasched.publishing.staging` (docs/staging.md). The containers are made by
the publishing path's own code (`publishing.containers.create`), with the staging lease of the
`scheduled` post as the fence instead of the lease of a `publishing` one: an edit, a cancel or
the publish job claiming the post (status `publishing`) fences an unfinished staging out, and
the container id is committed before anything else, as the publish path does. So the publish
job either finds a FINISHED staged container (only `media_publish` remains), or a container
still IN_PROGRESS (it waits for it), or none (it makes one, as without staging).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from instasched.accounts.repository import fetch_account
from instasched.db import is_connection_error
from instasched.integrations.instagram import (
    GraphError,
    GraphMediaNotReady,
    GraphQuotaError,
    GraphRetryableError,
)
from instasched.integrations.instagram.call_log import recorded as graph_calls_recorded
from instasched.integrations.instagram.media import ContainerStatusCode
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, ScheduledPost, post_time
from instasched.publishing import (
    containers,
    repository,
    sequence,
    staging,
    staging_repository,
    timeline,
)
from instasched.publishing.account_errors import QUOTA_WINDOW, REAUTH_MESSAGE
from instasched.publishing.attempt import Attempt, ContainerFailed, LeaseLost, Outcome
from instasched.publishing.service import Publisher
from instasched.publishing.sources import PostProblem, load_assets

log = logging.getLogger("instasched.publishing.staging")


class Deferred(Exception):
    """Staging is left to the due time (the reason is shown on the post)."""


class Stager:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.settings = publisher.settings
        self.events = publisher.events

    async def stage(self, post_id: uuid.UUID) -> Outcome:
        """The staging job's work: stage the post's containers if it still needs it."""
        publisher = self.publisher
        now = utcnow()
        lease = now + publisher.lease_length
        async with publisher.connect() as conn:
            claimed = await staging_repository.claim(conn, post_id, now=now, lease_until=lease)
            account, assets = None, None
            if claimed is not None:
                account = await fetch_account(conn, claimed.instagram_account_id)
                assets = await load_assets(conn, claimed)
        if claimed is None:
            return await self._not_claimed(post_id)
        attempt = Attempt(post=claimed, lease=lease, account=account, assets=assets, staging=True)
        with graph_calls_recorded() as graph_calls:
            try:
                # Its staging lease renewed while it works (publishing/leases.py).
                async with publisher.staging_leases.hold(attempt):
                    outcome = await self._stage(attempt, account)
            except LeaseLost:
                # Edited, cancelled or claimed for publishing meanwhile: the post's jobs now.
                return await self._not_claimed(post_id)
        # The post's history: the staging's Graph calls and how it ended (one INSERT).
        await timeline.record_staging(publisher, attempt, graph_calls, outcome)
        return outcome

    async def _not_claimed(self, post_id: uuid.UUID) -> Outcome:
        async with self.publisher.connect() as conn:
            post = await repository.get_post(conn, post_id)
        if post is None:
            return Outcome("skipped", detail="post deleted")
        now = utcnow()
        if post.staging_status == staging.STAGING and post.staging_lease_expires_at is not None:
            # Another worker stages it; look again once its lease would have expired.
            later = post.staging_lease_expires_at + timedelta(seconds=1)
            if post.status == "scheduled" and later < (post.next_attempt_at or post_time(post)):
                return Outcome("not_due", due_at=max(later, now))
            return Outcome("skipped", detail="being staged")
        for job in staging.jobs_for(post, settings=self.settings, now=now):
            if job.kind == "stage":
                return Outcome("not_due", due_at=job.due_at)
        return Outcome("skipped", detail=f"nothing to stage ({post.status})")

    async def _stage(self, attempt: Attempt, account: InstagramAccount | None) -> Outcome:
        post = attempt.post
        try:
            if account is None:
                raise PostProblem("The Instagram account was removed.")
            if account.needs_reauth:
                raise PostProblem(REAUTH_MESSAGE.format(username=account.username))
            try:
                token = self.publisher.app.cipher.decrypt(account.access_token_encrypted)
            except ValueError:
                raise PostProblem(REAUTH_MESSAGE.format(username=account.username)) from None
            if sequence.is_sequence(post):
                # Each story's container is made in turn at the due time (publishing/sequence.py):
                # a story's container goes out before the next one is made.
                raise Deferred(
                    "Not staged ahead: the stories of a sequence are prepared one after another "
                    "at the due time."
                )
            attempt.graph = self.publisher.graph.for_kind(account.login_kind)
            await self._containers(attempt, account, token)
        except Deferred as exc:
            return await self._end(attempt, staging.DEFERRED, str(exc))
        except PostProblem as exc:
            return await self._failed(attempt, str(exc), "post")
        except GraphQuotaError as exc:
            return await self._end(
                attempt,
                staging.DEFERRED,
                "Not staged ahead: Instagram refused another media container for this account "
                f"(Instagram said: {exc.message}); the containers will be made at the due time.",
            )
        except (GraphRetryableError, GraphMediaNotReady) as exc:
            return await self._again(attempt, exc.human())
        except (ContainerFailed, GraphError) as exc:
            # Media Meta rejects (a permanent error, a container that ended ERROR), an expired
            # connection: a person must fix the post before its time.
            self.events.graph_error(exc.code_label)
            return await self._failed(attempt, exc.human(), exc.code_label)
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            if is_connection_error(exc):
                raise
            log.exception("staging crashed", extra={"post_id": str(post.id)})
            return await self._again(attempt, f"{type(exc).__name__}: {exc}")
        return await self._end(attempt, staging.STAGED, None)

    async def _containers(self, attempt: Attempt, account: InstagramAccount, token: str) -> None:
        post = attempt.post
        graph = self.publisher.graph_for(attempt)  # the account's host (login kind)
        max_wait = self.settings.container_poll_max_seconds
        container_id = post.container_id  # a staging whose worker died stored it
        if container_id:
            status = await containers.settled_status(
                graph, container_id, token, max_seconds=max_wait
            )
            if status.status_code == ContainerStatusCode.FINISHED:
                return
            if status.status_code == ContainerStatusCode.ERROR:
                raise ContainerFailed(
                    f"Container {container_id} ended ERROR: {status.status}",
                    explanation="Instagram could not process the media.",
                )
            container_id = None  # EXPIRED: a new one
        await self._check_room(attempt, account)
        container_id, _ = await containers.create(
            self.publisher, attempt, account.ig_user_id, token
        )
        await containers.wait_finished(
            graph,
            container_id,
            token,
            max_seconds=max_wait,
            explanation="Instagram could not process the media.",
        )

    async def _check_room(self, attempt: Attempt, account: InstagramAccount) -> None:
        """Staging never takes the account past STAGING_CONTAINER_LIMIT containers per 24 h."""
        post = attempt.post
        needed = 1 + (len(post.media_ids or post.media_urls or []) if _carousel(post) else 0)
        limit = self.settings.staging_container_limit
        async with self.publisher.connect() as conn:
            used = await staging_repository.containers_since(
                conn, account.id, since=utcnow() - QUOTA_WINDOW
            )
        if used + needed > limit:
            raise Deferred(
                f"Not staged ahead: @{account.username} created {used} media containers in the "
                f"last 24 hours and staging this post would make {used + needed}, over the "
                f"{limit} Instagram allows; the containers will be made at the due time."
            )

    async def _end(self, attempt: Attempt, status: str, detail: str | None) -> Outcome:
        now = utcnow()
        values: dict[str, object] = {
            "staging_status": status,
            "staging_lease_expires_at": None,
            "staging_error": detail,
        }
        if status == staging.STAGED:
            values["staged_at"] = now
        await self.publisher.write(attempt, dict(values))
        if detail:
            attempt.notes["message"] = detail  # for the post's history
        post = attempt.post
        self.events.staged(
            post_id=post.id, account_id=post.instagram_account_id, status=status, detail=detail
        )
        return Outcome("skipped", detail=status)

    async def _failed(self, attempt: Attempt, message: str, code: str) -> Outcome:
        post = attempt.post
        await self.publisher.write(
            attempt,
            {
                **staging.discarded(),
                "staging_status": staging.FAILED,
                "staging_error": message,
            },
        )
        attempt.notes["message"] = message
        self.events.staging_failed(
            post_id=post.id,
            account_id=post.instagram_account_id,
            scheduled_for=post_time(post).isoformat(),
            code=code,
            message=message,
        )
        return Outcome("failed", detail=message)

    async def _again(self, attempt: Attempt, reason: str) -> Outcome:
        """A passing failure: give the staging lease up (a container already stored is kept:
        the next staging or the publish job reads it) and try again while there is time."""
        post = attempt.post
        now = utcnow()
        await self.publisher.write(attempt, {"staging_lease_expires_at": now})
        due = post.next_attempt_at or post_time(post)
        # Tried again after PUBLISH_RETRY_BASE_SECONDS while the due time is further away.
        again = now + timedelta(seconds=self.settings.publish_retry_base_seconds)
        log.warning("staging interrupted: %s", reason, extra={"post_id": str(post.id)})
        attempt.notes["message"] = reason
        if due - again >= staging.MIN_AHEAD:
            return Outcome("retry", due_at=again)
        return Outcome("skipped", detail="left to the due time")


def _carousel(post: ScheduledPost) -> bool:
    return (post.media_type or "").upper() == "CAROUSEL"
