"""From a claimed post to its media id: the container steps of one publication.

The container id is committed before `media_publish`. Any later attempt or recovery reads the
container first: PUBLISHED → success (the media id is found among the account's recent media),
FINISHED → publish, IN_PROGRESS → wait, EXPIRED/ERROR → a new container. `media_publish` is never
repeated without that read, so an uncertain publish (a timeout after Meta acted) is never
repeated blind.

An image container (feed image, image story) is published without reading its status first:
Meta finishes it at once, and when it has not, `media_publish` answers 9007 without publishing,
and the container is waited for then. Video and carousel containers are waited for before
publishing. Staging (`publishing.stager`) makes the containers ahead with `create`; several
stories as one post are `publishing.sequence`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from instasched.accounts.repository import fetch_account
from instasched.integrations.instagram import (
    GraphClient,
    GraphError,
    GraphMediaNotReady,
    GraphNewContainerNeeded,
    GraphPermanentError,
    GraphRetryableError,
)
from instasched.integrations.instagram.media import ContainerStatus, ContainerStatusCode
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, MediaAsset, post_time
from instasched.publishing import repository
from instasched.publishing.attempt import Attempt, ContainerFailed, LeaseLost
from instasched.publishing.sources import (
    PostProblem,
    build_plan,
    load_assets,
    resolve_cover,
    resolve_sources,
)
from instasched.publishing.staging import staged_and_usable

if TYPE_CHECKING:
    from instasched.publishing.service import Publisher

RECENT_MEDIA_SLACK = timedelta(minutes=2)
NEW_UPLOAD = "Instagram could not process the media; a new upload will be made."


async def settled_status(
    graph: GraphClient, container_id: str, token: str, *, max_seconds: float
) -> ContainerStatus:
    """A stored container's status, waited for while it is IN_PROGRESS (at most `max_seconds`)."""
    status = await graph.container_status(container_id, token)
    if status.status_code == ContainerStatusCode.IN_PROGRESS:
        status = await graph.wait_for_container(container_id, token, max_seconds=max_seconds)
    return status


async def wait_finished(
    graph: GraphClient,
    container_id: str,
    token: str,
    *,
    max_seconds: float,
    name: str = "Container",
    explanation: str = NEW_UPLOAD,
) -> None:
    """Wait for the container until it is FINISHED; any other end is `ContainerFailed`."""
    status = await graph.wait_for_container(container_id, token, max_seconds=max_seconds)
    if status.status_code != ContainerStatusCode.FINISHED:
        raise ContainerFailed(
            f"{name} {container_id} ended {status.status_code}: {status.status}",
            explanation=explanation,
        )


async def publish(
    publisher: Publisher, attempt: Attempt, account: InstagramAccount, token: str
) -> str | None:
    """Publish the post's one container (the stored one when it can be, else a new one); the
    media id, or None when it was published but its id cannot be told."""
    post = attempt.post
    graph = publisher.graph_for(attempt)
    max_wait = publisher.settings.container_poll_max_seconds
    container_id = post.container_id
    if container_id and staged_and_usable(post, attempt.recovering, utcnow()):
        # Staged ahead (publishing.staging): waited for until FINISHED and never published
        # (this is the post's first attempt, not a recovery), so only media_publish
        # remains. An answer other than the media id is read as below (_after_uncertain).
        attempt.notes["publishedFromStaged"] = container_id
        return await _publish_container(publisher, attempt, account, container_id, token)
    if container_id:
        status = await settled_status(graph, container_id, token, max_seconds=max_wait)
        if status.status_code == ContainerStatusCode.PUBLISHED:
            attempt.notes["recoveredFromContainer"] = container_id
            return await _find_media(publisher, attempt, account, token)
        if status.status_code != ContainerStatusCode.FINISHED:
            # EXPIRED or ERROR: this container can never be published; make a new one.
            attempt.notes["replacedContainer"] = {
                "id": container_id,
                "status": status.status_code,
            }
            container_id = None
    if not container_id:
        container_id, ready_at_once = await create(publisher, attempt, account.ig_user_id, token)
        # An image container is normally FINISHED at once: publish without reading its
        # status first. When it is not, media_publish answers 9007 (GraphMediaNotReady,
        # nothing published) and the wait below happens then. Video and carousel
        # containers are waited for as before.
        if not ready_at_once:
            await wait_finished(graph, container_id, token, max_seconds=max_wait)
    return await _publish_container(publisher, attempt, account, container_id, token)


async def _publish_container(
    publisher: Publisher,
    attempt: Attempt,
    account: InstagramAccount,
    container_id: str,
    token: str,
) -> str | None:
    graph = publisher.graph_for(attempt)
    ig_user = account.ig_user_id
    max_wait = publisher.settings.container_poll_max_seconds
    if attempt.lost:
        raise LeaseLost
    try:
        media_id = await graph.publish_container(ig_user, container_id, token)
        attempt.published_at = utcnow()
        return media_id
    except GraphMediaNotReady:
        await graph.wait_for_container(container_id, token, max_seconds=max_wait)
        return await _publish_checked(publisher, attempt, ig_user, container_id, token)
    except (GraphRetryableError, GraphNewContainerNeeded) as exc:
        # The outcome is uncertain (a timeout may have published): read, never repeat blind.
        return await _after_uncertain(publisher, attempt, account, container_id, token, exc)
    except GraphPermanentError as exc:
        # "(#100) This container has already been published": a worker that lost its lease
        # published it meanwhile. Read the container: PUBLISHED is this post's publication,
        # found rather than failed; anything else is the refusal it says.
        return await _after_uncertain(publisher, attempt, account, container_id, token, exc)


