"""Pre-staged containers: the rules (docs/staging.md).

A post's containers (carousel children and parent, a reel with its cover...) are created a lead
before `scheduled_for` (`STAGING_LEAD_SECONDS_IMAGE` / `_VIDEO` / `_CAROUSEL`; 0 turns it off for
that kind), stored in the post's container columns and waited for until FINISHED by the staging
job (`instasched.publishing.stager`); at the due time the publish job finds the container and
only `media_publish` remains.

```
staging_status  NULL ──stage job claims (staging lease)──> staging ──FINISHED──> staged
                                            │                  └─Meta rejects─> failed
                                            └─ account's containers of 24 h used up / code 9 ─>
                                                                                    deferred
edit of a field a container carries, reschedule past the container's life, cancel:
                staged / staging / failed / deferred ──discard──> NULL (stage again when needed)
```

`jobs_for` is the one answer to "which jobs does this post need": the post's create and edit,
the reconciler and a promoter all enqueue what it says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from instasched.config import Settings
from instasched.models import PostStatus
from instasched.worker.queue import PostJob

STAGING = "staging"
STAGED = "staged"
FAILED = "failed"
DEFERRED = "deferred"

# Meta expires a container 24 h after its creation; a staged container is used only while it
# has at least this margin left at the due time (retries, clock skew), else it is staged again.
CONTAINER_LIFE = timedelta(hours=24)
EXPIRY_MARGIN = timedelta(hours=1)
USABLE_FOR = CONTAINER_LIFE - EXPIRY_MARGIN
# Staging starting closer to the due time than this gains nothing: the publish job makes the
# containers itself.
MIN_AHEAD = timedelta(seconds=5)

# The post fields a container carries: an edit of any of them discards staged containers.
CONTAINER_FIELDS = (
    "caption",
    "media_type",
    "media_urls",
    "media_ids",
    "location_id",
    "user_tags",
    "product_tags",
    "collaborators",
    "alt_text",
    "cover_url",
    "thumb_offset_ms",
    "share_to_feed",
    "trial_graduation_strategy",
    "is_ai_generated",
)


def unstaged() -> dict[str, Any]:
    """The values that forget a post's staging (its containers, if any, are kept: read first
    by the publish path, never published straight)."""
    return {
        "staging_status": None,
        "staging_lease_expires_at": None,
        "staged_at": None,
        "staging_error": None,
    }


def discarded() -> dict[str, Any]:
    """The values that discard a post's containers and staging (the containers themselves stay
    at Meta and expire)."""
    return {
        "container_id": None,
        "child_container_ids": [],
        "container_created_at": None,
        **unstaged(),
    }


def lead(settings: Settings, media_type: str | None) -> timedelta:
    """How long before its due time a post of this kind is staged (0: not staged)."""
    kind = (media_type or "IMAGE").upper()
    if kind == "CAROUSEL":
        seconds = settings.staging_lead_seconds_carousel
    elif kind in ("REELS", "VIDEO", "STORIES"):  # a story may be a video: the longer lead
        seconds = settings.staging_lead_seconds_video
    else:
        seconds = settings.staging_lead_seconds_image
    return timedelta(seconds=seconds)


def container_usable(created_at: datetime | None, due: datetime) -> bool:
    """Whether a container created at `created_at` is still alive (with the margin) at `due`."""
    return created_at is not None and created_at + USABLE_FOR >= due


def needs_staging(post: Any) -> bool:
    """Whether the post's containers are (still, or again) to be made ahead of its due time."""
    if post.status != PostStatus.SCHEDULED:
        return False
    due = post.next_attempt_at or post.scheduled_for
    status = post.staging_status
    if status is None:
        return post.container_id is None
    if status == STAGING:
        return True  # a staging whose worker died is taken over when its lease expired
    if status == STAGED:
        return not container_usable(post.container_created_at, due)
    return False  # failed (an edit stages again) or deferred (to the due time)


def jobs_for(post: Any, *, settings: Settings, now: datetime) -> list[PostJob]:
    """The jobs a `scheduled` post needs: its publish job at its due time and, while its
    containers are to be staged, a staging job at `scheduled_for` minus the lead (at once when
    that is past). Others need none. `post`: a model, a row read through asyncpg, or any
    object with the post's `id`, `status`, `scheduled_for`, `next_attempt_at`, `media_type`,
    `container_id`, `container_created_at` and `staging_status` (and `instagram_account_id`,
    carried by the publish job when the object has it)."""
    if post.status != PostStatus.SCHEDULED:
        return []
    due = post.next_attempt_at or post.scheduled_for
    jobs = [PostJob("publish", post.id, due, getattr(post, "instagram_account_id", None))]
    ahead = lead(settings, post.media_type)
    if ahead > timedelta(0) and needs_staging(post):
        stage_at = max(now, due - ahead)
        if due - stage_at >= MIN_AHEAD:
            jobs.append(PostJob("stage", post.id, stage_at))
    return jobs


def staged_and_usable(post: Any, recovering: bool, now: datetime) -> bool:
    """Whether the publish path may go straight to media_publish with the post's container:
    staged (waited for until FINISHED), on the post's first attempt and not a recovery (so
    never published; a retry or recovery reads the container first), and alive."""
    return (
        post.staging_status == STAGED
        and not recovering
        and (post.publish_attempts or 1) <= 1
        and container_usable(post.container_created_at, now)
    )


def discard_on_edit(
    post: Any, before: dict[str, Any], *, due: datetime, moved: bool
) -> dict[str, Any] | None:
    """The values that discard the post's containers and staging after an edit, or None to
    keep them: an edit of a field a container carries, or a due time past the container's
    life, discards (also a container the publish path made before a retry: it carries the old
    content). A deferred staging is tried again at a new time."""
    if post.staging_status is None and post.container_id is None:
        return None
    if any(getattr(post, name) != before.get(name) for name in CONTAINER_FIELDS):
        return discarded()
    if post.container_id is not None and not container_usable(post.container_created_at, due):
        return discarded()
    if moved and post.staging_status == DEFERRED:
        return discarded()
    return None


def snapshot(post: Any) -> dict[str, Any]:
    """The container fields of a post, before an edit (compared by `discard_on_edit`)."""
    return {
        name: (list(value) if isinstance(value, list) else value)
        for name in CONTAINER_FIELDS
        for value in [getattr(post, name)]
    }


def expires_at(post: Any) -> datetime | None:
    created = post.container_created_at
    return created + CONTAINER_LIFE if created is not None else None
