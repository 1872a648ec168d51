"""The app's own JavaScript helpers, run in the browser: time zones (DST) and caption counters."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

RUN = """async () => {
  const t = await import('/static/js/time.js');
  const c = await import('/static/js/captions.js');
  const d = await import('/static/js/dom.js');
  const iso = (w, tz) => t.zonedToDate(w, tz).toISOString();
  return {
    winter: iso({ year: 2026, month: 12, day: 20, hour: 14, minute: 0 }, 'Europe/Berlin'),
    summer: iso({ year: 2027, month: 7, day: 1, hour: 9, minute: 30 }, 'America/New_York'),
    // 02:30 does not exist on 28 March 2027 in Berlin (clocks jump 02:00 -> 03:00).
    gap: iso({ year: 2027, month: 3, day: 28, hour: 2, minute: 30 }, 'Europe/Berlin'),
    // 02:30 happens twice on 31 October 2027 in Berlin: the first one (still +02:00).
    overlap: iso({ year: 2027, month: 10, day: 31, hour: 2, minute: 30 }, 'Europe/Berlin'),
    kathmandu: iso({ year: 2026, month: 12, day: 1, hour: 0, minute: 0 }, 'Asia/Kathmandu'),
    wall: t.wall(new Date('2026-12-31T23:30:00Z'), 'Pacific/Auckland'),
    api: t.wallToApi({ year: 2026, month: 1, day: 2, hour: 3, minute: 4 }),
    weekday: t.weekdayOf({ year: 2026, month: 11, day: 29 }),
    nextDay: t.addDays({ year: 2026, month: 12, day: 31 }, 1),
    counts: c.countCaption('Hi @Ana and @ana! #summer #sale_2026 #été 🌞🌞 a#b mail@x.com #'),
    long: c.countCaption('🌞'.repeat(2200)),
    over: c.overLimits(c.countCaption('#a '.repeat(31))),
    counted: [d.counted(1, 'like'), d.counted(0, 'like'), d.counted(1200, 'follower')],
  };
}"""


def test_time_and_caption_helpers(page: Page) -> None:
    page.goto("/")
    r: dict[str, Any] = page.evaluate(RUN)
    assert r["winter"] == "2026-12-20T13:00:00.000Z"
    assert r["summer"] == "2027-07-01T13:30:00.000Z"
    assert r["gap"] == "2027-03-28T01:30:00.000Z"  # 03:30 CEST: forward by the gap
    assert r["overlap"] == "2027-10-31T00:30:00.000Z"
    assert r["kathmandu"] == "2026-11-30T18:15:00.000Z"
    assert r["wall"] == {
        "year": 2027,
        "month": 1,
        "day": 1,
        "hour": 12,
        "minute": 30,
        "second": 0,
        "weekday": 5,
    }
    assert r["api"] == "2026-01-02T03:04:00"
    assert r["weekday"] == 0
    assert r["nextDay"]["year"] == 2027 and r["nextDay"]["month"] == 1 and r["nextDay"]["day"] == 1
    # Mentions are case-insensitive and counted once; an e-mail is no mention; "a#b" no hashtag.
    assert r["counts"]["hashtags"] == 3
    assert r["counts"]["mentions"] == 1
    assert r["long"]["characters"] == 2200  # code points, not UTF-16 units
    assert r["over"] == ["hashtags"]
    # "1 like", not "1 likes" (calendar, accounts, best times).
    assert r["counted"] == ["1 like", "0 likes", "1,200 followers"]


def test_hashtag_cap_comes_from_the_server(page: Page) -> None:
    """The composer's counter uses the server's MAX_HASHTAGS (5 by default), sent in a meta tag."""
    page.goto("/")
    cap = page.locator('meta[name="instasched-max-hashtags"]')
    assert cap.get_attribute("content") == "5"
    limits = page.evaluate(
        """async () => {
          document.querySelector('meta[name="instasched-max-hashtags"]').content = "7";
          const fresh = await import('/static/js/captions.js?cap=7');  // a new module instance
          return fresh.LIMITS;
        }"""
    )
    assert limits == {"characters": 2200, "hashtags": 7, "mentions": 20}
