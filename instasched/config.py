"""One place for every setting. Configured only by environment variables (and `.env`).

The spec's names (`MINIO_*`, `REDIS_HOST`/`REDIS_PORT`, `MAX_FILE_SIZE`) are accepted as aliases of
ours. When `DATABASE_URL`, `REDIS_URL` or `S3_ENDPOINT` are unset, `instasched run` starts embedded
servers and fills them in (see `instasched.embedded`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from instasched.integrations.instagram.publish_rules import HASHTAGS_MAX
from instasched.integrations.instagram.versions import DEFAULT_VERSION, VERSION_PATTERN

DEFAULT_BUCKET = "instagram-media"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- process -------------------------------------------------------------------------
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("INSTASCHED_ENV", "ENVIRONMENT")
    )
    host: str = Field("127.0.0.1", validation_alias="HOST")
    port: int = Field(3000, validation_alias="PORT")
    public_url: str | None = Field(None, validation_alias="PUBLIC_URL")
    data_dir: Path = Field(Path(".instasched"), validation_alias="INSTASCHED_DATA_DIR")
    api_workers: int = Field(1, ge=1, validation_alias="API_WORKERS")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field("json", validation_alias="LOG_FORMAT")

    # What one HTTP client may hold or send (instasched/kit/http_limits.py).
    http_header_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias="HTTP_HEADER_TIMEOUT_SECONDS"
    )
    http_body_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias="HTTP_BODY_TIMEOUT_SECONDS"
    )
    http_keep_alive_timeout_seconds: int = Field(
        5, ge=1, validation_alias="HTTP_KEEP_ALIVE_TIMEOUT_SECONDS"
    )
    http_max_header_size: int = Field(65536, ge=1024, validation_alias="HTTP_MAX_HEADER_SIZE")
    max_json_body_size: int = Field(1024 * 1024, ge=1024, validation_alias="MAX_JSON_BODY_SIZE")

    # --- servers -------------------------------------------------------------------------
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    database_pool_size: int = Field(10, ge=1, validation_alias="DATABASE_POOL_SIZE")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    redis_host: str | None = Field(None, validation_alias="REDIS_HOST")
    redis_port: int | None = Field(None, validation_alias="REDIS_PORT")
    queue_prefix: str = Field("bull", validation_alias="QUEUE_PREFIX")
    # A Redis call on a request's path (login limits, /metrics) gives up after this long (503).
    redis_timeout_seconds: float = Field(2.0, gt=0, validation_alias="REDIS_TIMEOUT_SECONDS")

    s3_endpoint: str | None = Field(None, validation_alias="S3_ENDPOINT")
    minio_endpoint: str | None = Field(None, validation_alias="MINIO_ENDPOINT")
    minio_port: int | None = Field(None, validation_alias="MINIO_PORT")
    minio_use_ssl: bool = Field(False, validation_alias="MINIO_USE_SSL")
    s3_access_key: str | None = Field(
        None, validation_alias=AliasChoices("S3_ACCESS_KEY", "MINIO_ACCESS_KEY")
    )
    s3_secret_key: str | None = Field(
        None, validation_alias=AliasChoices("S3_SECRET_KEY", "MINIO_SECRET_KEY")
    )
    s3_bucket: str = Field(
        DEFAULT_BUCKET, validation_alias=AliasChoices("S3_BUCKET", "MINIO_BUCKET_INSTAGRAM")
    )
    s3_region: str = Field("us-east-1", validation_alias="S3_REGION")
    s3_public_endpoint: str | None = Field(None, validation_alias="S3_PUBLIC_ENDPOINT")
    s3_presign_ttl_seconds: int = Field(3600, ge=60, validation_alias="S3_PRESIGN_TTL_SECONDS")
    publish_url_ttl_seconds: int = Field(
        6 * 3600, ge=3600, validation_alias="PUBLISH_URL_TTL_SECONDS"
    )

    # --- media ---------------------------------------------------------------------------
    max_file_size: int = Field(10 * 1024 * 1024, ge=1, validation_alias="MAX_FILE_SIZE")
    max_video_file_size: int = Field(
        100 * 1024 * 1024, ge=1, validation_alias="MAX_VIDEO_FILE_SIZE"
    )
    max_image_pixels: int = Field(50_000_000, ge=1, validation_alias="MAX_IMAGE_PIXELS")
    preview_size: int = Field(1080, ge=64, validation_alias="PREVIEW_SIZE")
    # Video conversion (POST /media/assets/{id}/convert): one child process per conversion.
    media_convert_cpu_seconds: int = Field(300, ge=1, validation_alias="MEDIA_CONVERT_CPU_SECONDS")
    media_convert_wall_seconds: float = Field(
        600.0, gt=0, validation_alias="MEDIA_CONVERT_WALL_SECONDS"
    )
    media_convert_concurrency: int = Field(1, ge=1, validation_alias="MEDIA_CONVERT_CONCURRENCY")
    # Media fetched from a URL (CSV import, media/fetch.py): private, loopback, link-local and
    # other non-public addresses are refused unless this is true (tests, a private network).
    media_fetch_allow_private: bool = Field(False, validation_alias="MEDIA_FETCH_ALLOW_PRIVATE")
    media_fetch_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias="MEDIA_FETCH_TIMEOUT_SECONDS"
    )
    import_max_rows: int = Field(5000, ge=1, validation_alias="IMPORT_MAX_ROWS")

    # --- auth and secrets ----------------------------------------------------------------
    jwt_secret: str | None = Field(None, validation_alias="JWT_SECRET")
    jwt_expires_seconds: int = Field(86400, ge=60, validation_alias="JWT_EXPIRES_SECONDS")
    token_encryption_key: str | None = Field(None, validation_alias="TOKEN_ENCRYPTION_KEY")
    login_max_failures: int = Field(10, ge=1, validation_alias="LOGIN_MAX_FAILURES")
    login_window_seconds: int = Field(900, ge=1, validation_alias="LOGIN_WINDOW_SECONDS")
    # Failed logins for one email from all addresses together, per LOGIN_WINDOW_SECONDS.
    login_account_max_failures: int = Field(
        100, ge=1, validation_alias="LOGIN_ACCOUNT_MAX_FAILURES"
    )
    register_max_per_hour: int = Field(20, ge=1, validation_alias="REGISTER_MAX_PER_HOUR")
    # Addresses of reverse proxies whose X-Forwarded-For is trusted (uvicorn's option, same
    # name); empty: none, the client address is the TCP peer's.
    forwarded_allow_ips: str = Field("", validation_alias="FORWARDED_ALLOW_IPS")
    admin_emails: str = Field("", validation_alias="ADMIN_EMAILS")

    # --- API keys and webhooks (issue 21; docs/api-keys.md, docs/webhooks.md) -------------
    # Requests per API key per API_KEY_RATE_WINDOW_SECONDS (429 with Retry-After beyond).
    api_key_rate_limit: int = Field(600, ge=1, validation_alias="API_KEY_RATE_LIMIT")
    api_key_rate_window_seconds: int = Field(
        60, ge=1, validation_alias="API_KEY_RATE_WINDOW_SECONDS"
    )
    # Webhook targets on private, loopback or link-local addresses (tests, a LAN deployment).
    webhook_allow_private_targets: bool = Field(
        False, validation_alias="WEBHOOK_ALLOW_PRIVATE_TARGETS"
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, validation_alias="WEBHOOK_TIMEOUT_SECONDS")
    # Attempts per delivery; the n-th retry waits WEBHOOK_RETRY_BASE_SECONDS * 4^(n-1).
    webhook_max_attempts: int = Field(6, ge=1, validation_alias="WEBHOOK_MAX_ATTEMPTS")
    webhook_retry_base_seconds: float = Field(
        30.0, gt=0, validation_alias="WEBHOOK_RETRY_BASE_SECONDS"
    )
    webhook_poll_interval_seconds: float = Field(
        1.0, gt=0, validation_alias="WEBHOOK_POLL_INTERVAL_SECONDS"
    )
    # `instasched mcp` (stdio, for desktop assistants): the API it calls and the key it sends.
    mcp_api_url: str | None = Field(None, validation_alias="INSTASCHED_URL")
    mcp_api_key: str | None = Field(None, validation_alias="INSTASCHED_API_KEY")
    mcp_workspace_id: str | None = Field(
        None,
        validation_alias="INSTASCHED_WORKSPACE_ID",
        description="The workspace `instasched mcp` acts in (sent as X-Workspace-Id); unset: the "
        "key's user's personal workspace (docs/workspaces.md)",
    )
    # Workspaces (docs/workspaces.md).
    workspace_invitation_ttl_hours: float = Field(
        168.0,
        gt=0,
        validation_alias="WORKSPACE_INVITATION_TTL_HOURS",
        description="How long an invitation link to a workspace can be accepted (hours; 7 days)",
    )

    # --- Instagram -----------------------------------------------------------------------
    instagram_app_id: str | None = Field(None, validation_alias="INSTAGRAM_APP_ID")
    instagram_app_secret: str | None = Field(None, validation_alias="INSTAGRAM_APP_SECRET")
    instagram_redirect_uri: str | None = Field(None, validation_alias="INSTAGRAM_REDIRECT_URI")
    instagram_graph_url: str = Field(
        "https://graph.instagram.com", validation_alias="INSTAGRAM_GRAPH_URL"
    )
    # Graph API version: the default and Meta's end dates are in integrations/instagram/versions.py.
    instagram_api_version: str = Field(
        DEFAULT_VERSION, pattern=VERSION_PATTERN.pattern, validation_alias="INSTAGRAM_API_VERSION"
    )
    instagram_oauth_url: str = Field(
        "https://www.instagram.com/oauth/authorize", validation_alias="INSTAGRAM_OAUTH_URL"
    )
    instagram_token_url: str = Field(
        "https://api.instagram.com/oauth/access_token", validation_alias="INSTAGRAM_TOKEN_URL"
    )
    # Facebook Login for Business (graph.facebook.com, a Page linked to the Instagram account):
    # docs/login-kinds.md.
    facebook_app_id: str | None = Field(None, validation_alias="FACEBOOK_APP_ID")
    facebook_app_secret: str | None = Field(None, validation_alias="FACEBOOK_APP_SECRET")
    facebook_redirect_uri: str | None = Field(None, validation_alias="FACEBOOK_REDIRECT_URI")
    facebook_graph_url: str = Field(
        "https://graph.facebook.com", validation_alias="FACEBOOK_GRAPH_URL"
    )
    # The consent dialog; the Graph API version is appended (…/v26.0/dialog/oauth).
    facebook_oauth_url: str = Field(
        "https://www.facebook.com", validation_alias="FACEBOOK_OAUTH_URL"
    )
    instagram_sandbox: Literal["auto", "true", "false"] = Field(
        "auto", validation_alias="INSTAGRAM_SANDBOX"
    )
    sandbox_url: str | None = Field(None, validation_alias="SANDBOX_URL")
    # Outside development and test, the sandbox's /_control routes need this secret in the
    # X-Sandbox-Control-Secret header (unset: they are closed).
    sandbox_control_secret: str | None = Field(None, validation_alias="SANDBOX_CONTROL_SECRET")
    # Unset: the latency profile's (2 s without one, 30 s with "meta").
    sandbox_video_processing_seconds: float | None = Field(
        None, ge=0, validation_alias="SANDBOX_VIDEO_PROCESSING_SECONDS"
    )
    sandbox_publish_quota: int = Field(100, ge=1, validation_alias="SANDBOX_PUBLISH_QUOTA")
    # Meta's limit on container creation per account per moving 24 h.
    sandbox_container_limit: int = Field(400, ge=1, validation_alias="SANDBOX_CONTAINER_LIMIT")
    # Added latency of the sandbox's Graph calls (instasched/sandbox/latency.py): a named profile
    # ("meta": Meta-like timings per endpoint), a mean and spread for every call, and per-endpoint
    # means; unset values fall back to the profile's.
    sandbox_latency_profile: Literal["none", "meta"] = Field(
        "none", validation_alias="SANDBOX_LATENCY_PROFILE"
    )
    sandbox_latency_ms: float | None = Field(None, ge=0, validation_alias="SANDBOX_LATENCY_MS")
    sandbox_latency_spread_ms: float | None = Field(
        None, ge=0, validation_alias="SANDBOX_LATENCY_SPREAD_MS"
    )
    sandbox_latency_ms_media: float | None = Field(
        None, ge=0, validation_alias="SANDBOX_LATENCY_MS_MEDIA"
    )
    sandbox_latency_ms_container_status: float | None = Field(
        None, ge=0, validation_alias="SANDBOX_LATENCY_MS_CONTAINER_STATUS"
    )
    sandbox_latency_ms_media_publish: float | None = Field(
        None, ge=0, validation_alias="SANDBOX_LATENCY_MS_MEDIA_PUBLISH"
    )
    graph_timeout_seconds: float = Field(30.0, gt=0, validation_alias="GRAPH_TIMEOUT_SECONDS")

    # --- scheduling rules ----------------------------------------------------------------
    schedule_min_lead_seconds: int = Field(300, ge=0, validation_alias="SCHEDULE_MIN_LEAD_SECONDS")
    # Calendar months in the account's timezone (the spec's "at most 6 months in the future").
    schedule_max_lead_months: int = Field(
        6, ge=1, le=120, validation_alias="SCHEDULE_MAX_LEAD_MONTHS"
    )
    # Instagram's cap per caption since December 2025 (was 30).
    max_hashtags: int = Field(HASHTAGS_MAX, ge=0, validation_alias="MAX_HASHTAGS")
    # How long POST .../publish-now waits for the worker's outcome before answering.
    publish_now_wait_seconds: float = Field(
        15.0, ge=0, le=120, validation_alias="PUBLISH_NOW_WAIT_SECONDS"
    )

    # --- publishing ----------------------------------------------------------------------
    publish_max_attempts: int = Field(3, ge=1, validation_alias="PUBLISH_MAX_ATTEMPTS")
    publish_retry_base_seconds: float = Field(
        60.0, ge=0, validation_alias="PUBLISH_RETRY_BASE_SECONDS"
    )
    # Renewed every third of it while the worker lives: a dead worker's posts are taken over
    # within a lease and a second (bench/chaos --scenario defaults).
    publish_lease_seconds: int = Field(10, ge=5, validation_alias="PUBLISH_LEASE_SECONDS")
    container_poll_max_seconds: float = Field(
        600.0, gt=0, validation_alias="CONTAINER_POLL_MAX_SECONDS"
    )
    # Publications in flight per worker process (the bullmq concurrency). They wait on Instagram
    # holding no database connection, so the bound is memory (docs/performance.md: RSS at the
    # peak). WORKER_CONCURRENCY is the older name.
    worker_max_in_flight: int = Field(
        1000,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("WORKER_MAX_IN_FLIGHT", "WORKER_CONCURRENCY"),
    )
    # Publications of one account at a time, across every worker process and host (Redis).
    worker_max_in_flight_per_account: int = Field(
        1, ge=1, le=100, validation_alias="WORKER_MAX_IN_FLIGHT_PER_ACCOUNT"
    )
    # Pre-staged containers (docs/staging.md): how long before `scheduled_for` a post's
    # containers are created and waited for, by kind (0: at the due time, as without staging);
    # staging never takes an account past this many containers per moving 24 h (Meta: 400).
    staging_lead_seconds_image: float = Field(
        120.0, ge=0, le=6 * 3600, validation_alias="STAGING_LEAD_SECONDS_IMAGE"
    )
    staging_lead_seconds_video: float = Field(
        900.0, ge=0, le=6 * 3600, validation_alias="STAGING_LEAD_SECONDS_VIDEO"
    )
    staging_lead_seconds_carousel: float = Field(
        600.0, ge=0, le=6 * 3600, validation_alias="STAGING_LEAD_SECONDS_CAROUSEL"
    )
    staging_container_limit: int = Field(400, ge=0, validation_alias="STAGING_CONTAINER_LIMIT")
    reconcile_interval_seconds: float = Field(
        60.0, gt=0, validation_alias="RECONCILE_INTERVAL_SECONDS"
    )
    token_refresh_interval_seconds: float = Field(
        86400.0, gt=0, validation_alias="TOKEN_REFRESH_INTERVAL_SECONDS"
    )
    # Redis holds jobs only for posts due within this many seconds (docs/scaling.md); the
    # promoter moves posts entering it from PostgreSQL every RECONCILE_INTERVAL_SECONDS.
    # 0: no horizon (every scheduled post has its job in Redis).
    dispatch_horizon_seconds: float = Field(
        3600.0, ge=0, validation_alias="DISPATCH_HORIZON_SECONDS"
    )
    # The publishing quota per 24 h of an account whose content_publishing_limit was never read.
    publish_quota_default: int = Field(100, ge=1, validation_alias="PUBLISH_QUOTA_DEFAULT")
    # Post insights read again after publishing (publishing.insights): how often a worker looks
    # for due readings, and at most how many one pass reads.
    insights_refresh_interval_seconds: float = Field(
        60.0, gt=0, validation_alias="INSIGHTS_REFRESH_INTERVAL_SECONDS"
    )
    insights_batch_size: int = Field(50, ge=1, le=1000, validation_alias="INSIGHTS_BATCH_SIZE")
    run_worker: bool = Field(True, validation_alias="RUN_WORKER")
    # `instasched run` only: how many `instasched worker` processes it starts (2: publishing
    # uses both cores of a small machine when many posts fall due at once; bench/README.md).
    worker_processes: int = Field(2, ge=1, le=32, validation_alias="WORKER_PROCESSES")
    # `instasched run` restarts a child or embedded server that dies; more than this many
    # crashes of one within the window is a crash loop and stops everything.
    supervisor_max_restarts: int = Field(5, ge=0, validation_alias="SUPERVISOR_MAX_RESTARTS")
    supervisor_window_seconds: float = Field(
        300.0, gt=0, validation_alias="SUPERVISOR_WINDOW_SECONDS"
    )

    # --- operations ----------------------------------------------------------------------
    alert_webhook_url: str | None = Field(None, validation_alias="ALERT_WEBHOOK_URL")
    # The publishing alerts (instasched.ops.health), checked every RECONCILE_INTERVAL_SECONDS:
    # posts failed within the window; posts still `publishing` ALERT_LATE_SECONDS past their
    # lease; posts still `scheduled` ALERT_LATE_SECONDS past their due time.
    alert_failed_posts_threshold: int = Field(
        10, ge=1, validation_alias="ALERT_FAILED_POSTS_THRESHOLD"
    )
    alert_failed_posts_window_seconds: int = Field(
        3600, ge=60, validation_alias="ALERT_FAILED_POSTS_WINDOW_SECONDS"
    )
    alert_stuck_posts_threshold: int = Field(
        1, ge=1, validation_alias="ALERT_STUCK_POSTS_THRESHOLD"
    )
    alert_overdue_posts_threshold: int = Field(
        1, ge=1, validation_alias="ALERT_OVERDUE_POSTS_THRESHOLD"
    )
    alert_late_seconds: int = Field(120, ge=1, validation_alias="ALERT_LATE_SECONDS")
    worker_metrics_port: int | None = Field(None, validation_alias="WORKER_METRICS_PORT")

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else value

    @model_validator(mode="after")
    def _apply_aliases(self) -> Settings:
        if not self.redis_url and self.redis_host:
            self.redis_url = f"redis://{self.redis_host}:{self.redis_port or 6379}/0"
        if not self.s3_endpoint and self.minio_endpoint:
            endpoint = self.minio_endpoint
            if "://" not in endpoint:
                scheme = "https" if self.minio_use_ssl else "http"
                port = f":{self.minio_port}" if self.minio_port else ""
                endpoint = f"{scheme}://{endpoint}{port}"
            self.s3_endpoint = endpoint
        return self

    @model_validator(mode="after")
    def _horizon_covers_the_promoter(self) -> Settings:
        # A post entering the horizon is promoted up to one interval later: with a shorter
        # horizon it would be enqueued after its due time.
        horizon = self.dispatch_horizon_seconds
        if horizon and horizon < 2 * self.reconcile_interval_seconds:
            raise ValueError(
                f"DISPATCH_HORIZON_SECONDS ({horizon:g}) must be 0 (no horizon) or at least twice "
                f"RECONCILE_INTERVAL_SECONDS ({self.reconcile_interval_seconds:g}), the "
                "promoter's period"
            )
        return self

    @model_validator(mode="after")
    def _no_implicit_sandbox_in_production(self) -> Settings:
        # In production the sandbox (a fake Instagram anyone can sign in to) is never a fallback.
        if (
            self.environment == "production"
            and self.instagram_sandbox == "auto"
            and not self.meta_app_configured
        ):
            raise ValueError(
                "INSTASCHED_ENV=production needs INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET "
                "(or FACEBOOK_APP_ID and FACEBOOK_APP_SECRET: Meta's app credentials); to run on "
                "the built-in Instagram sandbox on purpose, set INSTAGRAM_SANDBOX=true"
            )
        return self

    # --- derived -------------------------------------------------------------------------
    @property
    def meta_app_configured(self) -> bool:
        """Credentials of either login are set (Instagram Login or Facebook Login)."""
        return bool(
            (self.instagram_app_id and self.instagram_app_secret)
            or (self.facebook_app_id and self.facebook_app_secret)
        )

    @property
    def sandbox_enabled(self) -> bool:
        """The built-in sandbox plays both Graph hosts (graph.instagram.com and
        graph.facebook.com) when no Meta app credentials are set (or INSTAGRAM_SANDBOX=true)."""
        if self.instagram_sandbox == "auto":
            return not self.meta_app_configured
        return self.instagram_sandbox == "true"

    @property
    def sandbox_control_open(self) -> bool:
        """The sandbox's control routes answer without SANDBOX_CONTROL_SECRET."""
        return self.environment in ("development", "test")

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def admin_email_set(self) -> set[str]:
        return {e.strip().lower() for e in self.admin_emails.split(",") if e.strip()}

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (instasched run starts an embedded one)")
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set (instasched run starts an embedded one)")
        return self.redis_url


def normalise_database_url(url: str) -> str:
    """Accept `postgresql://` / `postgres://` and use the asyncpg driver."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        scheme = "postgresql+asyncpg"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def plain_database_url(url: str) -> str:
    """The libpq form (`postgresql://`), for tools that do not take a driver name."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def database_url_for(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (after the environment changed, e.g. embedded servers)."""
    get_settings.cache_clear()


def set_env_defaults(values: dict[str, str]) -> None:
    """Set environment variables that are not already set."""
    for key, value in values.items():
        os.environ.setdefault(key, value)
