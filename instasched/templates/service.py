"""Caption templates: CRUD with validation and preview rendering.

Posts render templates with the same `templates.render` functions and check captions with the
same `posts.rules`, so a preview that passes here passes when the post is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from instasched.accounts import repository as accounts_repository
from instasched.db import add_row
from instasched.exceptions import Invalid, NotFound
from instasched.integrations.instagram import publish_rules as meta
from instasched.models import PostTemplate
from instasched.posts import rules as post_rules
from instasched.templates import repository
from instasched.templates.render import append_suggestions, render, variables_in

MAX_CAPTION_LENGTH = meta.CAPTION_MAX
MAX_MENTIONS = meta.MENTIONS_MAX
MAX_HASHTAG_LENGTH = 100
MAX_VALUE_LENGTH = MAX_CAPTION_LENGTH


@dataclass(frozen=True)
class RenderedCaption:
    caption: str
    hashtags: list[str]
    mentions: list[str]
    missing: list[str]
    unused: list[str]

    @property
    def length(self) -> int:
        return len(self.caption)


async def _check_account(
    session: AsyncSession, *, workspace_id: uuid.UUID, account_id: uuid.UUID | None
) -> None:
    if account_id is None:
        return
    try:
        await accounts_repository.get_owned(
            session, workspace_id=workspace_id, account_id=account_id
        )
    except NotFound as exc:
        raise NotFound(
            "Instagram account not found",
            detail=[{"field": "instagramAccountId", "message": "not one of your accounts"}],
        ) from exc


def unique(values: Sequence[str]) -> list[str]:
    """Case-insensitive de-duplication keeping the first spelling."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def normalise_hashtags(values: Sequence[str], *, field: str = "suggestedHashtags") -> list[str]:
    """Hashtags without `#` (one leading `#` is dropped) that Instagram links as written:
    letters, digits and underscores, not only digits. Same scanner as the posts API."""
    out: list[str] = []
    for i, raw in enumerate(values):
        where = f"{field}[{i}]"
        tag = raw.strip()
        tag = tag[1:] if tag.startswith("#") else tag
        scan = meta.scan_caption("#" + tag)
        if not tag or scan.hashtags != [tag] or scan.invalid_hashtags:
            raise Invalid(
                f"{where} is {raw!r}: a hashtag has only letters, digits and underscores (no "
                "spaces, punctuation or emoji), written without '#'",
                field=where,
            )
        if tag.isdigit():
            raise Invalid(f"{where} is {raw!r}: a hashtag cannot be only digits", field=where)
        if len(tag) > MAX_HASHTAG_LENGTH:
            raise Invalid(
                f"{where} is {len(tag)} characters long; at most {MAX_HASHTAG_LENGTH}", field=where
            )
        out.append(tag)
    return unique(out)


def normalise_mentions(values: Sequence[str], *, field: str = "suggestedMentions") -> list[str]:
    """Instagram usernames without `@` (a leading `@` is dropped), as the posts API checks them."""
    return unique(
        [post_rules.check_username(raw, field=f"{field}[{i}]") for i, raw in enumerate(values)]
    )


def _check_limits(
    caption_template: str, hashtags: Sequence[str], mentions: Sequence[str], *, max_hashtags: int
) -> None:
    """The template's fixed text plus its suggestions must fit Instagram's caption limits.

    Placeholders count as empty, so this is a lower bound; the rendered caption is checked in
    full (posts rules) when it is rendered.
    """
    if len(hashtags) > max_hashtags:
        raise Invalid(
            f"suggestedHashtags has {len(hashtags)} hashtags; at most {max_hashtags} are allowed",
            field="suggestedHashtags",
        )
    if len(mentions) > MAX_MENTIONS:
        raise Invalid(
            f"suggestedMentions has {len(mentions)} usernames; at most {MAX_MENTIONS} are allowed",
            field="suggestedMentions",
        )
    literal = render(caption_template, dict.fromkeys(variables_in(caption_template), "")).caption
    full = append_suggestions(literal, hashtags, mentions)
    if len(full) > MAX_CAPTION_LENGTH:
        raise Invalid(
            f"The template's text with its suggested hashtags and mentions is {len(full)} "
            f"characters long before any variable; captions are limited to {MAX_CAPTION_LENGTH}",
            field="captionTemplate",
        )
    scan = meta.scan_caption(full)
    if len(scan.hashtags) > max_hashtags:
        raise Invalid(
            f"The template's text and suggested hashtags together have {len(scan.hashtags)} "
            f"hashtags; at most {max_hashtags} are allowed",
            field="suggestedHashtags" if hashtags else "captionTemplate",
        )
    if len(scan.mentions) > MAX_MENTIONS:
        raise Invalid(
            f"The template's text and suggested mentions together have {len(scan.mentions)} "
            f"@-mentions; at most {MAX_MENTIONS} are allowed",
            field="suggestedMentions" if mentions else "captionTemplate",
        )


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise Invalid("name must not be blank", field="name")
    return cleaned


