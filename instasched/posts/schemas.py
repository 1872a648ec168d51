"""Scheduled post request and response bodies (JSON in camelCase, as the spec)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples
from instasched.models import ScheduledPost

if TYPE_CHECKING:
    from instasched.posts.quota import QuotaWindow
    from instasched.posts.repository import PostRow

MediaTypeName = Literal["IMAGE", "VIDEO", "REELS", "CAROUSEL", "STORIES"]
StatusName = Literal[
    "scheduled",
    "publishing",
    "published",
    "failed",
    "cancelled",
    "draft",
    "needs_approval",
    "changes_requested",
    "approval_expired",
]
TemplateValue = str | int | float

_USER_TAG_EXAMPLE: dict[str, Any] = {"username": "alpine.knits", "x": 0.42, "y": 0.67}
_FIRST_COMMENT = "More colours in our bio link 🧶 #knitwear #winterstyle"
_COLLABORATOR = "snowline.studio"
_ALT_TEXT = "A woman in a red cable-knit sweater on a snowy mountain path"
POST_EXAMPLE: dict[str, Any] = {
    "id": ex.POST_ID,
    "instagramAccountId": ex.ACCOUNT_ID,
    "scheduledFor": ex.SCHEDULED_FOR,
    "caption": ex.CAPTION,
    "mediaUrls": [ex.S3_URL],
    "mediaIds": [ex.MEDIA_ID],
    "mediaType": "IMAGE",
    "status": "scheduled",
    "publishAttempts": 0,
    "instagramMediaId": None,
    "instagramMediaUrl": None,
    "permalink": None,
    "publishedAt": None,
    "lastPublishError": None,
    "nextAttemptAt": None,
    "productTags": [],
    "locationId": None,
    "templateId": None,
    "templateVariables": {},
    "firstComment": _FIRST_COMMENT,
    "userTags": [_USER_TAG_EXAMPLE],
    "collaborators": [_COLLABORATOR],
    "altText": _ALT_TEXT,
    "coverUrl": None,
    "thumbOffsetMs": None,
    "shareToFeed": None,
    "trialParams": None,
    "isAiGenerated": False,
    "storyItems": None,
    "initialLikes": 0,
    "initialComments": 0,
    "initialReach": 0,
    "metadata": {},
    "createdAt": ex.POST_CREATED_AT,
    "updatedAt": ex.POST_CREATED_AT,
    "cancelledAt": None,
    "approval": {
        "required": False,
        "submittedBy": None,
        "submittedAt": None,
        "decidedBy": None,
        "decidedAt": None,
        "comment": None,
    },
    "staging": None,
    "quotaWarning": None,
}
_STAGED: dict[str, Any] = {
    "status": "staged",
    "containerId": "17889455560051444",
    "stagedAt": "2026-12-20T13:58:03Z",
    "expiresAt": "2026-12-21T13:58:01Z",
    "error": None,
}
_STAGING_FAILED: dict[str, Any] = {
    "status": "failed",
    "containerId": None,
    "stagedAt": None,
    "expiresAt": None,
    "error": "Instagram could not download the media: the image is larger than 8 MB. Replace "
    "the media (Instagram said: The media could not be fetched from the URI; code 9004/2207052)",
}
_PUBLISHED_AT = "2026-12-20T14:00:04Z"
PUBLISHED_POST_EXAMPLE: dict[str, Any] = {
    **POST_EXAMPLE,
    "status": "published",
    "publishAttempts": 1,
    "instagramMediaId": "17920238422030506",
    "instagramMediaUrl": "https://scontent.cdninstagram.com/v/t51.29350-15/470178_n.jpg",
    "permalink": "https://www.instagram.com/p/DC4kQx2MZ7a/",
    "publishedAt": _PUBLISHED_AT,
    "initialLikes": 214,
    "initialComments": 18,
    "initialReach": 3120,
    "updatedAt": _PUBLISHED_AT,
}


class ProductTagIn(RequestModel):
    model_config = examples({"productId": "3231775643511089", "x": 0.5, "y": 0.72})

    product_id: str = Field(description="Instagram catalog product id")
    x: float = Field(description="Horizontal position, 0 (left) to 1 (right)")
    y: float = Field(description="Vertical position, 0 (top) to 1 (bottom)")


GraduationStrategy = Literal["MANUAL", "SS_PERFORMANCE"]
_TRIAL_EXAMPLE: dict[str, Any] = {"graduationStrategy": "SS_PERFORMANCE"}


class TrialParams(RequestModel):
    """A trial reel: shown to non-followers first (Meta's `trial_params`)."""

    model_config = examples(_TRIAL_EXAMPLE)

    graduation_strategy: GraduationStrategy = Field(
        description="`MANUAL`: it stays a trial until you share it to your followers in the "
        "Instagram app; `SS_PERFORMANCE`: Instagram shares it to your followers when it does "
        "well with non-followers"
    )


class StoryItem(ApiModel):
    """One story of a STORIES post with several media, published in order."""

    model_config = examples(
        {
            "index": 0,
            "mediaId": ex.MEDIA_ID,
            "status": "published",
            "instagramMediaId": "17920238422030506",
            "error": None,
        }
    )

    index: int
    media_id: str
    status: Literal["pending", "container", "published", "failed"] = Field(
        description="`container`: its container is made, not yet published"
    )
    instagram_media_id: str | None
    error: str | None


class UserTagIn(RequestModel):
    model_config = examples(_USER_TAG_EXAMPLE)

    username: str = Field(description="Instagram username to tag", examples=["natgeo"])
    x: float | None = Field(None, description="0..1; required on IMAGE posts")
    y: float | None = Field(None, description="0..1; required on IMAGE posts")


_SCHEDULED_FOR = (
    "When to publish, ISO 8601. With an offset (`Z`, `+01:00`) it is exact; without one it is "
    "read in the Instagram account's timezone (a time skipped by a DST change moves forward by "
    "the gap, a repeated time means its first occurrence)."
)
_MEDIA_IDS = "Media asset ids from the media upload, in order"
_MEDIA_URLS = "The `s3Url` (or a presigned URL of it) of your uploaded media, in order"


class _PostFields(RequestModel):
    caption: str | None = Field(None, description="Caption (<= 2,200 chars); none on STORIES")
    media_ids: list[str] | None = Field(None, description=_MEDIA_IDS)
    media_urls: list[str] | None = Field(None, description=_MEDIA_URLS)
    product_tags: list[ProductTagIn] | None = None
    location_id: str | None = Field(None, description="Instagram location (Facebook page) id")
    template_id: uuid.UUID | None = Field(
        None, description="Render the caption from this template (send no caption)"
    )
    template_variables: dict[str, TemplateValue] | None = Field(
        None, examples=[{"productName": "Premium Course", "discount": "20%"}]
    )
    first_comment: str | None = Field(None, description="Posted as the first comment")
    user_tags: list[UserTagIn] | None = Field(None, description="People to tag (<= 20)")
    collaborators: list[str] | None = Field(
        None,
        description="Collaborator usernames (<= 5), invited to co-author the post: IMAGE, "
        "VIDEO/REELS and CAROUSEL posts only (none on STORIES)",
        examples=[[_COLLABORATOR]],
    )
    alt_text: str | None = Field(None, description="Alt text (IMAGE posts only)")
    cover_url: str | None = Field(
        None, description="Reel cover: one of your image assets, or a public https URL"
    )
    thumb_offset_ms: int | None = Field(None, description="Reel thumbnail frame, in ms")
    share_to_feed: bool | None = Field(None, description="Also show the reel in the feed")
    trial_params: TrialParams | None = Field(
        None,
        description="Publish a REELS (or single VIDEO) post as a trial reel, shown to "
        "non-followers first; not with `shareToFeed: true`",
        examples=[_TRIAL_EXAMPLE],
    )
    is_ai_generated: bool | None = Field(
        None,
        description='Label the post as made with AI (Instagram\'s "AI info" label); any post '
        "type, set on the carousel itself, never on its items",
    )
    allow_over_quota: bool | None = Field(
        None,
        description="Save the post even when its time would put more posts in a 24 h window "
        "than the account's publishing quota (the answer then carries `quotaWarning`); "
        "without it that is a 422 naming the window and the count",
    )


class PostCreate(_PostFields):
    model_config = examples(
        {
            "instagramAccountId": ex.ACCOUNT_ID,
            "scheduledFor": ex.SCHEDULED_FOR,
            "mediaType": "IMAGE",
            "mediaIds": [ex.MEDIA_ID],
            "caption": ex.CAPTION,
            "firstComment": _FIRST_COMMENT,
            "userTags": [_USER_TAG_EXAMPLE],
            "collaborators": [_COLLABORATOR],
            "altText": _ALT_TEXT,
        },
        {
            "instagramAccountId": ex.ACCOUNT_ID,
            "useNextSlot": True,
            "mediaType": "IMAGE",
            "mediaIds": [ex.MEDIA_ID],
            "templateId": ex.TEMPLATE_ID,
            "templateVariables": {
                "productName": "the Alpine Knit Collection",
                "discount": "20%",
                "endDate": "Sunday",
            },
        },
        {
            "instagramAccountId": ex.ACCOUNT_ID,
            "scheduledFor": ex.SCHEDULED_FOR,
            "mediaType": "REELS",
            "mediaIds": [ex.MEDIA_ID],
            "caption": ex.CAPTION,
            "trialParams": _TRIAL_EXAMPLE,
            "isAiGenerated": True,
        },
    )

    instagram_account_id: uuid.UUID
    scheduled_for: str | None = Field(
        None, description=_SCHEDULED_FOR, examples=["2026-12-20T14:00:00Z"]
    )
    use_next_slot: bool = Field(
        False, description="Instead of scheduledFor: the next free slot of the posting schedule"
    )
    media_type: MediaTypeName
    draft: bool = Field(
        False,
        description="Save as a draft: never published, not counted against the publishing "
        "quota, `scheduledFor` optional; submit it later (POST .../posts/{postId}/submit)",
    )


class PostUpdate(_PostFields):
    """Only the fields sent are changed; `null` clears an optional field."""

    model_config = examples({"scheduledFor": "2026-12-20T18:30:00", "firstComment": None})

    scheduled_for: str | None = Field(None, description=_SCHEDULED_FOR)
    use_next_slot: bool | None = None
    media_type: MediaTypeName | None = None


class QuotaWarning(ApiModel):
    """The fullest 24 h window holding the post's time, over the account's publishing quota."""

    model_config = examples(
        {
            "message": "This would put 101 posts in the 24 hours from 2026-12-20 02:00 UTC to "
            "2026-12-21 02:00 UTC; Instagram publishes at most 100 per 24 hours for this account, "
            "so a post would wait until the window frees up. Choose another time, or send "
            "allowOverQuota: true to save it anyway.",
            "windowStart": "2026-12-20T02:00:00Z",
            "windowEnd": "2026-12-21T02:00:00Z",
            "count": 101,
            "quota": 100,
        }
    )

    message: str
    window_start: datetime
    window_end: datetime
    count: int = Field(description="Posts in the window, this one counted")
    quota: int = Field(description="The account's publishing quota per 24 h")

    @classmethod
    def of(cls, window: QuotaWindow) -> QuotaWarning:
        return cls(
            message=window.message(),
            window_start=window.start,
            window_end=window.end,
            count=window.posts,
            quota=window.quota,
        )


class PostStaging(ApiModel):
    """The post's containers made ahead of its due time (docs/staging.md)."""

    model_config = examples(_STAGED, _STAGING_FAILED)

    status: Literal["staging", "staged", "failed", "deferred"] = Field(
        description="staging (being made), staged (FINISHED: only media_publish remains at "
        "the due time), failed (Instagram rejected the media: edit the post before its time), "
        "deferred (left to the due time; `error` says why)"
    )
    container_id: str | None = Field(description="The container to publish, once made")
    staged_at: datetime | None = Field(description="When the container was FINISHED")
    expires_at: datetime | None = Field(
        description="When Instagram expires the container (24 h after its creation)"
    )
    error: str | None = Field(description="Why staging failed or was deferred")

    @classmethod
    def of(cls, post: ScheduledPost | PostRow) -> PostStaging | None:
        status = post.staging_status
        if status is None:
            return None
        created = post.container_created_at
        return cls(
            status=status,
            container_id=post.container_id,
            staged_at=post.staged_at,
            expires_at=created + timedelta(hours=24) if created is not None else None,
            error=post.staging_error,
        )


class PostApproval(ApiModel):
    """Who submitted the post for approval and when, who decided and when, and the comment."""

    model_config = examples(
        {
            "required": True,
            "submittedBy": ex.USER_ID,
            "submittedAt": "2026-12-01T10:00:00Z",
            "decidedBy": ex.USER_ID,
            "decidedAt": "2026-12-01T11:00:00Z",
            "comment": "Please use the red sweater photo instead",
        }
    )

    required: bool = Field(
        description="The post went through approval (it was submitted for approval)"
    )
    submitted_by: uuid.UUID | None
    submitted_at: datetime | None
    decided_by: uuid.UUID | None = Field(description="Who approved it or sent it back")
    decided_at: datetime | None
    comment: str | None = Field(description="The approver's comment (why it was sent back)")

    @classmethod
    def of(cls, post: ScheduledPost | PostRow) -> PostApproval:
        return cls(
            required=post.approval_submitted_at is not None,
            submitted_by=post.approval_submitted_by,
            submitted_at=post.approval_submitted_at,
            decided_by=post.approval_decided_by,
            decided_at=post.approval_decided_at,
            comment=post.approval_comment,
        )


class Post(ApiModel):
    model_config = examples(
        POST_EXAMPLE,
        PUBLISHED_POST_EXAMPLE,
        {**POST_EXAMPLE, "staging": _STAGED},
        {**POST_EXAMPLE, "staging": _STAGING_FAILED},
    )

    id: uuid.UUID
    instagram_account_id: uuid.UUID
    scheduled_for: datetime | None = Field(description="null only for a draft without a time")
    caption: str
    media_urls: list[str]
    media_ids: list[str]
    media_type: MediaTypeName
    status: StatusName
    publish_attempts: int
    instagram_media_id: str | None
    instagram_media_url: str | None
    permalink: str | None
    published_at: datetime | None
    last_publish_error: str | None
    next_attempt_at: datetime | None
    product_tags: list[Any]
    location_id: str | None
    template_id: uuid.UUID | None
    template_variables: dict[str, Any]
    first_comment: str | None
    user_tags: list[Any]
    collaborators: list[str]
    alt_text: str | None
    cover_url: str | None
    thumb_offset_ms: int | None
    share_to_feed: bool | None
    trial_params: TrialParams | None = Field(
        None, description="Set when the post is a trial reel", examples=[_TRIAL_EXAMPLE]
    )
    is_ai_generated: bool = Field(False, description="Instagram's AI label")
    story_items: list[StoryItem] | None = Field(
        None,
        description="STORIES posts with several media: each story's state, in order (the post "
        "is published when every story is; a failed one names what was published)",
    )
    initial_likes: int
    initial_comments: int
    initial_reach: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    staging: PostStaging | None = Field(
        None,
        description="Its containers made ahead of the due time (null: none made ahead yet)",
    )
    quota_warning: QuotaWarning | None = Field(
        None,
        description="Only in the answer of a create or edit sent with `allowOverQuota: true` "
        "whose time is over the publishing quota",
    )
    approval: PostApproval = Field(
        description="Drafts and approvals: who submitted and decided, when, and the comment"
    )

    @classmethod
    def of(cls, post: ScheduledPost | PostRow, quota_window: QuotaWindow | None = None) -> Post:
        return cls(
            id=post.id,
            instagram_account_id=post.instagram_account_id,
            scheduled_for=post.scheduled_for,
            caption=post.caption,
            media_urls=[str(u) for u in post.media_urls or []],
            media_ids=[str(i) for i in post.media_ids or []],
            media_type=post.media_type,
            status=post.status,
            publish_attempts=post.publish_attempts or 0,
            instagram_media_id=post.instagram_media_id,
            instagram_media_url=post.instagram_media_url,
            permalink=post.permalink,
            published_at=post.published_at,
            last_publish_error=post.last_publish_error,
            next_attempt_at=post.next_attempt_at,
            product_tags=list(post.product_tags or []),
            location_id=post.location_id,
            template_id=post.template_id,
            template_variables=dict(post.template_variables or {}),
            first_comment=post.first_comment,
            user_tags=list(post.user_tags or []),
            collaborators=[str(c) for c in post.collaborators or []],
            alt_text=post.alt_text,
            cover_url=post.cover_url,
            thumb_offset_ms=post.thumb_offset_ms,
            share_to_feed=post.share_to_feed,
            trial_params=(
                TrialParams(graduation_strategy=post.trial_graduation_strategy)
                if post.trial_graduation_strategy
                else None
            ),
            is_ai_generated=bool(post.is_ai_generated),
            story_items=_story_items(post),
            initial_likes=post.initial_likes or 0,
            initial_comments=post.initial_comments or 0,
            initial_reach=post.initial_reach or 0,
            metadata=dict(post.meta or {}),
            created_at=post.created_at,
            updated_at=post.updated_at,
            cancelled_at=post.cancelled_at,
            staging=PostStaging.of(post),
            quota_warning=QuotaWarning.of(quota_window) if quota_window is not None else None,
            approval=PostApproval.of(post),
        )


def _story_items(post: ScheduledPost | PostRow) -> list[StoryItem] | None:
    media = [str(m) for m in post.media_ids or post.media_urls or []]
    if (post.media_type or "").upper() != "STORIES" or len(media) < 2:
        return None
    stored = (post.meta or {}).get("storySequence")
    by_index = {s.get("index"): s for s in stored} if isinstance(stored, list) else {}
    out: list[StoryItem] = []
    for index, media_id in enumerate(media):
        item = by_index.get(index) or {}
        out.append(
            StoryItem(
                index=index,
                media_id=str(media_id),
                status=item.get("status") or "pending",
                instagram_media_id=item.get("instagramMediaId"),
                error=item.get("error"),
            )
        )
    return out


class PostList(ApiModel):
    model_config = examples({"posts": [POST_EXAMPLE], "total": 1, "page": 1, "limit": 20})

    posts: list[Post]
    total: int
    page: int
    limit: int


class PostCancelled(ApiModel):
    model_config = examples(
        {
            "message": "Post cancelled successfully",
            "post": {
                **POST_EXAMPLE,
                "status": "cancelled",
                "updatedAt": "2026-12-02T11:20:00Z",
                "cancelledAt": "2026-12-02T11:20:00Z",
            },
        }
    )

    message: str = Field(examples=["Post cancelled successfully"])
    post: Post
