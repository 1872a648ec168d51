"""The two ways an account is connected, and which publishing features each one allows.

Instagram Login (`instagram`) talks to graph.instagram.com with an Instagram user token;
Facebook Login for Business (`facebook`) talks to graph.facebook.com with the token of the
Facebook Page the Instagram professional account is linked to. Meta offers some publishing
features only through Facebook Login. The table is written once and read by both sides: the API
refuses a post that asks for a feature its account's login kind lacks (`posts.rules`, a 422 naming
the feature and the fix), and the sandbox refuses the container the way Meta does. The table in
docs/login-kinds.md lists the same rows with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass

INSTAGRAM = "instagram"
FACEBOOK = "facebook"
LOGIN_KINDS = (INSTAGRAM, FACEBOOK)
LABELS = {INSTAGRAM: "Instagram Login", FACEBOOK: "Facebook Login"}


@dataclass(frozen=True)
class Feature:
    """A publishing feature: its name in the API's JSON, the Graph parameter that carries it,
    and the login kinds Meta allows it with."""

    field: str
    graph_param: str
    allowed: frozenset[str]


# Only features instasched sends; docs/login-kinds.md also lists the ones it does not send yet.
FEATURES: tuple[Feature, ...] = (
    # Meta's IG Media collaborators reference: "Available for the Instagram API with Facebook
    # Login" (read 2026-12-06).
    Feature("collaborators", "collaborators", frozenset({FACEBOOK})),
    # Meta's Instagram Platform overview table: product tagging is not available with the
    # Instagram API with Instagram Login (read 2026-12-06).
    Feature("productTags", "product_tags", frozenset({FACEBOOK})),
)
BY_GRAPH_PARAM = {f.graph_param: f for f in FEATURES}


def missing_features(login_kind: str, used: dict[str, bool]) -> list[Feature]:
    """The features in `used` (by JSON field name, True when the post uses it) that
    `login_kind` does not allow, in table order."""
    return [f for f in FEATURES if used.get(f.field) and login_kind not in f.allowed]


def fix_for(feature: Feature, login_kind: str) -> str:
    """What a person does to use `feature` on an account connected with `login_kind`."""
    needed = " or ".join(LABELS[k] for k in LOGIN_KINDS if k in feature.allowed)
    return (
        f"{feature.field} needs {needed}, and this account is connected with "
        f"{LABELS.get(login_kind, login_kind)}: connect this account with {needed} to use "
        f"{feature.field}, or remove {feature.field}"
    )
