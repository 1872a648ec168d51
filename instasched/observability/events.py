"""What happened while publishing, in one place: metrics, log lines and alerts.

The worker calls these; each is cheap and never blocks (alerts are queued).
"""

from __future__ import annotations

import logging
from typing import Any

from instasched.observability.alerts import AlertSender
from instasched.observability.metrics import (
    APPROVALS_EXPIRED,
    GRAPH_ERRORS,
    PUBLISH_LATENESS,
    PUBLISH_OUTCOMES,
    PUBLISH_RETRIES,
    QUOTA_WAITS,
    RECOVERIES,
    STAGINGS,
    TOKEN_REFRESHES,
)

log = logging.getLogger("instasched.publishing")


def _ids(post_id: Any, account_id: Any, **more: Any) -> dict[str, Any]:
    """The fields every publishing log line carries, plus the event's own."""
    return {"post_id": str(post_id), "account_id": str(account_id), **more}


class Events:
    def __init__(self, alerts: AlertSender | None = None) -> None:
        self.alerts = alerts or AlertSender(None)

    def _post_alert(
        self,
        level: int,
        text: str,
        event: str,
        post_id: Any,
        account_id: Any,
        logged: dict[str, Any],
        **alerted: Any,
    ) -> None:
        """What a person must look at about a post: the log line (`logged` besides the post's
        and account's ids) and the alert `event` naming both (`alerted` besides)."""
        log.log(level, text, extra=_ids(post_id, account_id, **logged))
        self.alerts.send(event, postId=str(post_id), accountId=str(account_id), **alerted)

    def publish_started(self, *, post_id: Any, lateness_seconds: float) -> None:
        PUBLISH_LATENESS.observe(max(0.0, lateness_seconds))

    def published(
        self, *, post_id: Any, account_id: Any, media_type: str, attempt: int, media_id: str
    ) -> None:
        PUBLISH_OUTCOMES.labels(media_type=media_type, result="published").inc()
        log.info(
            "post published",
            extra=_ids(
                post_id, account_id, attempt=attempt, media_id=media_id, media_type=media_type
            ),
        )

    def retry(
        self,
        *,
        post_id: Any,
        account_id: Any,
        media_type: str,
        attempt: int,
        code: str,
        message: str,
        delay_seconds: float,
    ) -> None:
        PUBLISH_OUTCOMES.labels(media_type=media_type, result="retry").inc()
        PUBLISH_RETRIES.inc()
        log.warning(
            "publish attempt failed; retrying",
            extra=_ids(
                post_id,
                account_id,
                attempt=attempt,
                error_code=code,
                error=message,
                retry_in_s=round(delay_seconds, 3),
            ),
        )

    def rescheduled(
        self,
        *,
        post_id: Any,
        account_id: Any,
        media_type: str,
        code: str,
        until: str,
        reason: str,
        waits: int,
    ) -> None:
        PUBLISH_OUTCOMES.labels(media_type=media_type, result="rescheduled").inc()
        QUOTA_WAITS.labels(reason=reason).inc()
        log.warning(
            "publishing quota reached; post rescheduled",
            extra=_ids(
                post_id, account_id, error_code=code, until=until, reason=reason, waits=waits
            ),
        )

    def failed(
        self,
        *,
        post_id: Any,
        account_id: Any,
        media_type: str,
        attempt: int,
        code: str,
        message: str,
    ) -> None:
        PUBLISH_OUTCOMES.labels(media_type=media_type, result="failed").inc()
        self._post_alert(
            logging.ERROR,
            "post failed",
            "post.failed",
            post_id,
            account_id,
            {"attempt": attempt, "error_code": code, "error": message},
            attempt=attempt,
            errorCode=code,
            message=message,
        )

    def staged(self, *, post_id: Any, account_id: Any, status: str, detail: str | None) -> None:
        """A staging ahead of the due time ended (staged, or deferred to the due time)."""
        STAGINGS.labels(result=status).inc()
        log.info(
            "post staging %s",
            status,
            extra=_ids(post_id, account_id, staging=status, detail=detail),
        )

    def staging_failed(
        self, *, post_id: Any, account_id: Any, scheduled_for: str, code: str, message: str
    ) -> None:
        """Meta rejected a post's containers ahead of its time: a person must fix the post."""
        STAGINGS.labels(result="failed").inc()
        self._post_alert(
            logging.ERROR,
            "post staging failed",
            "post.staging_failed",
            post_id,
            account_id,
            {"error_code": code, "error": message},
            scheduledFor=scheduled_for,
            errorCode=code,
            message=message,
        )

    def approval_expired(
        self, *, post_id: Any, account_id: Any, scheduled_for: str, was: str
    ) -> None:
        """A post reached its time without being approved: it was not published."""
        APPROVALS_EXPIRED.inc()
        self._post_alert(
            logging.WARNING,
            "post not published: not approved before its time",
            "post.approval_expired",
            post_id,
            account_id,
            {"scheduled_for": scheduled_for, "status": was},
            scheduledFor=scheduled_for,
            status=was,
            message="Not published: the post was not approved before its scheduled time",
        )

    def graph_error(self, code: str) -> None:
        GRAPH_ERRORS.labels(code=code).inc()

    def needs_reauth(self, *, account_id: Any, username: str | None = None) -> None:
        log.warning("account needs re-authentication", extra={"account_id": str(account_id)})
        self.alerts.send("account.needs_reauth", accountId=str(account_id), username=username)

    def recovered(self, *, post_id: Any, kind: str) -> None:
        RECOVERIES.labels(kind=kind).inc()
        log.info("post recovered", extra={"post_id": str(post_id), "kind": kind})

    def token_refresh(self, result: str) -> None:
        TOKEN_REFRESHES.labels(result=result).inc()

    def publishing_alert(self, check: str, **fields: Any) -> None:
        """A check of instasched.ops.health crossed its threshold: `publishing.<check>`."""
        log.warning("publishing alert: %s", check, extra=fields)
        self.alerts.send(f"publishing.{check}", **fields)
