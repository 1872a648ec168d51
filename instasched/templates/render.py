"""Caption template rendering: literal substitution of `{{ name }}` placeholders.

No regular expression is ever built from user input: the template is scanned once for `{{`, the
name between the braces is checked against `[A-Za-z_][A-Za-z0-9_]*` (whitespace around it is
allowed), and values are inserted as text, never re-scanned (a value containing `{{x}}` stays as
is). Anything that is not a valid placeholder is kept literally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_REST = _NAME_START | frozenset("0123456789")


@dataclass(frozen=True)
class Rendered:
    caption: str
    missing: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def _placeholder_at(template: str, start: int) -> tuple[str, int] | None:
    """If a valid `{{ name }}` starts at `start`, return (name, index after it)."""
    close = template.find("}}", start + 2)
    if close < 0:
        return None
    name = template[start + 2 : close].strip(" \t")
    if not name or name[0] not in _NAME_START or any(c not in _NAME_REST for c in name):
        return None
    return name, close + 2


def variables_in(template: str) -> list[str]:
    """Placeholder names in order of first appearance, without duplicates."""
    names: list[str] = []
    seen: set[str] = set()
    i = template.find("{{")
    while i >= 0:
        found = _placeholder_at(template, i)
        if found is None:
            i = template.find("{{", i + 1)
            continue
        name, end = found
        if name not in seen:
            seen.add(name)
            names.append(name)
        i = template.find("{{", end)
    return names


def render(template: str, variables: Mapping[str, object]) -> Rendered:
    """Substitute every placeholder whose name is in `variables`; report the rest as missing."""
    parts: list[str] = []
    missing: list[str] = []
    used: list[str] = []
    pos = 0
    i = template.find("{{")
    while i >= 0:
        found = _placeholder_at(template, i)
        if found is None:
            i = template.find("{{", i + 1)
            continue
        name, end = found
        if name in variables and variables[name] is not None:
            parts.append(template[pos:i])
            parts.append(str(variables[name]))
            if name not in used:
                used.append(name)
            pos = end
        elif name not in missing:
            missing.append(name)
        i = template.find("{{", end)
    parts.append(template[pos:])
    unused = [k for k in variables if k not in used and k not in missing]
    return Rendered(caption="".join(parts), missing=missing, used=used, unused=unused)


def append_suggestions(caption: str, hashtags: Sequence[str], mentions: Sequence[str]) -> str:
    """As the spec: a blank line, the hashtags (`#tag`), then a line of mentions (`@name`)."""
    result = caption
    if hashtags:
        result += "\n\n" + " ".join(f"#{tag.lstrip('#')}" for tag in hashtags)
    if mentions:
        result += "\n" + " ".join(f"@{name.lstrip('@')}" for name in mentions)
    return result
