"""Lone UTF-16 surrogates are refused where JSON is read, for the whole API and the sandbox.

JSON can spell a code point U+D800..U+DFFF on its own (`"\\ud800"`, or the raw CESU-8 bytes
that Python's `json` reads with 'surrogatepass'). Python keeps it in a `str`, but it is not
text: UTF-8 cannot encode it, so PostgreSQL (asyncpg), pydantic's patterns and the JSON
response all failed on it with a 500. `LoneSurrogateGuard` refuses such a body with a 422 that
names the field, before any endpoint reads it; a surrogate *pair* (`"\\ud83d\\ude00"`, how
`json.dumps` writes an emoji) is one character and passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A body that might hold a surrogate: a \uD800-\uDFFF escape, or its CESU-8 bytes. Only such
# a body is parsed here (and the parse decides: "\\ud800" with an escaped backslash is text).
_SUSPECT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def surrogate_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first lone surrogate is in decoded JSON (keys count), or None."""
    if isinstance(value, str):
        return path if has_lone_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if has_lone_surrogate(key):
                return (*path, key)
            found = surrogate_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = surrogate_path(item, (*path, index))
            if found is not None:
                return found
    return None


def field_name(path: tuple[str | int, ...]) -> str:
    """`productTags.0.productId`, as the API's validation errors name fields; a surrogate in a
    key is shown escaped (`\\ud800`) so the answer itself is valid UTF-8."""
    text = ".".join(str(part) for part in path) or "body"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def api_error(field: str, message: str) -> dict[str, Any]:
    return {
        "error": "validation_error",
        "message": f"{field}: {message}",
        "detail": [{"field": field, "message": message}],
    }


MESSAGE = (
    "contains a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair), which is not "
    "text; send valid Unicode"
)


class LoneSurrogateGuard:
    """Pure ASGI: reads a JSON body (the only way a surrogate gets in: query strings, forms and
    headers are decoded with replacement), answers 422 if a string holds a lone surrogate, else
    hands the same body on."""

    def __init__(
        self, app: ASGIApp, *, error_body: Callable[[str, str], dict[str, Any]] = api_error
    ) -> None:
        self.app = app
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _may_be_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            last = await receive()
            if last["type"] != "http.request":
                break
            chunks.append(last.get("body", b""))
            if not last.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        # `in` first: a plain body is cleared by two fast byte searches, not the regex.
        if (b"\\u" in body or b"\xed" in body) and _SUSPECT.search(body):
            try:
                path = surrogate_path(json.loads(body))
            except ValueError:  # not JSON: the endpoint answers as for any bad body
                path = None
            if path is not None:
                payload = json.dumps(self.error_body(field_name(path), MESSAGE)).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 422,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": payload})
                return
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        if last["type"] != "http.request":
            replay.append(last)  # a disconnect that came while reading

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)


def _may_be_json(scope: Scope) -> bool:
    """What FastAPI reads as JSON: no content type, or a JSON one (`application/json`, `+json`)."""
    if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return True
