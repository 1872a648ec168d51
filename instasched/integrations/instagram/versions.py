"""Graph API versions and the day Meta retires each: the one table the settings, the sandbox
and the tests read.

Meta keeps a version for at least two years and retires it two years after the next one is
released; a call to a retired version is not refused but silently served by the oldest version
still available, so a stale `INSTAGRAM_API_VERSION` would change behaviour without an error. The
sandbox therefore refuses a retired (or unknown) version, and tests/integrations/
test_graph_versions.py fails when the default is within `RETIREMENT_MARGIN_DAYS` of its end.

Source: Meta's "Available Graph API Versions" table,
https://developers.facebook.com/docs/graph-api/changelog/versions (read 2026-12-06). The row of
2026-11-04 (v27.0) is from the English changelog updated 2026-10-29, whose rows list no version
label; it is the row above v26.0. `None`: Meta has not announced the end yet ("TBD").

Upgrade: read the changelogs of the versions in between (Instagram Platform sections), add the
new rows here, move `DEFAULT_VERSION`, run tests/publishing and tests/integrations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# The INSTAGRAM_API_VERSION default: the newest version with a confirmed label and changelog.
DEFAULT_VERSION = "v26.0"
RETIREMENT_MARGIN_DAYS = 90
VERSION_PATTERN = re.compile(r"^v[0-9]+\.[0-9]+$")
CHANGELOG_URL = "https://developers.facebook.com/docs/graph-api/changelog/versions"


@dataclass(frozen=True)
class GraphApiVersion:
    name: str
    released: date
    available_until: date | None  # None: not announced yet


VERSIONS: tuple[GraphApiVersion, ...] = (
    GraphApiVersion("v27.0", date(2026, 11, 4), None),
    GraphApiVersion("v26.0", date(2026, 7, 29), None),
    GraphApiVersion("v25.0", date(2026, 2, 18), date(2028, 7, 29)),
    GraphApiVersion("v24.0", date(2025, 10, 8), date(2028, 2, 18)),
    GraphApiVersion("v23.0", date(2025, 5, 29), date(2027, 10, 8)),
    GraphApiVersion("v22.0", date(2025, 1, 21), date(2027, 5, 20)),
    GraphApiVersion("v21.0", date(2024, 10, 2), date(2027, 1, 21)),
    GraphApiVersion("v20.0", date(2024, 5, 21), date(2026, 9, 24)),
    GraphApiVersion("v19.0", date(2024, 1, 23), date(2026, 5, 21)),
    GraphApiVersion("v18.0", date(2023, 9, 12), date(2026, 1, 26)),
    GraphApiVersion("v17.0", date(2023, 5, 23), date(2025, 9, 12)),
    GraphApiVersion("v16.0", date(2023, 2, 2), date(2025, 5, 14)),
    GraphApiVersion("v15.0", date(2022, 9, 15), date(2024, 11, 20)),
    GraphApiVersion("v14.0", date(2022, 5, 25), date(2024, 9, 17)),
    GraphApiVersion("v13.0", date(2022, 2, 8), date(2024, 5, 28)),
)
_BY_NAME = {v.name: v for v in VERSIONS}


def find(name: str) -> GraphApiVersion | None:
    return _BY_NAME.get(name)


def available(name: str, *, today: date) -> GraphApiVersion | None:
    """The version when Meta serves it on `today` (released, not yet retired), else None."""
    version = find(name)
    if version is None or version.released > today:
        return None
    if version.available_until is not None and today >= version.available_until:
        return None
    return version


def days_left(name: str, *, today: date) -> int | None:
    """Days until Meta retires the version (None: no end announced)."""
    version = find(name)
    if version is None or version.available_until is None:
        return None
    return (version.available_until - today).days
