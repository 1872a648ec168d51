"""The sandbox's added latency: Meta-like timing for every account, set by environment.

Meta answers a Graph call in hundreds of milliseconds, creates an image container in 1-3 s (it
downloads the media during the call), publishes in a second or two and processes a reel for tens
of seconds. The sandbox answers in microseconds unless told otherwise: `SANDBOX_LATENCY_PROFILE`,
`SANDBOX_LATENCY_MS` / `SANDBOX_LATENCY_SPREAD_MS` and `SANDBOX_LATENCY_MS_<ENDPOINT>` set an
added latency per endpoint, drawn uniformly in [mean - spread, mean + spread] (never below 0) on
each call. The delay is taken where a queued `latencyMs` fault is (`media.apply_fault`): one
asyncio sleep, which holds no thread and no lock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from instasched.config import Settings

# The endpoint names of `GET /_control/calls` (and of faults, for the five that take them).
LATENCY_ENDPOINTS = (
    "media",
    "container_status",
    "media_publish",
    "media_fields",
    "insights",
    "comments",
    "list_media",
    "publishing_limit",
)


@dataclass(frozen=True)
class Latency:
    """An added latency: `mean_ms` ± `spread_ms`, uniform."""

    mean_ms: float = 0.0
    spread_ms: float = 0.0

    @property
    def bounds_ms(self) -> tuple[float, float]:
        return max(0.0, self.mean_ms - self.spread_ms), self.mean_ms + self.spread_ms

    def draw_ms(self) -> float:
        low, high = self.bounds_ms
        return random.uniform(low, high) if high > 0 else 0.0


@dataclass(frozen=True)
class Profile:
    """A named set of timings (`SANDBOX_LATENCY_PROFILE`)."""

    default: Latency
    endpoints: dict[str, Latency] = field(default_factory=dict)
    video_processing_seconds: float = 2.0


PROFILES: dict[str, Profile] = {
    "none": Profile(default=Latency()),
    # Meta's timings as publishing tools report them: reads ~0.15-0.45 s, image container
    # creation 1-3 s (Meta downloads the media), media_publish 1-2 s, reels tens of seconds.
    "meta": Profile(
        default=Latency(300, 150),
        endpoints={"media": Latency(2000, 1000), "media_publish": Latency(1500, 500)},
        video_processing_seconds=30.0,
    ),
}


class LatencyProfile:
    """The added latency of each endpoint, resolved once per process from the settings."""

    def __init__(self, endpoints: dict[str, Latency] | None = None) -> None:
        self.endpoints = endpoints or {}

    def of(self, endpoint: str) -> Latency:
        return self.endpoints.get(endpoint, Latency())

    def draw_ms(self, endpoint: str) -> float:
        latency = self.endpoints.get(endpoint)
        return latency.draw_ms() if latency is not None else 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LatencyProfile:
        """An endpoint's own mean (`SANDBOX_LATENCY_MS_<ENDPOINT>`) wins over
        `SANDBOX_LATENCY_MS`, which wins over the profile; `SANDBOX_LATENCY_SPREAD_MS` applies to
        every endpoint, else a profile's mean keeps its spread and a set mean has none."""
        profile = PROFILES[settings.sandbox_latency_profile]
        own = {
            "media": settings.sandbox_latency_ms_media,
            "container_status": settings.sandbox_latency_ms_container_status,
            "media_publish": settings.sandbox_latency_ms_media_publish,
        }
        endpoints: dict[str, Latency] = {}
        for endpoint in LATENCY_ENDPOINTS:
            mean = own.get(endpoint)
            if mean is None:
                mean = settings.sandbox_latency_ms
            if mean is None:
                latency = profile.endpoints.get(endpoint, profile.default)
            else:
                latency = Latency(mean)
            if settings.sandbox_latency_spread_ms is not None:
                latency = Latency(latency.mean_ms, settings.sandbox_latency_spread_ms)
            if latency.bounds_ms[1] > 0:
                endpoints[endpoint] = latency
        return cls(endpoints)


def video_processing_seconds(settings: Settings) -> float:
    """`SANDBOX_VIDEO_PROCESSING_SECONDS`, else the latency profile's."""
    if settings.sandbox_video_processing_seconds is not None:
        return float(settings.sandbox_video_processing_seconds)
    return PROFILES[settings.sandbox_latency_profile].video_processing_seconds
