from __future__ import annotations

from datetime import datetime

from pydantic import Field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, examples
from instasched.posts.schemas import Post


class QuotaLeft(ApiModel):
    model_config = examples(
        {
            "at": ex.SCHEDULED_FOR,
            "windowStart": "2026-12-20T09:00:00Z",
            "windowEnd": "2026-12-21T09:00:00Z",
            "count": 22,
            "quota": 25,
            "remaining": 3,
        }
    )

    at: datetime = Field(description="The time asked about (UTC)")
    window_start: datetime = Field(description="Start of the fullest 24 h window holding `at`")
    window_end: datetime = Field(description="End of that window (start + 24 h)")
    count: int = Field(description="Scheduled, publishing and published posts in that window")
    quota: int = Field(
        description="Posts Instagram publishes per 24 h for this account "
        "(`content_publishing_limit` as last read, else PUBLISH_QUOTA_DEFAULT)"
    )
    remaining: int = Field(description="quota - count: posts that still fit (0 or less: full)")


class ProfileMediaItem(ApiModel):
    model_config = examples(
        {
            "id": "17920238422030506",
            "mediaType": "IMAGE",
            "productType": "FEED",
            "mediaUrl": ex.S3_URL,
            "thumbnailUrl": None,
            "permalink": "https://www.instagram.com/p/DC4kQx2MZ7a/",
            "timestamp": "2026-12-20T14:00:03Z",
            "caption": ex.CAPTION,
            "postId": ex.POST_ID,
            "mediaIds": [ex.MEDIA_ID],
        }
    )

    id: str = Field(description="Instagram media id (or, when Instagram did not answer, ours)")
    media_type: str | None = Field(description="IMAGE, VIDEO or CAROUSEL_ALBUM")
    product_type: str | None = Field(description="FEED, REELS or STORY")
    media_url: str | None = Field(description="Instagram's URL of the media (images)")
    thumbnail_url: str | None = Field(description="Instagram's thumbnail (videos)")
    permalink: str | None
    timestamp: datetime | None = Field(description="When it was published")
    caption: str | None
    post_id: str | None = Field(description="Our post that published it, if any")
    media_ids: list[str] = Field(description="That post's media asset ids (for thumbnails)")


class ProfileMediaList(ApiModel):
    model_config = examples(
        {"items": [ProfileMediaItem.model_json_schema()["examples"][0]], "notice": None}
    )

    items: list[ProfileMediaItem] = Field(description="Published media, newest first")
    notice: str | None = Field(
        description="Why only our own published posts are listed (Instagram did not answer)"
    )


class PostChanges(ApiModel):
    model_config = examples(
        {
            "now": "2026-12-20T14:00:05Z",
            "posts": [Post.model_json_schema()["examples"][0]],
            "more": False,
        }
    )

    now: datetime = Field(
        description="The server's time of this answer: send it back as `since` (a few seconds "
        "earlier, as changes committed meanwhile carry the time their transaction began)"
    )
    posts: list[Post] = Field(description="Posts changed after `since`, oldest change first")
    more: bool = Field(description="More changes than `limit`: ask again from the last one")