async def create_template(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    name: str,
    caption_template: str,
    category: str | None = None,
    suggested_hashtags: Sequence[str] = (),
    suggested_mentions: Sequence[str] = (),
    default_media_type: str = "IMAGE",
    instagram_account_id: uuid.UUID | None = None,
    is_active: bool = True,
    max_hashtags: int,
) -> PostTemplate:
    cleaned_name = _clean_name(name)
    if not caption_template.strip():
        raise Invalid("captionTemplate must not be blank", field="captionTemplate")
    hashtags = normalise_hashtags(suggested_hashtags)
    mentions = normalise_mentions(suggested_mentions)
    _check_limits(caption_template, hashtags, mentions, max_hashtags=max_hashtags)
    await _check_account(session, workspace_id=workspace_id, account_id=instagram_account_id)
    template = PostTemplate(
        workspace_id=workspace_id,
        instagram_account_id=instagram_account_id,
        name=cleaned_name,
        category=category,
        caption_template=caption_template,
        variables=variables_in(caption_template),
        default_media_type=default_media_type,
        suggested_hashtags=hashtags,
        suggested_mentions=mentions,
        is_active=is_active,
    )
    return await add_row(session, template)


async def get_template(
    session: AsyncSession, *, workspace_id: uuid.UUID, template_id: uuid.UUID
) -> PostTemplate:
    return await repository.get_owned(session, workspace_id=workspace_id, template_id=template_id)


# Listing has no rule of its own: the repository's query, filtered by the workspace, is it.
list_templates = repository.list_owned


async def update_template(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    template_id: uuid.UUID,
    changes: Mapping[str, object],
    max_hashtags: int,
) -> PostTemplate:
    """Apply `changes` (snake_case field -> value, only the fields the client sent)."""
    template = await repository.get_owned(
        session, workspace_id=workspace_id, template_id=template_id, for_update=True
    )
    for key in ("name", "caption_template", "is_active", "default_media_type"):
        if key in changes and changes[key] is None:
            raise Invalid(f"{_camel(key)} cannot be null", field=_camel(key))
    if "name" in changes:
        template.name = _clean_name(str(changes["name"]))
    if "category" in changes:
        template.category = (
            changes["category"] if changes["category"] is None else str(changes["category"])
        )
    caption = template.caption_template
    if "caption_template" in changes:
        caption = str(changes["caption_template"])
        if not caption.strip():
            raise Invalid("captionTemplate must not be blank", field="captionTemplate")
    hashtags = list(template.suggested_hashtags or [])
    if "suggested_hashtags" in changes:
        hashtags = normalise_hashtags(_strings(changes["suggested_hashtags"]))
    mentions = list(template.suggested_mentions or [])
    if "suggested_mentions" in changes:
        mentions = normalise_mentions(_strings(changes["suggested_mentions"]))
    _check_limits(caption, hashtags, mentions, max_hashtags=max_hashtags)
    template.caption_template = caption
    template.variables = variables_in(caption)
    template.suggested_hashtags = hashtags
    template.suggested_mentions = mentions
    if "instagram_account_id" in changes:
        account_id = changes["instagram_account_id"]
        if account_id is not None and not isinstance(account_id, uuid.UUID):
            raise Invalid("instagramAccountId must be a UUID", field="instagramAccountId")
        await _check_account(session, workspace_id=workspace_id, account_id=account_id)
        template.instagram_account_id = account_id
    if "default_media_type" in changes:
        template.default_media_type = str(changes["default_media_type"])
    if "is_active" in changes:
        template.is_active = bool(changes["is_active"])
    await session.flush()
    await session.refresh(template)
    return template


def _strings(value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("expected a list of strings")
    return value


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


async def delete_template(
    session: AsyncSession, *, workspace_id: uuid.UUID, template_id: uuid.UUID
) -> None:
    """Delete the template; posts made from it keep their caption (template_id becomes null)."""
    template = await repository.get_owned(
        session, workspace_id=workspace_id, template_id=template_id
    )
    await session.delete(template)
    await session.flush()


# --- rendering -------------------------------------------------------------------------------


def _check_values(variables: Mapping[str, object], *, field: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, value in variables.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Invalid(f"{field}.{key} must be a string or a number", field=f"{field}.{key}")
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_VALUE_LENGTH:
            raise Invalid(
                f"{field}.{key} is {len(text)} characters long; a caption holds at most "
                f"{MAX_CAPTION_LENGTH}",
                field=f"{field}.{key}",
            )
        values[key] = text
    return values


def render_template(
    template: PostTemplate, variables: Mapping[str, object], *, field: str = "variables"
) -> RenderedCaption:
    """The caption as the posts API builds it: rendered text, a blank line, hashtags, mentions."""
    rendered = render(template.caption_template, _check_values(variables, field=field))
    caption = append_suggestions(
        rendered.caption,
        [str(t) for t in template.suggested_hashtags or []],
        [str(m) for m in template.suggested_mentions or []],
    )
    scan = meta.scan_caption(caption)
    return RenderedCaption(
        caption=caption,
        hashtags=unique(scan.hashtags),
        mentions=unique(scan.mentions),
        missing=rendered.missing,
        unused=rendered.unused,
    )


async def render_preview(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    template_id: uuid.UUID,
    variables: Mapping[str, object],
    max_hashtags: int,
) -> RenderedCaption:
    """Render for a preview: missing variables are reported (not an error); a complete caption
    that breaks the posts API's caption rules is a 422 (the post would be refused)."""
    template = await repository.get_owned(
        session, workspace_id=workspace_id, template_id=template_id
    )
    rendered = render_template(template, variables)
    if not rendered.missing:
        try:
            post_rules.check_caption(rendered.caption, max_hashtags=max_hashtags)
        except Invalid as exc:
            raise Invalid(
                f"The rendered caption is not valid: {exc.message}", field="caption"
            ) from exc
    return rendered
