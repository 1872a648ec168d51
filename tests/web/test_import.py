"""Issue 22 item 6 (with issue 20 item 3): importing a CSV in the web app. The dry-run report
shows each row valid or with its problems by column; the commit saves the valid rows (or all
or nothing) and links each new post on the calendar; the API's refusals are shown in words.
Checked through the public API, with axe-core, from the keyboard and at phone width."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.web.a11y import run_axe
from tests.web.helpers import (
    ApiClient,
    Session,
    connect_sandbox_account,
    jpeg,
    sign_up,
    upload_image,
)

TZ = "Europe/Berlin"
SCHED = "/api/instagram/scheduling"


def _at(days: int, hour: int) -> str:
    d = (datetime.now(ZoneInfo(TZ)) + timedelta(days=days)).date()
    return f"{d.isoformat()}T{hour:02d}:00:00"


def _csv(rows: list[list[str]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header or ["account", "time", "caption", "media", "first_comment"])
    writer.writerows(rows)
    return out.getvalue()


def _file(name: str, text: str | bytes) -> dict[str, Any]:
    data = text.encode() if isinstance(text, str) else text
    return {"name": name, "mimeType": "text/csv", "buffer": data}


def _setup(page: Page, live_server: LiveServer) -> tuple[Session, ApiClient, dict[str, Any], str]:
    """A user with a Berlin account and one uploaded image: (session, api, account, media id)."""
    session = sign_up(page)
    connect_sandbox_account(page, timezone=TZ)
    upload_image(page, "import.jpg", jpeg(1080, 1350, (40, 90, 170)))
    api = ApiClient(live_server.url, session)
    account = api.accounts()[0]
    r = api.http.get(f"{SCHED}/media", params={"accountId": account["id"]})
    r.raise_for_status()
    return session, api, account, r.json()["items"][0]["id"]


DROP_CSV = """([name, text]) => {
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type: 'text/csv' }));
  const zone = document.getElementById('import-dropzone');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    const init = { dataTransfer: data, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent(type, init));
  }
}"""


def _row(page: Page, number: int) -> Any:
    return page.locator(f'#import-table tr[data-row="{number}"]')


def test_dry_run_report_then_commit_the_valid_rows(
    page: Page, live_server: LiveServer, axe_source: str, screenshots: Path
) -> None:
    session, api, account, media_id = _setup(page, live_server)
    username = account["username"]

    # From the calendar's toolbar.
    page.goto("/#/calendar")
    page.locator("#cal-import").click()
    expect(page.get_by_role("heading", name="Import posts from a CSV")).to_be_visible()
    expect(page.locator('nav a[aria-current="page"]')).to_have_text("Calendar")

    # The sample: this account and its newest media item, and it passes a dry run as is.
    expect(page.locator("#import-sample")).to_have_attribute("data-ready", "true")
    with page.expect_download() as download:
        page.locator("#import-sample").click()
    sample = Path(download.value.path()).read_text(encoding="utf-8")
    lines = sample.splitlines()
    assert lines[0] == "account,time,caption,media,media_type,first_comment,alt_text,tags"
    assert len(lines) == 3 and all(line.startswith(f"@{username},") for line in lines[1:])
    assert all(media_id in line for line in lines[1:])
    page.locator("#import-file").set_input_files(files=[_file("sample.csv", sample)])
    expect(page.locator("#import-summary")).to_contain_text("2 rows, 2 valid, 0 with problems")
    page.locator("#import-columns summary").click()
    expect(page.locator("#import-columns")).to_contain_text("first_comment")
    page.locator("#import-columns summary").click()  # closed again (shorter screenshots)

    # A file with valid and invalid rows, dropped on the drop zone. Its blank line keeps the
    # numbering (rows as a spreadsheet numbers them, header = 1).
    text = _csv(
        [
            [f"@{username}", _at(2, 10), "Imported one #csv", media_id, "Link in bio"],
            [],
            ["@nobody.here", "", "Bad account and time", media_id, ""],
            [username, _at(3, 11), 'Hello, "world"', media_id, ""],
            [f"@{username}", _at(4, 12), "Bad media", "not-a-media-id", ""],
        ]
    )
    page.evaluate(DROP_CSV, ["posts.csv", text])
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("posts.csv: 4 rows, 2 valid, 2 with problems")
    expect(summary).to_contain_text("Nothing is saved yet")
    expect(page.locator("#import-table tbody tr")).to_have_count(4)
    expect(_row(page, 2).locator("th")).to_have_text("2")
    expect(_row(page, 2)).to_contain_text("Valid")
    expect(_row(page, 3)).to_have_count(0)  # the blank line
    bad = _row(page, 4)
    expect(bad).to_contain_text("2 problems")
    expect(bad.locator(".import-problems li")).to_have_count(2)
    expect(bad.locator(".import-problems li").nth(0)).to_contain_text("account")
    expect(bad.locator(".import-problems li").nth(0)).to_contain_text("nobody.here")
    expect(bad.locator(".import-problems li").nth(1)).to_contain_text("time")
    expect(_row(page, 5)).to_contain_text('Hello, "world"')
    expect(_row(page, 5)).to_contain_text("Valid")
    expect(_row(page, 6).locator(".import-column")).to_have_text("media")
    # The dry run saved nothing.
    assert api.posts(account["id"]) == []
    # Only the rows with problems, on request.
    page.locator("#import-only-problems").check()
    expect(page.locator("#import-table tbody tr")).to_have_count(2)
    page.locator("#import-only-problems").uncheck()
    expect(page.locator("#import-commit")).to_have_text("Schedule 2 valid rows")
    expect(page.locator("#import-commit-hint")).to_contain_text(
        "2 rows with problems are not saved"
    )

    page.emulate_media(color_scheme="light")
    found = {"light": run_axe(page, axe_source)}
    page.screenshot(path=str(screenshots / "import-dry-run.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    found["dark"] = run_axe(page, axe_source)
    page.screenshot(path=str(screenshots / "dark-import-dry-run.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    # Commit the valid rows: each gets its post, linked on the calendar.
    page.locator("#import-commit").click()
    expect(summary).to_contain_text("Scheduled 2 posts from posts.csv")
    expect(summary).to_contain_text("2 rows with problems were not saved")
    expect(page.locator("#import-options")).to_be_hidden()
    posts = {p["caption"]: p for p in api.posts(account["id"])}
    assert set(posts) == {"Imported one #csv", 'Hello, "world"'}
    first = posts["Imported one #csv"]
    assert first["firstComment"] == "Link in bio"
    assert first["status"] == "scheduled"
    shown = page.locator(".import-post-id").all_text_contents()
    assert sorted(shown) == sorted(p["id"] for p in posts.values())
    expect(_row(page, 2).locator(".import-post-id")).to_have_text(first["id"])
    expect(_row(page, 4).locator(".import-post-id")).to_have_count(0)
    found["committed"] = run_axe(page, axe_source)
    page.screenshot(path=str(screenshots / "import-committed.png"), full_page=True)
    assert found == {"light": [], "dark": [], "committed": []}, json.dumps(found, indent=1)

    page.get_by_role("link", name="Open row 2's post on the calendar").click()
    expect(page.locator(".dialog #post-caption")).to_have_text("Imported one #csv")
    day = _at(2, 10)[:10]
    assert f"#/calendar/{day}/day" in page.url
    expect(page.locator(f'#calendar [data-post-id="{first["id"]}"]')).to_be_visible()
    api.close()
    assert session.errors == []


def test_refusals_and_all_or_nothing(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    session, api, account, media_id = _setup(page, live_server)
    username = account["username"]
    page.goto("/#/import")
    file_input = page.locator("#import-file")

    # The API's 422s, in words, with nothing else drawn.
    header = ["account", "time", "colour", "media"]
    file_input.set_input_files(files=[_file("typo.csv", _csv([], header))])
    alert = page.locator("#import-status [role=alert]")
    expect(alert).to_contain_text("The file cannot be imported: Unknown column(s): colour")
    expect(page.locator("#import-report")).to_be_hidden()
    expect(page.locator("#import-options")).to_be_hidden()
    page.screenshot(path=str(screenshots / "import-refused.png"), full_page=True)
    file_input.set_input_files(
        files=[_file("latin1.csv", "account,time,media\né,x,y\n".encode("latin-1"))]
    )
    expect(alert).to_contain_text("not UTF-8")
    file_input.set_input_files(files=[_file("empty.csv", "account,time,media\n")])
    expect(alert).to_contain_text("has a header but no rows")

    # All or nothing: refused on screen while a row has problems.
    mixed = _csv(
        [
            [f"@{username}", _at(2, 9), "Fine", media_id, ""],
            [f"@{username}", "", "No time", media_id, ""],
        ]
    )
    file_input.set_input_files(files=[_file("mixed.csv", mixed)])
    expect(page.locator("#import-summary")).to_contain_text("2 rows, 1 valid, 1 with problems")
    expect(_row(page, 3).locator(".import-problems")).to_contain_text("time is empty")
    page.locator("#import-mode-all").check()
    commit = page.locator("#import-commit")
    expect(commit).to_be_disabled()
    expect(page.locator("#import-commit-hint")).to_contain_text("1 row has problems")
    assert api.posts(account["id"]) == []

    # A clean file: all of it in one transaction.
    clean = _csv(
        [
            [f"@{username}", _at(2, 9), "All one", media_id, ""],
            [f"@{username}", _at(2, 15), "All two", media_id, "First!"],
        ]
    )
    file_input.set_input_files(files=[_file("clean.csv", clean)])
    expect(page.locator("#import-summary")).to_contain_text("2 rows, 2 valid, 0 with problems")
    expect(commit).to_be_enabled()
    expect(commit).to_have_text("Schedule all 2 posts")
    commit.click()
    expect(page.locator("#import-summary")).to_contain_text("Scheduled 2 posts from clean.csv")
    posts = api.posts(account["id"])
    assert sorted(p["caption"] for p in posts) == ["All one", "All two"]
    for p in posts:
        r = api.http.get(f"{SCHED}/posts/{p['id']}/history")
        r.raise_for_status()
        created = r.json()["events"][0]
        assert created["kind"] == "created" and created["detail"]["source"] == "import"
    expect(page.locator(".import-post-id")).to_have_count(2)
    # Another file starts over.
    page.locator("#import-another").click()
    expect(page.locator("#import-report")).to_be_hidden()
    expect(page.locator("#import-dropzone")).to_be_focused()

    # A commit whose answer is lost (the server saved, the connection dropped before the
    # answer): the page says the posts may be saved and does not offer the commit again.
    late = _csv([[f"@{username}", _at(5, 9), "Answer lost", media_id, ""]])
    file_input.set_input_files(files=[_file("late.csv", late)])
    expect(page.locator("#import-summary")).to_contain_text("1 row, 1 valid")

    def answer_lost(route: Any) -> None:
        route.fetch()  # the real server commits
        route.abort("connectionreset")

    page.route("**/import?dryRun=false*", answer_lost)
    page.locator("#import-commit").click()
    expect(alert).to_contain_text("The posts may have been saved")
    expect(page.locator("#import-options")).to_be_hidden()
    captions = [p["caption"] for p in api.posts(account["id"])]
    assert captions.count("Answer lost") == 1
    page.unroute("**/import?dryRun=false*")
    api.close()
    assert session.errors == []


def _tab_to(page: Page, test: str, limit: int = 120) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return Boolean({test}); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


def test_keyboard_only_and_phone_width(
    page: Page, live_server: LiveServer, axe_source: str, screenshots: Path
) -> None:
    session, api, account, media_id = _setup(page, live_server)
    username = account["username"]
    text = _csv(
        [
            [f"@{username}", _at(3, 8), "From the keyboard", media_id, ""],
            [f"@{username}", _at(3, 9), "Bad media", "not-a-media-id", ""],
        ]
    )

    # A second account, chosen in the header: the file's rows name the first one.
    other = connect_sandbox_account(page, timezone="America/New_York")
    page.locator("#account-picker").select_option(label=f"@{other}")

    # Keyboard only: the calendar's link, the drop zone (Enter opens the file chooser), commit.
    page.goto("/#/calendar")
    expect(page.locator("#calendar")).to_be_visible()
    page.locator("body").focus()
    _tab_to(page, "el.id === 'cal-import'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Import posts from a CSV")).to_be_visible()
    _tab_to(page, "el.id === 'import-dropzone'")
    # Enter on the drop zone opens the file chooser: the file input is clicked, within the
    # key press's user activation. (Playwright's file chooser event was not always reported by
    # Chromium 156 here when this test ran after the two above in one browser, though the
    # click happened with the activation: the click is what the page controls, so it is what
    # is checked; the file is then given to the input.)
    page.evaluate(
        """() => { window.chooserOpened = [];
             document.getElementById('import-file').addEventListener('click',
               () => window.chooserOpened.push(navigator.userActivation.isActive)); }"""
    )
    page.keyboard.press("Enter")
    assert page.evaluate("() => window.chooserOpened") == [True]
    page.locator("#import-file").set_input_files(files=[_file("keys.csv", text)])
    expect(page.locator("#import-summary")).to_contain_text("2 rows, 1 valid, 1 with problems")
    # The report's heading takes the focus, so the next Tabs go through the report.
    expect(page.locator("#import-report-title")).to_be_focused()
    _tab_to(page, "el.id === 'import-commit'")
    page.keyboard.press("Enter")
    expect(page.locator("#import-summary")).to_contain_text("Scheduled 1 post from keys.csv")
    [post] = api.posts(account["id"])
    assert post["caption"] == "From the keyboard"
    # The new post's link opens it on the calendar with its own account chosen; the account
    # leaves the URL so the picker keeps working.
    _tab_to(page, "el.classList.contains('import-open')")
    page.keyboard.press("Enter")
    expect(page.locator(".dialog #post-caption")).to_have_text("From the keyboard")
    picker = page.locator("#account-picker")
    expect(picker).to_have_value(account["id"])
    assert "account=" not in page.url and "post=" not in page.url, page.url
    page.keyboard.press("Escape")
    picker.select_option(label=f"@{other}")
    other_id = next(a["id"] for a in api.accounts() if a["username"] == other)
    expect(picker).to_have_value(other_id)
    expect(page.locator("#calendar")).to_be_visible()
    expect(picker).to_have_value(other_id)

    # Phone width: the report reads as one card per row, the page does not scroll sideways,
    # and the commit button is on screen and not covered.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/#/import")
    page.locator("#import-file").set_input_files(files=[_file("phone.csv", text)])
    expect(page.locator("#import-summary")).to_contain_text("2 rows")
    commit = page.locator("#import-commit")
    commit.scroll_into_view_if_needed()
    expect(commit).to_be_in_viewport()
    box = commit.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    covered = page.evaluate(
        """([x, y]) => { const el = document.elementFromPoint(x, y);
             const target = document.getElementById('import-commit');
             return !(el && (el === target || target.contains(el))); }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert not covered
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the import view scrolls sideways by {overflow}px at phone width"
    assert run_axe(page, axe_source) == []
    page.screenshot(path=str(screenshots / "phone-import.png"), full_page=True)
    api.close()
    assert session.errors == []


