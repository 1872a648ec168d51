"""Caption template rendering: literal substitution of `{{ name }}` placeholders.

No regular expression is ever built from user input: one fixed pattern finds placeholders
(`{{`, optional whitespace, a name `[A-Za-z_][A-Za-z0-9_]*`, optional whitespace, `}}`) in a single
left-to-right pass, and each value is inserted as text by a callback, so it is never re-scanned
(a value containing `{{x}}` stays as is) and never read as a replacement pattern (`$1`, `\\1`,
`\\g<0>` stay as typed). Anything that is not a valid placeholder is kept literally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# One fixed pattern (linear: no nested quantifiers); never built from user input.
_PLACEHOLDER = re.compile(r"\{\{[ \t\r\n]*([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*\}\}")


@dataclass(frozen=True)
class Rendered:
    caption: str
    missing: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def variables_in(template: str) -> list[str]:
    """Placeholder names in order of first appearance, without duplicates."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


def render(template: str, variables: Mapping[str, object]) -> Rendered:
    """Substitute every placeholder whose name is in `variables`; report the rest as missing.

    A value of None counts as missing. `unused` lists the given names the template does not use.
    """
    missing: dict[str, None] = {}
    used: dict[str, None] = {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = variables.get(name)
        if value is None:
            missing[name] = None
            return match.group(0)
        used[name] = None
        return value if isinstance(value, str) else str(value)

    caption = _PLACEHOLDER.sub(substitute, template)
    unused = [k for k in variables if k not in used and k not in missing]
    return Rendered(caption=caption, missing=list(missing), used=list(used), unused=unused)


def append_suggestions(caption: str, hashtags: Sequence[str], mentions: Sequence[str]) -> str:
    """As the spec: a blank line, the hashtags (`#tag`), then a line of mentions (`@name`)."""
    result = caption
    if hashtags:
        result += "\n\n" + " ".join(f"#{tag.lstrip('#')}" for tag in hashtags)
    if mentions:
        result += "\n" + " ".join(f"@{name.lstrip('@')}" for name in mentions)
    return result
