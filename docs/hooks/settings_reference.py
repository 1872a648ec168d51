"""The configuration reference, generated from `instasched.config.Settings` at every docs build.

An mkdocs hook (mkdocs.yml `hooks:`): in any page, the line `<!-- settings-reference -->` is
replaced by one table per section of the Settings class (its `# --- name ---` comments), one row
per field: the environment variable(s), the default, the accepted values and the field's
description. A field without a description stops the build, so the page cannot drift from the
code. tests/docs/test_docs.py checks that every field is in the rendered page.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- settings-reference -->"
# The package of this checkout, not whichever one the virtualenv installed (a git worktree
# shares its .venv with the main checkout).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from instasched.config import Settings  # noqa: E402

_SECTION = re.compile(r"^\s*# --- (?P<name>.+?) -+\s*$")


def env_names(field: FieldInfo) -> list[str]:
    """The variable names a field reads, the preferred one first."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [alias] if isinstance(alias, str) else []


def sections() -> dict[str, str]:
    """Field name -> the section it is declared under (the class's `# --- name ---` comments)."""
    lines, _ = inspect.getsourcelines(Settings)
    titles = {i + 1: m["name"] for i, line in enumerate(lines) if (m := _SECTION.match(line))}
    (node,) = ast.parse(textwrap.dedent("".join(lines))).body
    assert isinstance(node, ast.ClassDef)
    result: dict[str, str] = {}
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            above = [title for line, title in titles.items() if line < item.lineno]
            result[item.target.id] = above[-1] if above else "general"
    return result


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if value == "":
        return "empty"
    return f"`{value}`"


def _values(field: FieldInfo) -> str:
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return " / ".join(f"`{choice}`" for choice in typing.get_args(annotation))
    kind = args[0] if args and typing.get_origin(annotation) is not None else annotation
    words: dict[Any, str] = {
        int: "integer",
        float: "number",
        str: "text",
        bool: "`true` / `false`",
        Path: "path",
    }
    text = words.get(kind, str(kind))
    bounds = []
    for item in field.metadata:
        for cls, attr, sign in ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<")):
            if isinstance(item, cls):
                bound = getattr(item, attr)
                bounds.append(
                    f"{sign} {bound:g}" if isinstance(bound, float) else f"{sign} {bound}"
                )
        pattern = getattr(item, "pattern", None)
        if pattern:
            text += f" matching `{pattern}`"
    return ", ".join([text, *bounds])


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    """The reference as Markdown: one `##` section and table per part of the Settings class."""
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    if missing:
        raise ValueError(
            "Settings fields without a description (add description=... in "
            f"instasched/config.py): {', '.join(missing)}"
        )
    where = sections()
    grouped: dict[str, list[tuple[str, FieldInfo]]] = {}
    for name, field in Settings.model_fields.items():
        grouped.setdefault(where.get(name, "general"), []).append((name, field))
    out: list[str] = []
    for title, fields in grouped.items():
        out += [f"## {title[0].upper()}{title[1:]}", ""]
        out += ["| Variable | Default | Values | Meaning |", "|---|---|---|---|"]
        for _, field in fields:
            names = env_names(field)
            variable = f"`{names[0]}`" + (
                " (also " + ", ".join(f"`{n}`" for n in names[1:]) + ")" if names[1:] else ""
            )
            description = _cell(field.description or "")
            out.append(f"| {variable} | {_default(field)} | {_values(field)} | {description} |")
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """mkdocs hook: put the generated reference where a page asks for it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
