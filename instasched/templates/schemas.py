from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, StrictFloat, StrictInt, StrictStr, computed_field

from instasched.kit import examples as ex
from instasched.kit.schemas import ApiModel, RequestModel, examples


class TemplateCategory(StrEnum):
    PRODUCT_LAUNCH = "product_launch"
    PROMOTION = "promotion"
    TIP = "tip"
    TESTIMONIAL = "testimonial"
    BEHIND_SCENES = "behind_scenes"
    ANNOUNCEMENT = "announcement"


class TemplateMediaType(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    CAROUSEL = "CAROUSEL"
    REELS = "REELS"
    STORIES = "STORIES"


CAPTION_EXAMPLE = "Introducing {{productName}}! 🎉\n\nGet {{discount}} off until {{endDate}}!"
MAX_TEMPLATE_LENGTH = 10_000

_HASHTAGS_EXAMPLE: list[Any] = ["newcollection", "winterstyle", "knitwear"]
_VARIABLES_EXAMPLE: dict[str, Any] = {
    "productName": "the Alpine Knit Collection",
    "discount": "20%",
    "endDate": "Sunday",
}
TEMPLATE_EXAMPLE: dict[str, Any] = {
    "id": ex.TEMPLATE_ID,
    "workspaceId": ex.USER_ID,
    "userId": ex.USER_ID,
    "instagramAccountId": ex.ACCOUNT_ID,
    "name": "Product Launch",
    "category": "product_launch",
    "captionTemplate": CAPTION_EXAMPLE,
    "variables": ["productName", "discount", "endDate"],
    "defaultMediaType": "IMAGE",
    "suggestedHashtags": _HASHTAGS_EXAMPLE,
    "suggestedMentions": ["my_brand"],
    "isActive": True,
    "usageCount": 3,
    "lastUsedAt": "2026-12-03T16:40:00Z",
    "createdAt": ex.TEMPLATE_CREATED_AT,
    "updatedAt": ex.TEMPLATE_CREATED_AT,
}


class TemplateCreate(RequestModel):
    model_config = examples(
        {
            "name": "Product Launch",
            "category": "product_launch",
            "captionTemplate": CAPTION_EXAMPLE,
            "suggestedHashtags": _HASHTAGS_EXAMPLE,
            "suggestedMentions": ["my_brand"],
            "defaultMediaType": "IMAGE",
            "instagramAccountId": ex.ACCOUNT_ID,
        }
    )

    name: str = Field(min_length=1, max_length=255, examples=["Product Launch"])
    category: TemplateCategory | None = None
    caption_template: str = Field(
        min_length=1,
        max_length=MAX_TEMPLATE_LENGTH,
        description="Caption with `{{ variable }}` placeholders",
        examples=[CAPTION_EXAMPLE],
    )
    suggested_hashtags: list[str] = Field(
        default_factory=list, max_length=100, examples=[["newproduct", "launch"]]
    )
    suggested_mentions: list[str] = Field(
        default_factory=list, max_length=100, examples=[["yourbrand"]]
    )
    default_media_type: TemplateMediaType = TemplateMediaType.IMAGE
    instagram_account_id: uuid.UUID | None = Field(
        None, description="Restrict the template to one of your accounts (optional)"
    )
    is_active: bool = True


class TemplateUpdate(RequestModel):
    model_config = examples(
        {
            "name": "Product Launch (winter)",
            "suggestedHashtags": [*_HASHTAGS_EXAMPLE, "sale"],
        }
    )

    name: str | None = Field(None, min_length=1, max_length=255)
    category: TemplateCategory | None = None
    caption_template: str | None = Field(None, min_length=1, max_length=MAX_TEMPLATE_LENGTH)
    suggested_hashtags: list[str] | None = Field(None, max_length=100)
    suggested_mentions: list[str] | None = Field(None, max_length=100)
    default_media_type: TemplateMediaType | None = None
    instagram_account_id: uuid.UUID | None = None
    is_active: bool | None = None


class Template(ApiModel):
    model_config = examples(TEMPLATE_EXAMPLE)

    id: uuid.UUID
    workspace_id: uuid.UUID = Field(description="The workspace the template belongs to")
    instagram_account_id: uuid.UUID | None
    name: str
    category: str | None
    caption_template: str
    variables: list[str]
    default_media_type: str | None
    suggested_hashtags: list[str]
    suggested_mentions: list[str]
    is_active: bool
    usage_count: int
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @computed_field(  # type: ignore[prop-decorator, untyped-decorator]
        description="Kept for clients written before workspaces: the workspace's id (the user's "
        "own id in their personal workspace). Read `workspaceId`."
    )
    @property
    def user_id(self) -> uuid.UUID:
        return self.workspace_id


class TemplateRender(RequestModel):
    model_config = examples({"variables": _VARIABLES_EXAMPLE})

    variables: dict[str, StrictStr | StrictInt | StrictFloat] = Field(
        default_factory=dict,
        max_length=500,
        examples=[{"productName": "Premium Course", "discount": "20%", "endDate": "Jan 31"}],
    )


class RenderedTemplate(ApiModel):
    model_config = examples(
        {
            "caption": "Introducing the Alpine Knit Collection! 🎉\n\nGet 20% off until "
            "Sunday!\n\n#newcollection #winterstyle #knitwear\n@my_brand",
            "hashtags": _HASHTAGS_EXAMPLE,
            "mentions": ["my_brand"],
            "missing": [],
            "unused": [],
            "length": 117,
        }
    )

    caption: str = Field(description="The caption with values and suggested hashtags/mentions")
    hashtags: list[str] = Field(description="Distinct hashtags of the caption, without '#'")
    mentions: list[str] = Field(description="Distinct @-mentions of the caption, without '@'")
    missing: list[str] = Field(description="Template variables without a value")
    unused: list[str] = Field(default_factory=list, description="Given values the template ignores")
    length: int = Field(description="Caption length in characters (Instagram allows 2,200)")