def test_the_pages_csv_reader_numbers_rows_as_the_server_does(page: Page) -> None:
    """The report shows each row's cells read by the page (parseCsv); they must be the rows the
    server numbered: quoted commas, quotes and line breaks, `;` files, a BOM, blank lines."""
    comma = (
        "\ufeffAccount,Time,First Comment\n"
        '"@a, b","2026-12-20T14:00:00","say ""hi""\nthere"\n'
        "\n"
        "@c,t,\r\n"
    )
    semicolon = "account;time;caption\n@x;2026-12-20;one, two\n"
    page.goto("/")
    got = page.evaluate(
        """async ([comma, semicolon]) => {
          const m = await import('/static/js/views/import.js');
          const rows = (text) => Object.fromEntries(m.rowsByNumber(text));
          return { comma: rows(comma), semicolon: rows(semicolon),
                   sample: m.parseCsv(m.sampleCsv(null, 'abc')) };
        }""",
        [comma, semicolon],
    )

    def python(text: str, delimiter: str) -> dict[str, dict[str, str]]:
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
        header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
        return {
            str(n): {h: v.strip() for h, v in zip(header, values, strict=False)}
            for n, values in enumerate(reader, start=2)
            if any(v.strip() for v in values)
        }

    assert got["comma"] == python(comma, ",")
    assert got["comma"]["2"]["first_comment"] == 'say "hi"\nthere'
    assert set(got["comma"]) == {"2", "4"}
    assert got["semicolon"] == python(semicolon, ";")
    # The sample is a CSV the server's reader takes (header + two rows, the media given).
    assert got["sample"][0][:4] == ["account", "time", "caption", "media"]
    assert [r[3] for r in got["sample"][1:]] == ["abc", "abc"]
