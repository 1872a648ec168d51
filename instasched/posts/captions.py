"""A post's caption rendered from one of the workspace's templates (`templateId` with
`templateVariables`): the template must be active and usable on the account, every variable it
needs given, and the result a valid caption.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.config import Settings
from instasched.exceptions import Invalid, NotFound
from instasched.models import InstagramAccount, PostTemplate
from instasched.posts import repository, rules
from instasched.posts.schemas import TemplateValue
from instasched.templates.render import append_suggestions, render


async def render_template(
    session: AsyncSession,
    *,
    settings: Settings,
    workspace_id: uuid.UUID,
    account: InstagramAccount,
    template_id: uuid.UUID,
    variables: dict[str, TemplateValue],
    caption_sent: str | None,
    media_type: str,
    templates: dict[uuid.UUID, PostTemplate | None] | None = None,
) -> str:
    if caption_sent:
        raise Invalid(
            "Send either a caption or a templateId (the caption is rendered from the "
            "template), not both",
            field="caption",
        )
    if media_type == rules.STORIES:
        raise Invalid("STORIES carry no caption, so they cannot use a template", field="templateId")
    if templates is not None and template_id in templates:
        template = templates[template_id]
    else:
        template = await repository.get_template_owned(
            session, workspace_id=workspace_id, template_id=template_id
        )
        if templates is not None:
            templates[template_id] = template
    if template is None:
        raise NotFound("Template not found", detail=[{"field": "templateId"}])
    if not template.is_active:
        raise Invalid(
            f"Template {template.name!r} is inactive; activate it or choose another",
            field="templateId",
        )
    if template.instagram_account_id is not None and template.instagram_account_id != account.id:
        raise Invalid(
            f"Template {template.name!r} belongs to another Instagram account",
            field="templateId",
        )
    rendered = render(template.caption_template, variables)
    if rendered.missing:
        raise Invalid(
            "templateVariables is missing values for: " + ", ".join(rendered.missing),
            field="templateVariables",
            detail=[
                {"field": "templateVariables", "message": "missing: " + ", ".join(rendered.missing)}
            ]
            + [
                {"field": f"templateVariables.{name}", "message": "is required by the template"}
                for name in rendered.missing
            ],
        )
    caption = append_suggestions(
        rendered.caption,
        [str(t) for t in template.suggested_hashtags or []],
        [str(m) for m in template.suggested_mentions or []],
    )
    try:
        rules.check_caption(caption, max_hashtags=settings.max_hashtags)
    except Invalid as exc:
        raise Invalid(
            f"The caption rendered from template {template.name!r} is not valid: {exc.message}",
            field="caption",
        ) from exc
    return caption
