"""Keep secrets out of logs: tokens, passwords, signatures are replaced by `[redacted]`."""

from __future__ import annotations

import logging
import re
from typing import Any

_PATTERNS = [
    # access_token=..., client_secret=..., X-Amz-Signature=..., code=... in URLs and forms
    re.compile(
        r"(?i)((?:access_token|client_secret|password|x-amz-signature|x-amz-credential|code|"
        r"refresh_token|token)=)[^&\s\"']+"
    ),
    # Authorization: Bearer ...
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # JSON-ish "accessToken": "..." / "password": "..."
    re.compile(r"(?i)(\"(?:access_?token|password|secret|token|jwt_?secret)\"\s*:\s*\")[^\"]*"),
]
# Instagram tokens (IG..., EAA...) and JWTs anywhere.
_TOKENS = re.compile(
    r"\b(?:IG[A-Z]{2}[A-Za-z0-9_-]{16,}|EAA[A-Za-z0-9]{20,}|eyJ[\w-]+\.[\w-]+\.[\w-]+)"
)
REDACTED = "[redacted]"
_SENSITIVE_KEYS = {"access_token", "accesstoken", "password", "token", "secret", "authorization"}


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return _TOKENS.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if str(k).lower() in _SENSITIVE_KEYS else redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Scrubs the message, its arguments and extra fields of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the record, drop the args
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key in _SKIP:
                continue
            if isinstance(value, str | dict | list | tuple):
                record.__dict__[key] = redact_value(value)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_SKIP = {
    "msg",
    "args",
    "exc_info",
    "stack_info",
    "name",
    "levelname",
    "pathname",
    "filename",
    "module",
    "funcName",
    "processName",
    "threadName",
    "taskName",
}
