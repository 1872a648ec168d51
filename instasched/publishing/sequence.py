"""Several stories as one post: a STORIES post with 2 or more media publishes them in order.

Each story is its own container and its own `media_publish`; the post is published when every
story is. The state of each story is stored in the post's metadata (`storySequence`, one entry
per media, in order) after each step, before the next Graph call that depends on it:

    {"index", "mediaId", "containerId", "instagramMediaId", "status", "error"}
    status: pending → container (created) → published | failed

So an attempt that is retried (a transient error, the quota, a worker that died) resumes at the
first story not published: a published story is never published again, a created container is
read before it is published (as `publishing.containers` does for one container). A permanent error
on a story fails the post with a message naming what was published and what was not (Meta
cannot take back the stories already up), and the per-story state says the same
(`Post.storyItems`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from instasched.integrations.instagram import GraphMediaNotReady, GraphPermanentError
from instasched.integrations.instagram.media import ContainerSpec, ContainerStatusCode
from instasched.kit.time import utcnow
from instasched.models import InstagramAccount, ScheduledPost
from instasched.publishing.attempt import Attempt, LeaseLost
from instasched.publishing.containers import assets_of, settled_status, wait_finished
from instasched.publishing.sources import PostProblem, resolve_sources, user_tags_param

if TYPE_CHECKING:
    from instasched.publishing.service import Publisher

KEY = "storySequence"


def _media_of(post: ScheduledPost) -> list[str]:
    """The asset ids, or the media URLs of a post made from URLs."""
    return [str(i) for i in post.media_ids or post.media_urls or []]


def is_sequence(post: ScheduledPost) -> bool:
    return (post.media_type or "").upper() == "STORIES" and len(_media_of(post)) > 1


def items_of(post: ScheduledPost) -> list[dict[str, Any]]:
    """The stored state of each story, one entry per media id (pending when never tried)."""
    stored = (post.meta or {}).get(KEY)
    ids = _media_of(post)
    if isinstance(stored, list) and [s.get("mediaId") for s in stored] == ids:
        return [dict(s) for s in stored]
    return [
        {
            "index": i,
            "mediaId": media_id,
            "containerId": None,
            "instagramMediaId": None,
            "status": "pending",
            "error": None,
        }
        for i, media_id in enumerate(ids)
    ]


def summary(items: list[dict[str, Any]], failed: int, reason: str) -> str:
    n = len(items)
    published = [i["index"] + 1 for i in items if i["status"] == "published"]
    done = (
        "no story was published"
        if not published
        else f"stor{'y' if len(published) == 1 else 'ies'} "
        + ", ".join(map(str, published))
        + f" of {n} {'was' if len(published) == 1 else 'were'} published"
    )
    rest = [i["index"] + 1 for i in items if i["status"] not in ("published", "failed")]
    tail = f"; {', '.join(map(str, rest))} not published" if rest else ""
    return f"Story {failed + 1} of {n} failed: {reason}. {done.capitalize()}{tail}."


async def _save(publisher: Publisher, attempt: Attempt, items: list[dict[str, Any]]) -> None:
    meta = dict(attempt.post.meta or {})
    meta[KEY] = items
    await publisher.write(attempt, {"meta": meta, "updated_at": utcnow()})
    attempt.post.meta = meta


async def publish(
    publisher: Publisher, attempt: Attempt, account: InstagramAccount, token: str
) -> str | None:
    """Publish the stories not yet published, in order; the first story's media id."""
    post = attempt.post
    ig_user = account.ig_user_id
    max_wait = publisher.settings.container_poll_max_seconds
    items = items_of(post)
    specs = await _specs(publisher, attempt)
    for item, spec in zip(items, specs, strict=True):
        if item["status"] == "published":
            continue
        try:
            media_id = await _one(publisher, attempt, items, item, spec, ig_user, token, max_wait)
        except GraphPermanentError as exc:
            item["status"], item["error"] = "failed", exc.human()
            await _save(publisher, attempt, items)
            raise PostProblem(summary(items, item["index"], exc.human())) from exc
        item.update(status="published", instagramMediaId=media_id, error=None)
        await _save(publisher, attempt, items)
    first = items[0].get("instagramMediaId")
    return str(first) if first else None


async def _specs(publisher: Publisher, attempt: Attempt) -> list[ContainerSpec]:
    """One STORIES container per media (user tags on the first story only, the AI label on
    each), URLs signed now."""
    post = attempt.post
    assets = await assets_of(publisher, attempt)
    ttl = publisher.settings.publish_url_ttl_seconds
    sources = await resolve_sources(publisher.app.storage, post, assets, ttl_seconds=ttl)
    tags = user_tags_param(post.user_tags)
    return [
        ContainerSpec(
            media_type="STORIES",
            image_url=source.url if source.kind != "video" else None,
            video_url=source.url if source.kind == "video" else None,
            user_tags=tags if index == 0 else [],
            is_ai_generated=bool(post.is_ai_generated),
        )
        for index, source in enumerate(sources)
    ]


async def _one(
    publisher: Publisher,
    attempt: Attempt,
    items: list[dict[str, Any]],
    item: dict[str, Any],
    spec: ContainerSpec,
    ig_user: str,
    token: str,
    max_wait: float,
) -> str | None:
    graph = publisher.graph_for(attempt)  # the account's host (login kind)
    container_id = item.get("containerId")
    if container_id:
        status = await settled_status(graph, container_id, token, max_seconds=max_wait)
        if status.status_code == ContainerStatusCode.PUBLISHED:
            # Published by an attempt that died before it recorded it: the id is not known.
            return None
        if status.status_code != ContainerStatusCode.FINISHED:
            container_id = None
    if not container_id:
        container_id = await graph.create_container(ig_user, token, spec)
        item.update(containerId=container_id, status="container")
        await _save(publisher, attempt, items)
        if spec.video_url:
            await wait_finished(
                graph,
                container_id,
                token,
                max_seconds=max_wait,
                name="Story container",
                explanation="Instagram could not process a story's media; a new upload will be "
                "made.",
            )
    if attempt.lost:
        raise LeaseLost
    try:
        return await graph.publish_container(ig_user, container_id, token)
    except GraphMediaNotReady:
        await graph.wait_for_container(container_id, token, max_seconds=max_wait)
        status = await graph.container_status(container_id, token)
        if status.status_code == ContainerStatusCode.PUBLISHED:
            return None
        return await graph.publish_container(ig_user, container_id, token)


__all__ = ["is_sequence", "items_of", "publish"]
