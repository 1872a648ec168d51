"""Time helpers: aware datetimes only; wall-clock times resolved in an IANA zone."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from instasched.exceptions import Invalid


def utcnow() -> datetime:
    return datetime.now(UTC)


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """An IANA zone, or a 422 naming the field."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise Invalid(f"{name!r} is not an IANA timezone (e.g. Europe/Paris)", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a key too long for a file name (ENAMETOOLONG), a directory ("America"), ...
        raise Invalid(
            f"{name[:64]!r} is not an IANA timezone (e.g. Europe/Paris)", field=field
        ) from exc


def is_valid_zone(name: str) -> bool:
    return name in _zones()


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = set(available_timezones()) | {"UTC"}
    return _ZONES


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach `tz` to a naive wall-clock time, resolving DST gaps and overlaps.

    - A time in a gap (e.g. 02:30 on a spring-forward night) does not exist: it is moved forward
      by the gap's length (02:30 → 03:30), which is what a person means by "that time".
    - A time in an overlap (e.g. 01:30 on a fall-back night) happens twice: the first occurrence
      (fold=0, still daylight time) is used.
    """
    first = naive.replace(tzinfo=tz, fold=0)
    # Round-trip through UTC: a wall time that does not exist comes back different.
    roundtrip = first.astimezone(UTC).astimezone(tz)
    if roundtrip.replace(tzinfo=None) != naive:
        offset_before = (naive - timedelta(hours=3)).replace(tzinfo=tz).utcoffset() or timedelta()
        offset_after = (naive + timedelta(hours=3)).replace(tzinfo=tz).utcoffset() or timedelta()
        gap = offset_after - offset_before
        shifted = (naive + gap).replace(tzinfo=tz, fold=0)
        return shifted.astimezone(UTC).astimezone(tz)
    return first


def add_months(moment: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The same wall-clock time `months` calendar months after `moment` in `tz`, in UTC.

    The day is clamped to the month's end (Aug 31 + 6 months → Feb 28, or 29 in a leap year);
    a wall time in a DST gap moves forward as in `localize`.
    """
    local = moment.astimezone(tz)
    year, month0 = divmod(local.year * 12 + local.month - 1 + months, 12)
    day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
    naive = local.replace(tzinfo=None).replace(year=year, month=month0 + 1, day=day)
    return localize(naive, tz).astimezone(UTC)


def parse_datetime(value: str | datetime, tz: ZoneInfo, *, field: str) -> datetime:
    """ISO 8601 → aware UTC datetime; without an offset the value is read in `tz`."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise Invalid(
                f"{field} must be an ISO 8601 date-time such as 2026-12-01T14:00:00+01:00",
                field=field,
            ) from exc
    if parsed.tzinfo is None:
        parsed = localize(parsed, tz)
    return parsed.astimezone(UTC)
