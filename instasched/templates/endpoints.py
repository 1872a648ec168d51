from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from instasched.exceptions import Invalid, NotFound
from instasched.kit.deps import SessionDep, StateDep
from instasched.kit.openapi import ErrorCase, errors, example_200
from instasched.kit.pagination import PageParams, page_params
from instasched.kit.schemas import Message, Page
from instasched.models.workspace import Role
from instasched.templates import service
from instasched.templates.schemas import (
    TEMPLATE_EXAMPLE,
    RenderedTemplate,
    Template,
    TemplateCategory,
    TemplateCreate,
    TemplateRender,
    TemplateUpdate,
)
from instasched.workspaces.access import CurrentAccess, roles

router = APIRouter(prefix="/instagram/scheduling", tags=["Templates"])

_NOT_FOUND: ErrorCase = (
    "No such template for this user (another user's id included)",
    NotFound("Template not found"),
)
_ACCOUNT_NOT_FOUND: ErrorCase = (
    "instagramAccountId is not one of your accounts",
    NotFound(
        "Instagram account not found",
        detail=[{"field": "instagramAccountId", "message": "not one of your accounts"}],
    ),
)
_RULES: tuple[ErrorCase, ...] = (
    (
        "A suggested hashtag is not a hashtag",
        Invalid(
            "suggestedHashtags[1] is 'new-in': a hashtag has only letters, digits and underscores "
            "(no spaces, punctuation or emoji), written without '#'",
            field="suggestedHashtags[1]",
        ),
    ),
    (
        "The fixed text with the suggestions breaks Instagram's caption limits",
        Invalid(
            "The template's text and suggested hashtags together have 34 hashtags; at most 30 "
            "are allowed",
            field="suggestedHashtags",
        ),
    ),
)


@router.post(
    "/templates",
    status_code=status.HTTP_201_CREATED,
    response_model=Template,
    responses=errors(_ACCOUNT_NOT_FOUND, *_RULES),
)
async def create_template(
    body: TemplateCreate, access: CurrentAccess, session: SessionDep, state: StateDep
) -> Template:
    """Create a caption template.

    `captionTemplate` holds `{{ name }}` placeholders (names `[A-Za-z_][A-Za-z0-9_]*`, spaces
    inside the braces allowed); `variables` is derived from it. `suggestedHashtags` are written
    without `#` (letters, digits, underscores) and `suggestedMentions` are Instagram usernames
    without `@`; a leading `#`/`@` is dropped. The fixed text plus the suggestions must fit
    Instagram's caption limits (2,200 characters, `MAX_HASHTAGS` hashtags, 20 mentions).
    `instagramAccountId` (optional) must be one of your accounts.
    """
    template = await service.create_template(
        session,
        workspace_id=access.workspace_id,
        name=body.name,
        caption_template=body.caption_template,
        category=body.category.value if body.category else None,
        suggested_hashtags=body.suggested_hashtags,
        suggested_mentions=body.suggested_mentions,
        default_media_type=body.default_media_type.value,
        instagram_account_id=body.instagram_account_id,
        is_active=body.is_active,
        max_hashtags=state.settings.max_hashtags,
    )
    return Template.model_validate(template)


@router.get(
    "/templates",
    response_model=Page[Template],
    responses=example_200({"items": [TEMPLATE_EXAMPLE], "total": 1, "page": 1, "limit": 20}),
)
async def list_templates(
    access: CurrentAccess,
    session: SessionDep,
    paging: Annotated[PageParams, Depends(page_params)],
    category: Annotated[TemplateCategory | None, Query(description="Filter by category")] = None,
    is_active: Annotated[bool | None, Query(alias="isActive")] = None,
    instagram_account_id: Annotated[uuid.UUID | None, Query(alias="instagramAccountId")] = None,
) -> Page[Template]:
    """Your templates, newest first, filtered by `category`, `isActive` and
    `instagramAccountId`; paginated with `page` and `limit`."""
    items, total = await service.list_templates(
        session,
        workspace_id=access.workspace_id,
        category=category.value if category else None,
        is_active=is_active,
        account_id=instagram_account_id,
        offset=paging.offset,
        limit=paging.limit,
    )
    return Page[Template](
        items=[Template.model_validate(t) for t in items],
        total=total,
        page=paging.page,
        limit=paging.limit,
    )


@router.get("/templates/{template_id}", response_model=Template, responses=errors(_NOT_FOUND))
async def get_template(
    template_id: uuid.UUID, access: CurrentAccess, session: SessionDep
) -> Template:
    """One of your templates (404 for any other id)."""
    template = await service.get_template(
        session, workspace_id=access.workspace_id, template_id=template_id
    )
    return Template.model_validate(template)


@router.put(
    "/templates/{template_id}",
    response_model=Template,
    responses=errors(_NOT_FOUND, _ACCOUNT_NOT_FOUND, *_RULES),
)
async def update_template(
    template_id: uuid.UUID,
    body: TemplateUpdate,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> Template:
    """Change a template; only the fields sent change. A new `captionTemplate` re-derives
    `variables`; the same rules as creation apply."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    template = await service.update_template(
        session,
        workspace_id=access.workspace_id,
        template_id=template_id,
        changes=changes,
        max_hashtags=state.settings.max_hashtags,
    )
    return Template.model_validate(template)


@router.delete(
    "/templates/{template_id}",
    response_model=Message,
    responses={
        **example_200({"message": "Template deleted successfully"}),
        **errors(_NOT_FOUND),
    },
)
async def delete_template(
    template_id: uuid.UUID, access: CurrentAccess, session: SessionDep
) -> Message:
    """Delete a template. Posts made from it keep their caption."""
    await service.delete_template(
        session, workspace_id=access.workspace_id, template_id=template_id
    )
    return Message(message="Template deleted successfully")


@router.post(
    "/templates/{template_id}/render",
    response_model=RenderedTemplate,
    responses=errors(
        _NOT_FOUND,
        (
            "The complete caption breaks Instagram's caption limits",
            Invalid(
                "The rendered caption is not valid: caption has 34 hashtags; at most 30 are "
                "allowed",
                field="caption",
            ),
        ),
    ),
    # A preview that changes nothing: every member may render.
    openapi_extra=roles(Role.EDITOR, Role.APPROVER, Role.VIEWER),
)
async def render_template(
    template_id: uuid.UUID,
    body: TemplateRender,
    access: CurrentAccess,
    session: SessionDep,
    state: StateDep,
) -> RenderedTemplate:
    """Preview a template with `variables`: the caption as a post would get it (text with the
    values, then the suggested hashtags and mentions), its distinct `hashtags` and `mentions`,
    the variables still `missing` and the given ones the template does not use (`unused`).

    Values are inserted as plain text, never re-interpreted (`{{x}}` or `$1` in a value stay as
    typed). A complete caption that breaks Instagram's limits answers 422.
    """
    rendered = await service.render_preview(
        session,
        workspace_id=access.workspace_id,
        template_id=template_id,
        variables=body.variables,
        max_hashtags=state.settings.max_hashtags,
    )
    return RenderedTemplate(
        caption=rendered.caption,
        hashtags=rendered.hashtags,
        mentions=rendered.mentions,
        missing=rendered.missing,
        unused=rendered.unused,
        length=rendered.length,
    )
