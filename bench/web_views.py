"""How fast each view of the web app is usable, with 1,000 posts in the month.

Starts its own `instasched run` (bench/harness.py's Server, as bench/run does: temporary data dir,
embedded PostgreSQL/Redis/S3, the in-process sandbox), connects one sandbox account, uploads 20
images, seeds 1,000 posts over the current month by SQL (past ones published, a few failed, future
ones scheduled, 1 in 10 waiting for approval, each with one of the images), then drives Debian's
Chromium (Playwright) through the app. Each view is reached the way a user does (the hash changes
from another view) and timed in the page with the Performance API: `performance.mark` before the
navigation, another when the view's content is in the DOM and a frame has been painted;
`performance.measure` between them. The first visit of a view (cold: its requests and, for the
calendar and grid, the media library for thumbnails) and the median / max of the following ones are
printed, with the number of requests the view made. The goal is <= 500 ms for every view.

Then the import screen's dry run of a 1,000-row CSV (each row: the account, a time, a caption,
one of the images): from giving the file to the report drawn and painted (the upload and the
server's dry run included), and the part after the API answered (reading the file's cells and
drawing the first 300 rows); then "Show 300 more" adding the next 300.

    .venv/bin/python bench/web_views.py [--posts 1000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import connect_account, jpeg, sign_up  # noqa: E402
from harness import Server  # noqa: E402

TZ = "Europe/Berlin"
GOAL_MS = 500
# Without the resolver rule Chromium looks up update and autofill hosts (no network here).
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]

# (name, hash, selector present once the view is usable)
VIEWS = [
    ("calendar month", "#/calendar/{today}/month", "#calendar .month .post"),
    ("calendar week", "#/calendar/{today}/week", "#calendar .week .post"),
    ("calendar day", "#/calendar/{today}/day", "#calendar .day-view .post"),
    ("compose", "#/compose", "#media-picker label"),
    ("grid", "#/grid", "#ig-grid li"),
    ("media library", "#/media", ".media-card"),
    ("best times", "#/best-times", "#heatmap td"),
    ("templates", "#/templates", "#new-template"),
    ("accounts", "#/accounts", ".account-card"),
    ("import CSV", "#/import", "#import-dropzone"),
    # The queue's list is in the page before its posts are read: its cards mean they are drawn
    # (the seeded posts waiting for approval).
    ("approvals", "#/approvals", "#approval-queue .approval-card"),
    # Members, then (an owner's) invitations are read and drawn; the new-workspace form last.
    ("workspace", "#/workspace", "#new-ws-name"),
]
# Between two measured navigations the app rests on this view.
REST = ("#/templates", "#new-template")

MEASURE = """async ([hash, selector]) => {
  const seen = () => document.querySelector(selector);
  performance.setResourceTimingBufferSize(100000);
  performance.clearResourceTimings();
  performance.clearMarks();
  performance.mark('nav-start');
  const ready = new Promise((resolve) => {
    if (seen()) return resolve();
    const obs = new MutationObserver(() => { if (seen()) { obs.disconnect(); resolve(); } });
    obs.observe(document.body, { childList: true, subtree: true });
  });
  location.hash = hash;
  const found = await Promise.race([ready.then(() => true),
    new Promise((r) => setTimeout(() => r(false), 10000))]);
  if (!found) return { ms: null, requests: 0 };  // the view does not exist (an older app)
  // Usable means painted: wait for the next frame to be produced.
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  performance.mark('nav-ready');
  const m = performance.measure('nav', 'nav-start', 'nav-ready');
  const requests = performance.getEntriesByType('resource')
    .filter((e) => e.initiatorType === 'fetch' || e.initiatorType === 'xmlhttprequest').length;
  return { ms: m.duration, requests };
}"""


async def setup(server: Server, posts: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        await server.wait_ready(http)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        password = "pw-" + secrets.token_hex(12)
        workspace_id, headers = await sign_up(http, email, password)
        user = {"username": f"bench_{secrets.token_hex(3)}", "timezone": TZ}
        account = await connect_account(http, headers, user, timezone=TZ, sandbox=server.sandbox)
        account_id = account["id"]
        assets = []
        for i in range(20):
            r = await http.post(
                "/api/instagram/scheduling/media/upload",
                params={"accountId": account_id},
                files={"file": (f"img{i}.jpg", jpeg((10 * i, 120, 200 - 8 * i)), "image/jpeg")},
                headers=headers,
            )
            r.raise_for_status()
            assets.append(r.json())
        for day in range(7):
            await http.post(
                f"/api/instagram/scheduling/schedules/{account_id}",
                json={"dayOfWeek": day, "timeSlots": ["09:00", "13:00", "18:00"]},
                headers=headers,
            )
    await seed(
        server.database_url,
        workspace_id=workspace_id,
        account_id=account_id,
        assets=assets,
        rows=posts,
    )
    return {
        "email": email,
        "password": password,
        "username": account["username"],
        "assetIds": [a["id"] for a in assets],
    }


async def seed(
    database_url: str,
    *,
    workspace_id: str,
    account_id: str,
    assets: list[dict[str, Any]],
    rows: int,
) -> None:
    """`rows` posts spread evenly over the current month (in TZ): past published (1 in 20
    failed), future scheduled (1 in 10 waiting for approval, submitted by the workspace's
    owner: the approval queue's posts)."""
    now = datetime.now(ZoneInfo(TZ))
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    step = (end - start) / rows
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        records = []
        for i in range(rows):
            at = (start + step * i).astimezone(UTC)
            asset = assets[i % len(assets)]
            past = at < datetime.now(UTC) + timedelta(minutes=10)
            if past:
                status = "failed" if i % 20 == 0 else "published"
            else:
                status = "needs_approval" if i % 10 == 5 else "scheduled"
            records.append((at, f"Seeded post {i} ☀️ #bench", asset["s3Url"], asset["id"], status))
        await conn.executemany(
            """INSERT INTO instagram_scheduled_posts
                 (instagram_account_id, workspace_id, scheduled_for, caption, media_urls, media_ids,
                  media_type, status, published_at, last_publish_error,
                  approval_submitted_by, approval_submitted_at)
               VALUES ($1::uuid, $2::uuid, $3::timestamptz, $4, jsonb_build_array($5::text),
                       jsonb_build_array($6::text), 'IMAGE', $7::text,
                       CASE WHEN $7::text = 'published' THEN $3::timestamptz END,
                       CASE WHEN $7::text = 'failed' THEN 'Seeded failure' END,
                       CASE WHEN $7::text = 'needs_approval' THEN $2::uuid END,
                       CASE WHEN $7::text = 'needs_approval' THEN now() END)""",
            [(account_id, workspace_id, *r) for r in records],
        )
        await conn.execute(
            "UPDATE instagram_accounts SET publishing_quota = 1000000 WHERE id = $1::uuid",
            account_id,
        )
        await conn.execute("VACUUM ANALYZE instagram_scheduled_posts")
    finally:
        await conn.close()


async def drive(server: Server, login: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("Debian's chromium is needed: apt-get install -y chromium")
    today = datetime.now(ZoneInfo(TZ)).date().isoformat()
    rows = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        loads = []
        for _ in range(repeat + 1):  # a reload forgets the token: the login page
            await page.goto(server.url + "/")
            await page.wait_for_selector("#auth-email, input[type=email]")
            loads.append(
                await page.evaluate(
                    "() => new Promise((r) => requestAnimationFrame(() => setTimeout(() => "
                    "r(performance.now()), 0)))"
                )
            )
        await page.get_by_label("Email").fill(login["email"])
        await page.get_by_label("Password").fill(login["password"])
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_selector("#logout")
        rows.append(
            {
                "view": "page load (login form)",
                "cold": loads[0],
                "median": statistics.median(loads[1:]),
                "max": max(loads[1:]),
                "requests": None,
            }
        )
        for name, hash_, selector in VIEWS:
            times = []
            requests = []
            for _ in range(repeat + 1):
                await page.evaluate(MEASURE, [REST[0], REST[1]])
                r = await page.evaluate(MEASURE, [hash_.format(today=today), selector])
                times.append(r["ms"])
                requests.append(r["requests"])
            if times[0] is None:
                rows.append(
                    {"view": name, "cold": None, "median": None, "max": None, "requests": None}
                )
                continue
            warm = times[1:]
            rows.append(
                {
                    "view": name,
                    "cold": times[0],
                    "median": statistics.median(warm),
                    "max": max(warm),
                    "requests": requests[0],
                }
            )
        rows.extend(await import_report(page, login, repeat))
        await browser.close()
    return rows


IMPORT_ROWS = 1000

# Time from giving the file to the report painted, and the part after the API's answer (the
# responseEnd of the import request): what the page itself spends.
IMPORT_MEASURE = """async () => {
  performance.clearResourceTimings();
  const t0 = performance.now();
  await new Promise((resolve) => {
    const obs = new MutationObserver(() => {
      if (document.querySelector('#import-summary')) { obs.disconnect(); resolve(); }
    });
    obs.observe(document.body, { childList: true, subtree: true });
    window.startImport();
  });
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const done = performance.now();
  const xhr = performance.getEntriesByType('resource').filter((e) => e.name.includes('/import'));
  return { ms: done - t0, page: xhr.length ? done - xhr[xhr.length - 1].responseEnd : null };
}"""

SHOW_MORE = """async () => {
  const t0 = performance.now();
  document.getElementById('import-show-more').click();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const rows = document.querySelectorAll('#import-table tbody tr').length;
  return { ms: performance.now() - t0, rows };
}"""


def import_csv(login: dict[str, Any]) -> str:
    start = datetime.now(ZoneInfo(TZ)).replace(minute=0, second=0, microsecond=0)
    lines = ["account,time,caption,media"]
    for i in range(IMPORT_ROWS):
        at = (start + timedelta(days=1, minutes=10 * i)).strftime("%Y-%m-%dT%H:%M:%S")
        asset = login["assetIds"][i % len(login["assetIds"])]
        lines.append(f"@{login['username']},{at},Imported post {i} #bench,{asset}")
    return "\n".join(lines) + "\n"


async def import_report(page: Any, login: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    text = import_csv(login)
    totals, pages, show_more = [], [], []
    for _ in range(repeat + 1):
        await page.evaluate(MEASURE, [REST[0], REST[1]])
        await page.evaluate(MEASURE, ["#/import", "#import-dropzone"])
        # The file is handed to the input when the measure starts (window.startImport).
        await page.evaluate(
            """(text) => { window.startImport = () => {
                 const data = new DataTransfer();
                 data.items.add(new File([text], 'bench.csv', { type: 'text/csv' }));
                 const input = document.getElementById('import-file');
                 input.files = data.files;
                 input.dispatchEvent(new Event('change'));
               }; }""",
            text,
        )
        r = await page.evaluate(IMPORT_MEASURE)
        summary = await page.locator("#import-summary").inner_text()
        if f"{IMPORT_ROWS} rows, {IMPORT_ROWS} valid" not in summary:
            raise SystemExit(f"the bench file did not pass its dry run: {summary}")
        totals.append(r["ms"])
        pages.append(r["page"])
        s = await page.evaluate(SHOW_MORE)
        assert s["rows"] == 600, s
        show_more.append(s["ms"])
    out = []
    for name, values in (
        (f"import dry run {IMPORT_ROWS} rows", totals),
        ("  of which the page", pages),
        ("  show 300 more rows", show_more),
    ):
        out.append(
            {
                "view": name,
                "cold": values[0],
                "median": statistics.median(values[1:]),
                "max": max(values[1:]),
                "requests": None,
                "goal": name.startswith("  "),
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    server = Server({}, 0)
    server.start()
    try:
        login = asyncio.run(setup(server, args.posts))
        rows = asyncio.run(drive(server, login, args.repeat))
    finally:
        server.stop(args.keep)
    print(
        f"\nweb views, {args.posts} posts in the month, Chromium headless, 1280x900, "
        f"{args.repeat} warm visits each (goal <= {GOAL_MS} ms)"
    )
    print(f"{'view':28} {'cold ms':>9} {'median ms':>10} {'max ms':>8} {'requests':>9}  goal")
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        worst = max((v for v in (r["cold"], r["max"]) if v is not None), default=None)
        ok = "-" if worst is None else "ok" if worst <= GOAL_MS else "OVER"
        if r.get("goal") is False:  # the upload and the server's dry run: no view goal
            ok = "-"
        print(
            f"{r['view']:28} {fmt(r['cold']):>9} {fmt(r['median']):>10} {fmt(r['max']):>8} "
            f"{fmt(r['requests']):>9}  {ok}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
