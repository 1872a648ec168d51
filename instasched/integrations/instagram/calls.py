"""The base of the Graph client's mixins: what they call (`GraphClient.request`)."""

from __future__ import annotations

from typing import Any


class GraphCalls:
    """Mixed into `GraphClient`, which provides `request`."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        versioned: bool = True,
        url: str | None = None,
    ) -> dict[str, Any]:  # pragma: no cover - provided by GraphClient
        raise NotImplementedError
