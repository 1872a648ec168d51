"""CSV import of 1,000 rows (issue 20 item 3): the goal is <= 10 s for the commit.

    bench/import_bench.py [--rows 1000]      # = bench/run --only import (its own server)

The figure itself lives here and is run by bench/run (bench/suite.py, figure `import`): a fresh
sandbox account is connected, a CSV of `rows` rows is built (account by username, times without
offset spread over 150 days, a caption with a hashtag, the media asset uploaded by the suite's
setup, a first comment and a people tag), then sent as a dry run (the full check of every row,
rolled back), and committed (every row saved in one transaction, jobs queued after the commit).
The time is the client's, from the request's first byte to the report.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib
import httpx

BASE = "/api/instagram/scheduling"
HEADER = ["account", "time", "caption", "media", "first_comment", "tags"]


def build_csv(username: str, asset_id: str, rows: int, *, start: datetime) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(rows):
        # Distinct minutes over 150 days: ~7 posts a day, well inside the publishing quota.
        when = start + timedelta(minutes=i * (150 * 24 * 60 // max(rows, 1)))
        writer.writerow(
            [
                username,
                when.strftime("%Y-%m-%dT%H:%M:%S"),
                f"Row {i}: winter knits, made to last #knitwear",
                asset_id,
                "More colours in our bio link",
                "alpine.knits:0.4:0.6",
            ]
        )
    return out.getvalue().encode()


async def connect_account(http: httpx.AsyncClient, sandbox: str, headers: dict[str, str]) -> str:
    user = {"username": f"bench_import_{secrets.token_hex(3)}", "followers": 1000}
    account = await benchlib.connect_account(
        http, headers, user, timezone="Europe/Paris", sandbox=sandbox
    )
    return str(account["username"])


async def send(
    http: httpx.AsyncClient, headers: dict[str, str], data: bytes, *, dry_run: bool
) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    r = await http.post(
        f"{BASE}/import",
        params={"dryRun": "true" if dry_run else "false"},
        files={"file": ("posts.csv", data, "text/csv")},
        headers=headers,
        timeout=120,
    )
    elapsed = time.perf_counter() - t0
    r.raise_for_status()
    report: dict[str, Any] = r.json()
    return elapsed, report


async def measure(
    http: httpx.AsyncClient,
    *,
    sandbox: str,
    headers: dict[str, str],
    asset_id: str,
    rows: int = 1000,
) -> dict[str, Any]:
    """Dry run, then commit, of a fresh `rows`-row CSV: seconds and the reports' counts."""
    username = await connect_account(http, sandbox, headers)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    data = build_csv(username, asset_id, rows, start=start)
    dry_seconds, dry = await send(http, headers, data, dry_run=True)
    assert dry["valid"] == rows, [r for r in dry["rows"] if not r["valid"]][:3]
    commit_seconds, done = await send(http, headers, data, dry_run=False)
    assert done["created"] == rows and done["committed"], done["invalid"]
    return {
        "rows": rows,
        "bytes": len(data),
        "dry_run_seconds": dry_seconds,
        "commit_seconds": commit_seconds,
    }


def main() -> int:
    rows = sys.argv[sys.argv.index("--rows") + 1] if "--rows" in sys.argv else "1000"
    suite = Path(__file__).resolve().parent / "suite.py"
    os.execv(
        sys.executable, [sys.executable, str(suite), "--only", "import", "--import-rows", rows]
    )


if __name__ == "__main__":
    raise SystemExit(main())
