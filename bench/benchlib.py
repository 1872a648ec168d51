"""Helpers shared by the bench scripts (importable from any of them: bench/ is on sys.path)."""

from __future__ import annotations

import io


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100), interpolated linearly between the nearest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def nearest_percentile(values: list[float], q: float) -> float:
    """The sample nearest to quantile q (0..1), no interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def jpeg(color: tuple[int, int, int] = (200, 80, 40), quality: int = 85) -> bytes:
    """A 1080 × 1080 one-colour JPEG (a valid feed image)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1080, 1080), color).save(buf, "JPEG", quality=quality)
    return buf.getvalue()
