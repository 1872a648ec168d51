"""Instagram Graph API: typed async client and one exception tree (see `errors`)."""

from instasched.integrations.instagram.client import GraphClient
from instasched.integrations.instagram.errors import (
    GraphAuthError,
    GraphError,
    GraphMediaNotReady,
    GraphNewContainerNeeded,
    GraphPermanentError,
    GraphQuotaError,
    GraphRetryableError,
    classify_error,
)
from instasched.integrations.instagram.media import (
    ContainerSpec,
    ContainerStatus,
    ContainerStatusCode,
    MediaInfo,
    PublishingLimit,
    RecentMedia,
)

__all__ = [
    "ContainerSpec",
    "ContainerStatus",
    "ContainerStatusCode",
    "GraphAuthError",
    "GraphClient",
    "GraphError",
    "GraphMediaNotReady",
    "GraphNewContainerNeeded",
    "GraphPermanentError",
    "GraphQuotaError",
    "GraphRetryableError",
    "MediaInfo",
    "PublishingLimit",
    "RecentMedia",
    "classify_error",
]
