"""Prometheus metrics. One registry per process: the API serves it at /metrics; the worker on
WORKER_METRICS_PORT (its own HTTP server). In tests API and worker share a process and a registry.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_LATENCY = Histogram(
    "instasched_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
QUEUE_JOBS = Gauge(
    "instasched_queue_jobs",
    "Jobs in the publish queue by state (read from Redis at scrape time)",
    ["state"],
    registry=REGISTRY,
)
POSTS_BY_STATUS = Gauge(
    "instasched_posts",
    "Posts by status (read from PostgreSQL at scrape time)",
    ["status"],
    registry=REGISTRY,
)
PUBLISH_OUTCOMES = Counter(
    "instasched_publish_outcomes_total",
    "Publish attempts by media type and result (published, failed, retry, rescheduled)",
    ["media_type", "result"],
    registry=REGISTRY,
)
PUBLISH_LATENESS = Histogram(
    "instasched_publish_lateness_seconds",
    "Seconds between a post's scheduled_for and the start of its publication",
    buckets=(0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "instasched_worker_in_flight",
    "Publications in flight in this worker process, by state: waiting_for_account (another "
    "publication of the account holds its slot) or publishing",
    ["state"],
    registry=REGISTRY,
)
PUBLISH_RETRIES = Counter(
    "instasched_publish_retries_total", "Publish retries scheduled", registry=REGISTRY
)
QUOTA_WAITS = Counter(
    "instasched_publish_quota_waits_total",
    "Posts put back by a quota answer (9/2207042), by reason: window_full (the 24 h window is "
    "full) or limit_has_room (Meta's limit says there is room: a doubling wait)",
    ["reason"],
    registry=REGISTRY,
)
PUBLISHING_ALERT_POSTS = Gauge(
    "instasched_publishing_alert_posts",
    "What the publishing alerts count (instasched.ops.health), by check: failed_posts (within "
    "the window), stuck_posts (publishing past their lease), overdue_posts (scheduled past due)",
    ["check"],
    registry=REGISTRY,
)
APPROVALS_EXPIRED = Counter(
    "instasched_post_approvals_expired_total",
    "Posts that reached their time awaiting approval, so were not published (docs/approvals.md)",
    registry=REGISTRY,
)
STAGINGS = Counter(
    "instasched_post_stagings_total",
    "Stagings of containers ahead of the due time that ended, by result (staged, failed, "
    "deferred; docs/staging.md)",
    ["result"],
    registry=REGISTRY,
)
RECOVERIES = Counter(
    "instasched_publish_recoveries_total",
    "Posts recovered by the reconciler, by kind (missing_job, expired_lease)",
    ["kind"],
    registry=REGISTRY,
)
GRAPH_ERRORS = Counter(
    "instasched_graph_api_errors_total",
    "Graph API errors by code (code or code/subcode; 'transport' for timeouts)",
    ["code"],
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "instasched_token_refreshes_total",
    "Long-lived token refreshes by result (refreshed, needs_reauth, error)",
    ["result"],
    registry=REGISTRY,
)
STORAGE_BYTES = Gauge(
    "instasched_storage_bytes",
    "Bytes stored in S3 (originals and derived files), in total (user_id: all)",
    ["user_id"],
    registry=REGISTRY,
)
STORAGE_OBJECTS = Gauge(
    "instasched_storage_assets",
    "Media assets stored, in total (user_id: all)",
    ["user_id"],
    registry=REGISTRY,
)
ALERTS_SENT = Counter(
    "instasched_alerts_total",
    "Alert webhook deliveries by event and result (sent, failed)",
    ["event", "result"],
    registry=REGISTRY,
)


class _SupervisorRestarts(Collector):
    """Restarts by `instasched run`'s supervisor (a separate process): read from the data dir."""

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[CounterMetricFamily]:
        from instasched.config import get_settings
        from instasched.supervisor import read_restarts

        family = self._family()
        for process, count in read_restarts(get_settings().data_dir).items():
            family.add_metric([process], count)
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "instasched_supervisor_restarts",
            "Processes `instasched run` restarted after they died (api, worker-N, postgres, ...)",
            labels=["process"],
        )


REGISTRY.register(_SupervisorRestarts())
