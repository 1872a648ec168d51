"""The sandbox's content publishing: containers, media_publish, media, insights, comments.

Same paths and JSON as the Graph API, and Meta's rules. Every Graph call takes the added latency
of `latency.py` (none by default). The parts, each in its module:

- `media_state.py`: containers, media, faults and quotas in the SQLite store; what the routes
  share (parameters, owner check, latency and faults, dropped connections);
- `containers.py`: container creation, with the download and Meta's checks of the media;
- `publish.py`: `media_publish` and the publishing quota;
- `published.py`: reading containers and media (fields, insights), comments;
- `media_control.py`: the `/_control/...` endpoints of tests and demos (faults, quotas, ...).
"""

from __future__ import annotations

from fastapi import FastAPI

from instasched.integrations.instagram import publish_rules as meta
from instasched.sandbox import containers, media_control, publish, published
from instasched.sandbox.latency import LatencyProfile, video_processing_seconds
from instasched.sandbox.media_state import DropConnectionMiddleware, MediaState
from instasched.sandbox.state import SandboxState


def install(app: FastAPI) -> None:
    """Called by `create_sandbox_app`: state, routes, the connection-dropping middleware."""
    sb: SandboxState = app.state.sandbox
    settings = getattr(app.state, "settings", None)
    ms = MediaState(sb.store)
    if settings is not None:
        ms.processing_seconds = video_processing_seconds(settings)
        ms.quota_total = int(settings.sandbox_publish_quota)
        ms.container_limit = int(settings.sandbox_container_limit)
        ms.latency = LatencyProfile.from_settings(settings)
        ms.max_hashtags = int(getattr(settings, "max_hashtags", meta.HASHTAGS_MAX))
    sb.extras["media"] = ms
    # In the order the routes were written: control, creation, publishing, reads.
    for module in (media_control, containers, publish, published):
        app.include_router(module.router)
    app.add_middleware(DropConnectionMiddleware)
