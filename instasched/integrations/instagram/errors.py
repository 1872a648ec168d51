"""The Graph API's errors, classified by what the caller must do.

```
GraphError                       any error answer (or transport failure) from the Graph API
├── GraphRetryableError          transient (1, 2, 341, 2207001/3/32, 5xx, timeouts) and rate
│                                limits (4, 17, 32, 613, 80001-80014): retry with backoff;
│                                also Meta failing to fetch the media (9004 / 2207052)
├── GraphNewContainerNeeded      container expired / upload failed (2207020, 2207053)
├── GraphMediaNotReady           container still processing (9007 / 2207027): keep polling
├── GraphQuotaError              publishing quota reached (9 / 2207042): wait for the window
├── GraphAuthError               token invalid or expired (190): the account needs re-auth
└── GraphPermanentError          permission (10, 200-299), invalid parameter (100), media rejected
                                 (2207004/5/9/10/26/50/51/57) and anything unknown
```
Every error keeps Meta's `code`, `subcode`, `message` and `fbtrace_id`, and carries `explanation`:
a sentence for a person that says what to fix.
"""

from __future__ import annotations

from typing import Any

RATE_LIMIT_CODES = {4, 17, 32, 613} | set(range(80001, 80015))
TRANSIENT_CODES = {1, 2, 341}
TRANSIENT_SUBCODES = {2207001, 2207003, 2207032}
FETCH_FAILED = {9004, 2207052}
NEW_CONTAINER_SUBCODES = {2207020, 2207053}
NOT_READY = {9007, 2207027}
QUOTA = {2207042}
MEDIA_REJECTED_SUBCODES = {
    2207004: "The file is too large for Instagram.",
    2207005: "Instagram does not accept this media format.",
    2207009: "The aspect ratio is not accepted (feed images must be between 4:5 and 1.91:1).",
    2207010: "The caption is too long or has too many hashtags or mentions.",
    2207026: "The video format is not accepted (use MP4/MOV with H.264 and AAC).",
    2207050: "The Instagram account is restricted or inactive.",
    2207051: "Instagram blocked this action (the content may break its rules).",
    2207057: "The thumbnail offset is outside the video.",
}


class GraphError(Exception):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        status_code: int | None = None,
        explanation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.status_code = status_code
        self.explanation = explanation or message

    @property
    def code_label(self) -> str:
        """`code` or `code/subcode`, for logs, metrics and `last_error_code`."""
        if self.code is None:
            return "transport"
        return f"{self.code}/{self.subcode}" if self.subcode else str(self.code)

    def human(self) -> str:
        """What a person reads: our explanation, then Meta's own words."""
        if self.explanation and self.explanation != self.message:
            return f"{self.explanation} (Instagram said: {self.message}; code {self.code_label})"
        return f"{self.message} (code {self.code_label})"


class GraphRetryableError(GraphError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class GraphNewContainerNeeded(GraphError):
    retryable = True


class GraphMediaNotReady(GraphError):
    retryable = True


class GraphQuotaError(GraphError):
    pass


class GraphAuthError(GraphError):
    pass


class GraphPermanentError(GraphError):
    pass


def classify_error(payload: dict[str, Any] | None, *, status_code: int | None = None) -> GraphError:
    """Turn a Graph API error body (`{"error": {...}}`) into the right exception."""
    error = (payload or {}).get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        if status_code is not None and status_code >= 500:
            return GraphRetryableError(
                f"Instagram answered HTTP {status_code}",
                status_code=status_code,
                explanation="Instagram had a temporary problem; we will try again.",
            )
        return GraphPermanentError(
            f"Unexpected answer from Instagram (HTTP {status_code})", status_code=status_code
        )
    message = str(error.get("error_user_msg") or error.get("message") or "Unknown error")
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    kw: dict[str, Any] = {
        "code": code,
        "subcode": subcode,
        "fbtrace_id": error.get("fbtrace_id"),
        "status_code": status_code,
    }
    if code == 190:
        return GraphAuthError(
            message,
            explanation="The Instagram connection has expired or was revoked: reconnect the "
            "account, then reschedule the post.",
            **kw,
        )
    if subcode in QUOTA or (code == 9 and subcode in (None, 2207042)):
        return GraphQuotaError(
            message,
            explanation="The account reached Instagram's publishing limit for the last 24 hours; "
            "the post will go out when the window frees up.",
            **kw,
        )
    if code in NOT_READY or subcode in NOT_READY:
        return GraphMediaNotReady(
            message, explanation="Instagram is still processing the media.", **kw
        )
    if subcode in NEW_CONTAINER_SUBCODES:
        return GraphNewContainerNeeded(
            message,
            explanation="Instagram's upload expired or failed; a new upload will be made.",
            **kw,
        )
    if code in FETCH_FAILED or subcode in FETCH_FAILED:
        return GraphRetryableError(
            message,
            explanation="Instagram could not download the media from our storage; check that "
            "S3_PUBLIC_ENDPOINT is reachable from the internet.",
            **kw,
        )
    if code in RATE_LIMIT_CODES:
        return GraphRetryableError(
            message,
            explanation="Instagram's rate limit was reached; we will slow down and retry.",
            **kw,
        )
    if subcode in MEDIA_REJECTED_SUBCODES:
        return GraphPermanentError(message, explanation=MEDIA_REJECTED_SUBCODES[subcode], **kw)
    if code in TRANSIENT_CODES or subcode in TRANSIENT_SUBCODES:
        return GraphRetryableError(
            message, explanation="Instagram had a temporary problem; we will try again.", **kw
        )
    if code == 10 or (code is not None and 200 <= code <= 299):
        return GraphPermanentError(
            message,
            explanation="The app lacks an Instagram permission for this; reconnect the account "
            "and grant content publishing.",
            **kw,
        )
    if code == 100:
        return GraphPermanentError(
            message,
            explanation="Instagram rejected a parameter of the post: " + message,
            **kw,
        )
    if status_code is not None and status_code >= 500:
        return GraphRetryableError(
            message, explanation="Instagram had a temporary problem; we will try again.", **kw
        )
    return GraphPermanentError(message, **kw)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
