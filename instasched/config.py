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
        "development",
        validation_alias=AliasChoices("INSTASCHED_ENV", "ENVIRONMENT"),
        description="`production` requires `JWT_SECRET` (at least 32 characters), "
        "`TOKEN_ENCRYPTION_KEY`, and Meta app credentials or `INSTAGRAM_SANDBOX=true`.",
    )
    host: str = Field(
        "127.0.0.1", validation_alias="HOST", description="Address the API listens on."
    )
    port: int = Field(3000, validation_alias="PORT", description="Port the API listens on.")
    public_url: str | None = Field(
        None,
        validation_alias="PUBLIC_URL",
        description="The service's public address (OAuth redirect URIs, links). "
        "Unset: `http://HOST:PORT`.",
    )
    data_dir: Path = Field(
        Path(".instasched"),
        validation_alias="INSTASCHED_DATA_DIR",
        description="Where `instasched run` keeps the embedded servers' data, the generated "
        "secrets (`secrets.json`: back it up) and the sandbox's state (`sandbox.sqlite3`).",
    )
    api_workers: int = Field(
        1,
        ge=1,
        validation_alias="API_WORKERS",
        description="Uvicorn worker processes of `instasched api` (one core each).",
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL", description="Root log level.")
    log_format: Literal["json", "console"] = Field(
        "json",
        validation_alias="LOG_FORMAT",
        description="`json`: one JSON object per line on stderr; `console`: for humans.",
    )

    # What one HTTP client may hold or send (instasched/kit/http_limits.py).
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias="HTTP_HEADER_TIMEOUT_SECONDS",
        description="Seconds to send the request line and headers (else 408 and closed).",
    )
    http_body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="HTTP_BODY_TIMEOUT_SECONDS",
        description="Seconds without a body byte before the connection is closed.",
    )
    http_keep_alive_timeout_seconds: int = Field(
        5,
        ge=1,
        validation_alias="HTTP_KEEP_ALIVE_TIMEOUT_SECONDS",
        description="Seconds an idle kept-alive connection stays open.",
    )
    http_max_header_size: int = Field(
        65536,
        ge=1024,
        validation_alias="HTTP_MAX_HEADER_SIZE",
        description="Bytes of request line and headers (else 431).",
    )
    max_json_body_size: int = Field(
        1024 * 1024,
        ge=1024,
        validation_alias="MAX_JSON_BODY_SIZE",
        description="Bytes of a request body other than a media upload (else 413).",
    )

    # --- servers -------------------------------------------------------------------------
    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="`postgresql://user:pass@host:port/db` (`postgres://` works too). "
        "Unset: `instasched run` starts an embedded PostgreSQL.",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        validation_alias="DATABASE_POOL_SIZE",
        description="Per process and pool: each API and worker process has two pools "
        "(SQLAlchemy's and asyncpg's), each up to twice this many connections.",
    )
    redis_url: str | None = Field(
        None,
        validation_alias="REDIS_URL",
        description="`redis://host:port/db`, or Redis Sentinel: "
        "`redis+sentinel://[:password@]host:26379,host2:26379/master_name/db`. "
        "Unset: built from `REDIS_HOST`/`REDIS_PORT`, else an embedded Valkey (AOF on).",
    )
    redis_host: str | None = Field(
        None,
        validation_alias="REDIS_HOST",
        description="The spec's alias: `REDIS_URL` becomes `redis://REDIS_HOST:REDIS_PORT/0`.",
    )
    redis_port: int | None = Field(
        None, validation_alias="REDIS_PORT", description="With `REDIS_HOST` (unset: 6379)."
    )
    queue_prefix: str = Field(
        "bull",
        validation_alias="QUEUE_PREFIX",
        description="Key prefix of the bullmq queues and the rate-limit counters (several "
        "deployments can share one Redis).",
    )
    redis_timeout_seconds: float = Field(
        2.0,
        gt=0,
        validation_alias="REDIS_TIMEOUT_SECONDS",
        description="A Redis call on a request's path (login and registration limits, "
        "`/metrics`) gives up after this long: 503 with `Retry-After`.",
    )

    s3_endpoint: str | None = Field(
        None,
        validation_alias="S3_ENDPOINT",
        description="S3 endpoint URL. Unset: built from `MINIO_ENDPOINT`, else an embedded "
        "SeaweedFS with generated keys.",
    )
    minio_endpoint: str | None = Field(
        None,
        validation_alias="MINIO_ENDPOINT",
        description="The spec's alias: `S3_ENDPOINT` becomes "
        "`http(s)://MINIO_ENDPOINT:MINIO_PORT`.",
    )
    minio_port: int | None = Field(
        None, validation_alias="MINIO_PORT", description="With `MINIO_ENDPOINT`."
    )
    minio_use_ssl: bool = Field(
        False,
        validation_alias="MINIO_USE_SSL",
        description="With `MINIO_ENDPOINT`: `https` instead of `http`.",
    )
    s3_access_key: str | None = Field(
        None,
        validation_alias=AliasChoices("S3_ACCESS_KEY", "MINIO_ACCESS_KEY"),
        description="S3 access key (generated for the embedded S3).",
    )
    s3_secret_key: str | None = Field(
        None,
        validation_alias=AliasChoices("S3_SECRET_KEY", "MINIO_SECRET_KEY"),
        description="S3 secret key (generated for the embedded S3).",
    )
    s3_bucket: str = Field(
        DEFAULT_BUCKET,
        validation_alias=AliasChoices("S3_BUCKET", "MINIO_BUCKET_INSTAGRAM"),
        description="Media bucket, created at start if missing.",
    )
    s3_region: str = Field(
        "us-east-1", validation_alias="S3_REGION", description="Region used for signing."
    )
    s3_public_endpoint: str | None = Field(
        None,
        validation_alias="S3_PUBLIC_ENDPOINT",
        description="The address browsers and Instagram download media from (presigned URLs "
        "are signed for it); must be reachable from the internet when publishing for real. "
        "Unset: `S3_ENDPOINT`.",
    )
    s3_presign_ttl_seconds: int = Field(
        3600,
        ge=60,
        validation_alias="S3_PRESIGN_TTL_SECONDS",
        description="Lifetime of the presigned URLs in API answers.",
    )
    publish_url_ttl_seconds: int = Field(
        6 * 3600,
        ge=3600,
        validation_alias="PUBLISH_URL_TTL_SECONDS",
        description="Lifetime of the presigned media URLs given to Instagram at publish time.",
    )

    # --- media ---------------------------------------------------------------------------
    max_file_size: int = Field(
        10 * 1024 * 1024,
        ge=1,
        validation_alias="MAX_FILE_SIZE",
        description="Largest image upload, in bytes (413 beyond).",
    )
    max_video_file_size: int = Field(
        100 * 1024 * 1024,
        ge=1,
        validation_alias="MAX_VIDEO_FILE_SIZE",
        description="Largest video upload, in bytes (413 beyond).",
    )
    max_image_pixels: int = Field(
        50_000_000,
        ge=1,
        validation_alias="MAX_IMAGE_PIXELS",
        description="Largest image (width × height) decoded; more is a 422 "
        "(decompression-bomb guard).",
    )
    preview_size: int = Field(
        1080,
        ge=64,
        validation_alias="PREVIEW_SIZE",
        description="Longest side of image previews and video thumbnails, in pixels.",
    )
    # Video conversion (POST /media/assets/{id}/convert): one child process per conversion.
    media_convert_cpu_seconds: int = Field(
        300,
        ge=1,
        validation_alias="MEDIA_CONVERT_CPU_SECONDS",
        description="CPU time one [video conversion](video-rules.md) may use (its child "
        "process is stopped past it: 422).",
    )
    media_convert_wall_seconds: float = Field(
        600.0,
        gt=0,
        validation_alias="MEDIA_CONVERT_WALL_SECONDS",
        description="Wall time one video conversion may take (killed past it: 422).",
    )
    media_convert_concurrency: int = Field(
        1,
        ge=1,
        validation_alias="MEDIA_CONVERT_CONCURRENCY",
        description="Video conversions at once per API process (more wait their turn).",
    )
    # Media fetched from a URL (CSV import, media/fetch.py).
    media_fetch_allow_private: bool = Field(
        False,
        validation_alias="MEDIA_FETCH_ALLOW_PRIVATE",
        description="Allow media URLs of a [CSV import](csv-import.md) on private, loopback "
        "or link-local addresses (tests, a private network).",
    )
    media_fetch_timeout_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="MEDIA_FETCH_TIMEOUT_SECONDS",
        description="Time one media download of a CSV import may take.",
    )
    import_max_rows: int = Field(
        5000, ge=1, validation_alias="IMPORT_MAX_ROWS", description="Rows of one CSV import."
    )

    # --- auth and secrets ----------------------------------------------------------------
    jwt_secret: str | None = Field(
        None,
        validation_alias="JWT_SECRET",
        description="HS256 secret of bearer tokens. Unset outside production: generated once "
        "into `INSTASCHED_DATA_DIR/secrets.json`. Changing it logs every user out.",
    )
    jwt_expires_seconds: int = Field(
        86400, ge=60, validation_alias="JWT_EXPIRES_SECONDS", description="Bearer token lifetime."
    )
    token_encryption_key: str | None = Field(
        None,
        validation_alias="TOKEN_ENCRYPTION_KEY",
        description="Key(s) that encrypt Instagram tokens at rest: Fernet keys or passphrases, "
        "comma-separated for rotation (the first encrypts, all decrypt). Unset outside "
        "production: generated into `secrets.json`. Losing it means reconnecting every account.",
    )
    login_max_failures: int = Field(
        10,
        ge=1,
        validation_alias="LOGIN_MAX_FAILURES",
        description="Failed logins per email and client address within `LOGIN_WINDOW_SECONDS` "
        "before 429.",
    )
    login_window_seconds: int = Field(
        900, ge=1, validation_alias="LOGIN_WINDOW_SECONDS", description="The login limits' window."
    )
    login_account_max_failures: int = Field(
        100,
        ge=1,
        validation_alias="LOGIN_ACCOUNT_MAX_FAILURES",
        description="Failed logins per email from all addresses together within the window "
        "before 429.",
    )
    register_max_per_hour: int = Field(
        20,
        ge=1,
        validation_alias="REGISTER_MAX_PER_HOUR",
        description="Registration attempts per client address per hour before 429.",
    )
    forwarded_allow_ips: str = Field(
        "",
        validation_alias="FORWARDED_ALLOW_IPS",
        description="Comma-separated addresses of reverse proxies whose `X-Forwarded-For` is "
        "trusted (uvicorn's option). Empty: none; the client is the TCP peer.",
    )
    admin_emails: str = Field(
        "",
        validation_alias="ADMIN_EMAILS",
        description="Comma-separated emails of administrators (`isAdmin`; the global queue "
        "statistics).",
    )

    # --- API keys, webhooks and MCP -------------------------------------------------------
    api_key_rate_limit: int = Field(
        600,
        ge=1,
        validation_alias="API_KEY_RATE_LIMIT",
        description="Requests per [API key](api-keys.md) per `API_KEY_RATE_WINDOW_SECONDS` "
        "(429 with `Retry-After` beyond).",
    )
    api_key_rate_window_seconds: int = Field(
        60, ge=1, validation_alias="API_KEY_RATE_WINDOW_SECONDS", description="That window."
    )
    webhook_allow_private_targets: bool = Field(
        False,
        validation_alias="WEBHOOK_ALLOW_PRIVATE_TARGETS",
        description="Allow [webhook](webhooks.md) URLs on private, loopback or link-local "
        "addresses (tests, a LAN deployment).",
    )
    webhook_timeout_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias="WEBHOOK_TIMEOUT_SECONDS",
        description="One webhook delivery attempt's timeout.",
    )
    webhook_max_attempts: int = Field(
        6,
        ge=1,
        validation_alias="WEBHOOK_MAX_ATTEMPTS",
        description="Attempts per webhook delivery; the n-th retry waits "
        "`WEBHOOK_RETRY_BASE_SECONDS` × 4^(n-1).",
    )
    webhook_retry_base_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="WEBHOOK_RETRY_BASE_SECONDS",
        description="Base of the webhook retries' backoff.",
    )
    webhook_poll_interval_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias="WEBHOOK_POLL_INTERVAL_SECONDS",
        description="How often the worker looks for due webhook deliveries.",
    )
    mcp_api_url: str | None = Field(
        None,
        validation_alias="INSTASCHED_URL",
        description="The API that `instasched mcp` ([MCP over stdio](mcp.md)) calls. "
        "Unset: `PUBLIC_URL`.",
    )
    mcp_api_key: str | None = Field(
        None,
        validation_alias="INSTASCHED_API_KEY",
        description="The API key `instasched mcp` sends.",
    )
    mcp_workspace_id: str | None = Field(
        None,
        validation_alias="INSTASCHED_WORKSPACE_ID",
        description="The workspace `instasched mcp` acts in (sent as `X-Workspace-Id`); unset: "
        "the key's user's personal workspace ([workspaces](workspaces.md)).",
    )

    # --- workspaces ----------------------------------------------------------------------
    workspace_invitation_ttl_hours: float = Field(
        168.0,
        gt=0,
        validation_alias="WORKSPACE_INVITATION_TTL_HOURS",
        description="How long an invitation link to a [workspace](workspaces.md) can be "
        "accepted, in hours (7 days).",
    )

    # --- Instagram -----------------------------------------------------------------------
    instagram_app_id: str | None = Field(
        None,
        validation_alias="INSTAGRAM_APP_ID",
        description='Instagram app id (Meta\'s "Instagram API with Instagram Login"). With no '
        "app credentials of either login, the sandbox stands in for Meta.",
    )
    instagram_app_secret: str | None = Field(
        None, validation_alias="INSTAGRAM_APP_SECRET", description="Instagram app secret."
    )
    instagram_redirect_uri: str | None = Field(
        None,
        validation_alias="INSTAGRAM_REDIRECT_URI",
        description="OAuth redirect URI registered with Meta. Unset: "
        "`PUBLIC_URL/api/instagram/oauth/callback`.",
    )
    instagram_graph_url: str = Field(
        "https://graph.instagram.com",
        validation_alias="INSTAGRAM_GRAPH_URL",
        description="Graph API host of Instagram Login accounts.",
    )
    # Graph API version: the default and Meta's end dates are in integrations/instagram/versions.py.
    instagram_api_version: str = Field(
        DEFAULT_VERSION,
        pattern=VERSION_PATTERN.pattern,
        validation_alias="INSTAGRAM_API_VERSION",
        description="Graph API version ([how to upgrade it](upgrades.md#graph-api-version)).",
    )
    instagram_oauth_url: str = Field(
        "https://www.instagram.com/oauth/authorize",
        validation_alias="INSTAGRAM_OAUTH_URL",
        description="Instagram's consent screen.",
    )
    instagram_token_url: str = Field(
        "https://api.instagram.com/oauth/access_token",
        validation_alias="INSTAGRAM_TOKEN_URL",
        description="Instagram's code exchange.",
    )
    facebook_app_id: str | None = Field(
        None,
        validation_alias="FACEBOOK_APP_ID",
        description="[Facebook Login for Business](login-kinds.md) app id (accounts linked to "
        "a Facebook Page).",
    )
    facebook_app_secret: str | None = Field(
        None, validation_alias="FACEBOOK_APP_SECRET", description="Facebook app secret."
    )
    facebook_redirect_uri: str | None = Field(
        None,
        validation_alias="FACEBOOK_REDIRECT_URI",
        description="Facebook Login redirect URI registered with Meta. Unset: "
        "`PUBLIC_URL/api/instagram/oauth/facebook/callback`.",
    )
    facebook_graph_url: str = Field(
        "https://graph.facebook.com",
        validation_alias="FACEBOOK_GRAPH_URL",
        description="Graph API host of Facebook Login accounts.",
    )
    facebook_oauth_url: str = Field(
        "https://www.facebook.com",
        validation_alias="FACEBOOK_OAUTH_URL",
        description="Facebook's consent dialog: `FACEBOOK_OAUTH_URL/<version>/dialog/oauth`.",
    )
    instagram_sandbox: Literal["auto", "true", "false"] = Field(
        "auto",
        validation_alias="INSTAGRAM_SANDBOX",
        description="`auto`: the [sandbox](sandbox.md) plays both Graph hosts when no app "
        "credentials of either login are set (in production `auto` without credentials "
        "refuses to start); `true`: always the sandbox; `false`: never.",
    )
    sandbox_url: str | None = Field(
        None,
        validation_alias="SANDBOX_URL",
        description="A sandbox served elsewhere (`instasched sandbox`) instead of the one "
        "mounted at `/sandbox`.",
    )
    sandbox_control_secret: str | None = Field(
        None,
        validation_alias="SANDBOX_CONTROL_SECRET",
        description="Outside development and test, the sandbox's `/_control` routes need it "
        "in `X-Sandbox-Control-Secret` (unset: closed).",
    )
    sandbox_video_processing_seconds: float | None = Field(
        None,
        ge=0,
        validation_alias="SANDBOX_VIDEO_PROCESSING_SECONDS",
        description="How long the sandbox keeps video containers `IN_PROGRESS`. Unset: 2 s, "
        "or 30 s with `SANDBOX_LATENCY_PROFILE=meta`.",
    )
    sandbox_publish_quota: int = Field(
        100,
        ge=1,
        validation_alias="SANDBOX_PUBLISH_QUOTA",
        description="Posts per account per moving 24 h the sandbox publishes (Meta's "
        "`content_publishing_limit`).",
    )
    sandbox_container_limit: int = Field(
        400,
        ge=1,
        validation_alias="SANDBOX_CONTAINER_LIMIT",
        description="Containers one sandbox account may create per moving 24 h (Meta's limit).",
    )
    # Added latency of the sandbox's Graph calls (instasched/sandbox/latency.py); unset values
    # fall back to the profile's.
    sandbox_latency_profile: Literal["none", "meta"] = Field(
        "none",
        validation_alias="SANDBOX_LATENCY_PROFILE",
        description="`meta`: Meta-like timing of every sandbox Graph call "
        "([Meta-like latency](sandbox.md#meta-like-latency)).",
    )
    sandbox_latency_ms: float | None = Field(
        None,
        ge=0,
        validation_alias="SANDBOX_LATENCY_MS",
        description="Added latency of every sandbox Graph call, mean in ms (unset: the profile's).",
    )
    sandbox_latency_spread_ms: float | None = Field(
        None,
        ge=0,
        validation_alias="SANDBOX_LATENCY_SPREAD_MS",
        description="Spread of that latency (uniform, ±), in ms.",
    )
    sandbox_latency_ms_media: float | None = Field(
        None,
        ge=0,
        validation_alias="SANDBOX_LATENCY_MS_MEDIA",
        description="Mean latency of container creation, in ms (wins over `SANDBOX_LATENCY_MS`).",
    )
    sandbox_latency_ms_container_status: float | None = Field(
        None,
        ge=0,
        validation_alias="SANDBOX_LATENCY_MS_CONTAINER_STATUS",
        description="Mean latency of a container status read, in ms.",
    )
    sandbox_latency_ms_media_publish: float | None = Field(
        None,
        ge=0,
        validation_alias="SANDBOX_LATENCY_MS_MEDIA_PUBLISH",
        description="Mean latency of `media_publish`, in ms.",
    )
    graph_timeout_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="GRAPH_TIMEOUT_SECONDS",
        description="Timeout of one Graph API call.",
    )

    # --- scheduling rules ----------------------------------------------------------------
    schedule_min_lead_seconds: int = Field(
        300,
        ge=0,
        validation_alias="SCHEDULE_MIN_LEAD_SECONDS",
        description="How far ahead `scheduledFor` must be at least.",
    )
    schedule_max_lead_months: int = Field(
        6,
        ge=1,
        le=120,
        validation_alias="SCHEDULE_MAX_LEAD_MONTHS",
        description="How far ahead `scheduledFor` may be at most: calendar months in the "
        "account's timezone (from Aug 31 the latest is Feb 28/29).",
    )
    max_hashtags: int = Field(
        HASHTAGS_MAX,
        ge=0,
        validation_alias="MAX_HASHTAGS",
        description="Hashtags allowed per caption or first comment (Instagram's cap since "
        "December 2025; it was 30).",
    )
    publish_now_wait_seconds: float = Field(
        15.0,
        ge=0,
        le=120,
        validation_alias="PUBLISH_NOW_WAIT_SECONDS",
        description="How long `POST .../posts/{id}/publish-now` waits for the worker's outcome.",
    )

    # --- publishing ----------------------------------------------------------------------
    publish_max_attempts: int = Field(
        3,
        ge=1,
        validation_alias="PUBLISH_MAX_ATTEMPTS",
        description="Attempts in all for retryable errors before a post is `failed`.",
    )
    publish_retry_base_seconds: float = Field(
        60.0,
        ge=0,
        validation_alias="PUBLISH_RETRY_BASE_SECONDS",
        description="Delay before try n+1 is this × 2^(n-1).",
    )
    # Renewed every third of it while the worker lives: a dead worker's posts are taken over
    # within a lease and a second (bench/chaos --scenario defaults).
    publish_lease_seconds: int = Field(
        10,
        ge=5,
        validation_alias="PUBLISH_LEASE_SECONDS",
        description="A worker's hold on a post it publishes, renewed every third of it; once "
        "it expires another worker takes the post over (checked every second).",
    )
    container_poll_max_seconds: float = Field(
        600.0,
        gt=0,
        validation_alias="CONTAINER_POLL_MAX_SECONDS",
        description="Longest wait for a container (video processing) in one attempt.",
    )
    # They wait on Instagram holding no database connection, so the bound is memory
    # (docs/performance.md: RSS at the peak).
    worker_max_in_flight: int = Field(
        1000,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("WORKER_MAX_IN_FLIGHT", "WORKER_CONCURRENCY"),
        description="Publications in flight per worker process (`WORKER_CONCURRENCY` is the "
        "older name); memory bounds them ([in flight](performance.md#publications-in-flight)).",
    )
    worker_max_in_flight_per_account: int = Field(
        1,
        ge=1,
        le=100,
        validation_alias="WORKER_MAX_IN_FLIGHT_PER_ACCOUNT",
        description="Publications of one account at a time, across every worker process and "
        "host (Redis).",
    )
    staging_lead_seconds_image: float = Field(
        120.0,
        ge=0,
        le=6 * 3600,
        validation_alias="STAGING_LEAD_SECONDS_IMAGE",
        description="[Pre-staged containers](staging.md) of feed images: made and waited for "
        "this long before `scheduled_for` (0: at the due time).",
    )
    staging_lead_seconds_video: float = Field(
        900.0,
        ge=0,
        le=6 * 3600,
        validation_alias="STAGING_LEAD_SECONDS_VIDEO",
        description="The same for reels, videos and stories.",
    )
    staging_lead_seconds_carousel: float = Field(
        600.0,
        ge=0,
        le=6 * 3600,
        validation_alias="STAGING_LEAD_SECONDS_CAROUSEL",
        description="The same for carousels.",
    )
    staging_container_limit: int = Field(
        400,
        ge=0,
        validation_alias="STAGING_CONTAINER_LIMIT",
        description="Staging ahead never takes an account past this many containers per "
        "moving 24 h (Meta allows 400); beyond, the post is staged at its due time.",
    )
    reconcile_interval_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias="RECONCILE_INTERVAL_SECONDS",
        description="Period of the reconciler's full pass and of the promoter (expired leases "
        "and a lost queue are checked every second).",
    )
    token_refresh_interval_seconds: float = Field(
        86400.0,
        gt=0,
        validation_alias="TOKEN_REFRESH_INTERVAL_SECONDS",
        description="How often the worker refreshes Instagram tokens (at least 24 h old, "
        "expiring within 10 days).",
    )
    dispatch_horizon_seconds: float = Field(
        3600.0,
        ge=0,
        validation_alias="DISPATCH_HORIZON_SECONDS",
        description="Redis holds jobs only for posts due within this; the promoter adds later "
        "ones as they enter it ([dispatch horizon](scaling.md#the-dispatch-horizon)). 0: no "
        "horizon; else at least twice `RECONCILE_INTERVAL_SECONDS`.",
    )
    publish_quota_default: int = Field(
        100,
        ge=1,
        validation_alias="PUBLISH_QUOTA_DEFAULT",
        description="Publishing quota per 24 h of an account whose "
        "`content_publishing_limit` was never read.",
    )
    insights_refresh_interval_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias="INSIGHTS_REFRESH_INTERVAL_SECONDS",
        description="How often each worker looks for due insights readings (1 h, 24 h and "
        "7 d after publishing).",
    )
    insights_batch_size: int = Field(
        50,
        ge=1,
        le=1000,
        validation_alias="INSIGHTS_BATCH_SIZE",
        description="Insights readings one pass reads at most.",
    )
    run_worker: bool = Field(
        True,
        validation_alias="RUN_WORKER",
        description="`false`: `instasched run` starts no worker process.",
    )
    # 2: publishing uses both cores of a small machine when many posts fall due at once
    # (bench/README.md).
    worker_processes: int = Field(
        2,
        ge=1,
        le=32,
        validation_alias="WORKER_PROCESSES",
        description="Worker processes `instasched run` starts (each with its own `/metrics` "
        "port from `WORKER_METRICS_PORT` upwards). Elsewhere, run `instasched worker` more "
        "than once.",
    )
    supervisor_max_restarts: int = Field(
        5,
        ge=0,
        validation_alias="SUPERVISOR_MAX_RESTARTS",
        description="`instasched run` restarts a child or embedded server that dies; more "
        "crashes of one than this within `SUPERVISOR_WINDOW_SECONDS` stop everything (exit 1).",
    )
    supervisor_window_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias="SUPERVISOR_WINDOW_SECONDS",
        description="That window.",
    )

    # --- operations ----------------------------------------------------------------------
    alert_webhook_url: str | None = Field(
        None,
        validation_alias="ALERT_WEBHOOK_URL",
        description="Where [alert events](monitoring.md#alerts) are POSTed as JSON "
        "(unset: none sent).",
    )
    alert_failed_posts_threshold: int = Field(
        10,
        ge=1,
        validation_alias="ALERT_FAILED_POSTS_THRESHOLD",
        description="Posts failed within `ALERT_FAILED_POSTS_WINDOW_SECONDS` that raise "
        "`publishing.failed_posts`.",
    )
    alert_failed_posts_window_seconds: int = Field(
        3600,
        ge=60,
        validation_alias="ALERT_FAILED_POSTS_WINDOW_SECONDS",
        description="That window.",
    )
    alert_stuck_posts_threshold: int = Field(
        1,
        ge=1,
        validation_alias="ALERT_STUCK_POSTS_THRESHOLD",
        description="Posts still `publishing` `ALERT_LATE_SECONDS` past their lease that raise "
        "`publishing.stuck_posts`.",
    )
    alert_overdue_posts_threshold: int = Field(
        1,
        ge=1,
        validation_alias="ALERT_OVERDUE_POSTS_THRESHOLD",
        description="Posts still `scheduled` `ALERT_LATE_SECONDS` past their due time that "
        "raise `publishing.overdue_posts`.",
    )
    alert_late_seconds: int = Field(
        120,
        ge=1,
        validation_alias="ALERT_LATE_SECONDS",
        description="How far past its lease or due time a post counts as stuck or overdue.",
    )
    worker_metrics_port: int | None = Field(
        None,
        validation_alias="WORKER_METRICS_PORT",
        description="Port of a worker's `/metrics` (unset: not served; `instasched run` sets "
        "`PORT + 1` upwards).",
    )

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
