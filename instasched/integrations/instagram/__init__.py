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

__all__ = [
    "GraphAuthError",
    "GraphClient",
    "GraphError",
    "GraphMediaNotReady",
    "GraphNewContainerNeeded",
    "GraphPermanentError",
    "GraphQuotaError",
    "GraphRetryableError",
    "classify_error",
]