async def _publish_checked(
    publisher: Publisher, attempt: Attempt, ig_user: str, container_id: str, token: str
) -> str | None:
    graph = publisher.graph_for(attempt)
    status = await graph.container_status(container_id, token)
    if status.status_code == ContainerStatusCode.PUBLISHED:
        async with publisher.connect() as conn:
            account = await fetch_account(conn, attempt.post.instagram_account_id)
        if account is None:
            raise PostProblem("The Instagram account was removed.")
        return await _find_media(publisher, attempt, account, token)
    if attempt.lost:
        raise LeaseLost
    return await graph.publish_container(ig_user, container_id, token)


async def _after_uncertain(
    publisher: Publisher,
    attempt: Attempt,
    account: InstagramAccount,
    container_id: str,
    token: str,
    error: GraphError,
) -> str | None:
    try:
        status = await publisher.graph_for(attempt).container_status(container_id, token)
    except GraphError:
        raise error from None
    if status.status_code == ContainerStatusCode.PUBLISHED:
        attempt.notes["uncertainPublishResolved"] = error.code_label
        return await _find_media(publisher, attempt, account, token)
    if status.status_code in (ContainerStatusCode.EXPIRED, ContainerStatusCode.ERROR):
        await _store(publisher, attempt, None, [])
    raise error


async def assets_of(publisher: Publisher, attempt: Attempt) -> dict[uuid.UUID, MediaAsset]:
    """The post's media assets: read with the claim, or now (a recovery, a staged post)."""
    if attempt.assets is None:
        async with publisher.connect() as conn:
            attempt.assets = await load_assets(conn, attempt.post)
    return attempt.assets


async def create(
    publisher: Publisher, attempt: Attempt, ig_user: str, token: str
) -> tuple[str, bool]:
    """Create the container(s) and commit the id; also says whether the container is an
    image (feed image or image story), which Meta normally finishes at once."""
    post = attempt.post
    graph = publisher.graph_for(attempt)
    storage = publisher.app.storage
    ttl = publisher.settings.publish_url_ttl_seconds
    assets = await assets_of(publisher, attempt)
    sources = await resolve_sources(storage, post, assets, ttl_seconds=ttl)
    cover = await resolve_cover(storage, post, assets, ttl_seconds=ttl)
    plan = build_plan(post, sources, cover)
    child_ids: list[str] = []
    if plan.children:
        child_ids = list(
            await asyncio.gather(
                *(graph.create_container(ig_user, token, c) for c in plan.children)
            )
        )
        max_wait = publisher.settings.container_poll_max_seconds
        for child_id in child_ids:
            await wait_finished(
                graph,
                child_id,
                token,
                max_seconds=max_wait,
                name="Carousel item",
                explanation="Instagram could not process one of the carousel's media; a new "
                "upload will be made.",
            )
    if attempt.lost:
        raise LeaseLost
    parent = replace(plan.parent, children=child_ids) if child_ids else plan.parent
    container_id = await graph.create_container(ig_user, token, parent)
    # Committed before media_publish: any retry or recovery reads this container first.
    await _store(publisher, attempt, container_id, child_ids)
    image = parent.image_url is not None and parent.media_type in (None, "IMAGE", "STORIES")
    return container_id, image


async def _store(
    publisher: Publisher, attempt: Attempt, container_id: str | None, child_ids: list[str]
) -> None:
    """Store the post's container ids (None: forget them), fenced by the attempt's lease."""
    now = utcnow()
    values = {
        "container_id": container_id,
        "child_container_ids": child_ids,
        "container_created_at": now if container_id else None,
        "updated_at": now,
    }
    post_id, staging = attempt.post.id, attempt.staging
    async with attempt.lock, publisher.connect() as conn:
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
    publisher: Publisher, attempt: Attempt, account: InstagramAccount, token: str
) -> str | None:
    """The media id of a publication we did not see answered: the account's recent media
    with this caption, published after the container was made, not claimed by another post.
    """
    post = attempt.post
    recent = await publisher.graph_for(attempt).recent_media(account.ig_user_id, token)
    since = post.container_created_at or post.publishing_started_at or post_time(post)
    since = since - RECENT_MEDIA_SLACK
    caption = (post.caption or "").strip()
    candidates = [
        m
        for m in recent
        if (m.caption or "").strip() == caption and (m.timestamp is None or m.timestamp >= since)
    ]
    if not candidates:
        attempt.notes["mediaIdUnknown"] = True
        return None
    async with publisher.connect() as conn:
        taken = await repository.media_ids_taken(
            conn,
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
