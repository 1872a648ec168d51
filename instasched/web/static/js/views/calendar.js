// Calendar: month, week and day views in the account's timezone. Each entry shows the post's
// thumbnail (a carousel's first item, a reel's cover), type, account and status; the week and
// day views draw the posting schedule's free slots (click one to compose into it) and shade
// the best-time hours. Drag a scheduled post to another day or hour to reschedule (PUT); click
// for details, edit, cancel, publish now, retry; live status by polling while the view is open.
// Drafts (issue 20): a panel beside the calendar lists them; drag one onto a day or hour to give
// it that time and submit it (scheduled, or sent for approval when the workspace requires it).
// The post dialog shows where a post stands in the approval workflow, with its comment.
import { append, busy, button, counted, dragSource, field, h, notice, openDialog, replace, safeUrl, toast } from "../dom.js";
import { STATUS_TEXT, approvePost, cancelPost, duplicatePost, listPosts, listSchedules, optimalTimes, postChanges, postHistory, postInsights, publishNow, quotaProblem, rejectPost, retryPost, slotOf, submitPost, updatePost } from "../posts-api.js";
import { currentAccount, store } from "../store.js";
import { TYPE_ICON, TYPE_TEXT, mediaIndex, postThumbUrl } from "../thumbs.js";
import {
  DAY_SHORT,
  addDays,
  dayKey,
  formatHour,
  formatInZone,
  formatTime,
  inputToWall,
  viewerZone,
  wall,
  wallToApi,
  wallToInput,
  weekdayOf,
  zonedToDate,
} from "../time.js";

const POLL_MS = 3000;
// Live updates: each poll asks only for the posts changed since the last one (GET
// .../changes/{accountId}); the whole range is read again every minute as a safety net.
const FULL_EVERY_MS = 60 * 1000;
const OVERLAP_MS = 10 * 1000; // a change carries the time its transaction began
const MIN_LEAD_MS = 5 * 60 * 1000;
const WORK_START_HOUR = 7;
const MODES = ["month", "week", "day"];
// Entries drawn per month day / week hour before "+N more" (the day view shows every one).
const MONTH_CAP = 3;
const WEEK_CAP = 2;
const DAY_CAP = 200;
// Posts in these statuses can be dragged: a scheduled post moves, a draft is placed and submitted.
const DRAGGABLE = new Set(["scheduled", "draft"]);
// Day cells draw a draft dropped in the month view at this hour (it keeps its own time if any).
const DRAFT_HOUR = 9;

function parseDay(text, tz) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
  if (m) return { year: +m[1], month: +m[2], day: +m[3], hour: 0, minute: 0 };
  const w = wall(new Date(), tz);
  return { year: w.year, month: w.month, day: w.day, hour: 0, minute: 0 };
}

function snippet(text, n = 40) {
  const chars = [...(text || "")];
  return chars.length > n ? `${chars.slice(0, n).join("")}…` : chars.join("") || "(no caption)";
}

export async function render(main, { args, query = {}, navigate }) {
  const account = currentAccount();
  replace(main);
  if (!account) {
    main.append(h("h1", {}, "Calendar"), notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }
  const tz = account.timezone || "UTC";
  let mode = MODES.includes(args[1]) ? args[1] : "month";
  let focus = parseDay(args[0], tz);
  let posts = [];
  let signature = "";
  let dragged = null;
  let ready = false; // the first draw waits for thumbnails, schedules and best times
  let media = new Map(); // asset id / s3Url -> asset (thumbnails)
  let schedules = []; // posting schedules: free slots
  let best = new Set(); // "weekday-hour" of the best times

  const title = h("h1", { id: "calendar-title" });
  const grid = h("div", { class: "calendar", id: "calendar" });
  const info = h("p", { class: "muted small" }, `Times in ${tz} (the account's timezone). Drag a scheduled post to another day (or hour, in the week and day views) to reschedule it, or open it to pick a new time. Drag a draft from the drafts panel onto the calendar to schedule it (or submit it for approval). Click a free slot of your posting schedule to compose into it. Cancelled posts are not shown.`);
  const draftList = h("ul", { class: "draft-list", id: "draft-list", "aria-label": "Drafts" });
  const draftsPanel = h("aside", { class: "drafts-panel card", id: "drafts-panel", "aria-labelledby": "drafts-title" },
    h("h2", { id: "drafts-title" }, "Drafts"),
    h("p", { class: "muted small" }, "Never published until placed on the calendar. Drag one onto a day (or an hour) to give it that time and submit it."),
    draftList);
  const modeBtns = MODES.map((m) => button(m[0].toUpperCase() + m.slice(1), () => switchMode(m),
    { "aria-pressed": String(mode === m), id: `view-${m}` }));
  const legend = h("ul", { class: "legend", "aria-label": "Legend" },
    Object.entries(STATUS_TEXT)
      .filter(([s]) => s !== "cancelled")
      .map(([s, t]) => h("li", { class: `post post-${s}` }, t)),
    h("li", { class: "legend-best" }, "Best time"),
    h("li", { class: "legend-free" }, "Free slot"));

  const go = (delta) => {
    if (mode === "month") {
      const m = focus.month - 1 + delta;
      focus = { ...focus, year: focus.year + Math.floor(m / 12), month: ((m % 12) + 12) % 12 + 1, day: 1 };
    } else {
      focus = addDays(focus, (mode === "week" ? 7 : 1) * delta);
    }
    history.replaceState(null, "", `#/calendar/${dayKey(focus)}/${mode}`);
    load(true);
  };
  function switchMode(next) {
    mode = next;
    modeBtns.forEach((b, i) => b.setAttribute("aria-pressed", String(MODES[i] === mode)));
    history.replaceState(null, "", `#/calendar/${dayKey(focus)}/${mode}`);
    load(true);
  }

  const range = () => {
    if (mode === "month") {
      const first = { ...focus, day: 1 };
      const start = addDays(first, -weekdayOf(first));
      return { start, days: 42 };
    }
    if (mode === "day") return { start: focus, days: 1 };
    return { start: addDays(focus, -weekdayOf(focus)), days: 7 };
  };

  let requested = 0;
  let applied = 0;
  let cursor = null; // `since` of the next change poll
  let lastFull = 0;
  async function load(force = false) {
    const { start, days } = range();
    const end = addDays(start, days);
    requested += 1;
    lastFull = Date.now();
    // The browser's clock may differ from the server's by a little: look a minute back.
    cursor = new Date(Date.now() - 60 * 1000).toISOString();
    const mine = requested;
    try {
      const fetched = await listPosts(account.id, {
        after: zonedToDate({ ...start, hour: 0, minute: 0 }, tz).toISOString(),
        before: zonedToDate({ ...end, hour: 0, minute: 0 }, tz).toISOString(),
      });
      // A slow poll that started before a change must not redraw the older state over it.
      if (mine < applied) return;
      applied = mine;
      if (!apply(fetched, force)) return;
    } catch (err) {
      if (force) replace(grid, notice("error", err.message));
      return;
    }
    if (ready) draw();
  }

  /** Show `fetched` (the range's posts); false when nothing changed. */
  function apply(fetched, force = false) {
    const sig = JSON.stringify(fetched.map((p) => [p.id, p.status, p.scheduledFor, p.updatedAt, p.permalink]));
    if (!force && sig === signature) return false;
    signature = sig;
    posts = fetched.filter((p) => p.status !== "cancelled");
    return true;
  }

  /** The posts changed since the last poll, merged into the range shown. */
  async function poll() {
    if (!cursor || Date.now() - lastFull > FULL_EVERY_MS) return load(false);
    const mine = requested;
    let changes;
    try {
      changes = await postChanges(account.id, cursor);
    } catch {
      return undefined;
    }
    if (mine !== requested) return undefined; // a full read started meanwhile
    cursor = new Date(new Date(changes.now).getTime() - OVERLAP_MS).toISOString();
    if (changes.more) return load(false);
    if (!changes.posts.length) return undefined;
    const { start, days } = range();
    const from = zonedToDate({ ...start, hour: 0, minute: 0 }, tz).getTime();
    const to = zonedToDate({ ...addDays(start, days), hour: 0, minute: 0 }, tz).getTime();
    const byId = new Map(posts.map((p) => [p.id, p]));
    for (const p of changes.posts) {
      const t = new Date(p.scheduledFor).getTime();
      if (t < from || t >= to) byId.delete(p.id);
      else byId.set(p.id, p);
    }
    const next = [...byId.values()].sort((a, b) => a.scheduledFor.localeCompare(b.scheduledFor) || a.id.localeCompare(b.id));
    if (apply(next) && ready) draw();
    return undefined;
  }

  function chip(p) {
    const when = new Date(p.scheduledFor);
    const draggable = DRAGGABLE.has(p.status);
    const statusText = STATUS_TEXT[p.status] || p.status;
    const typeText = TYPE_TEXT[p.mediaType] || p.mediaType;
    const el = h(
      "button",
      {
        type: "button",
        class: `post post-${p.status}`,
        draggable: draggable ? "true" : "false",
        dataset: { postId: p.id, status: p.status, type: p.mediaType },
        onclick: () => details(p),
      },
      entryThumb(p),
      h("span", { class: "post-body" },
        h("span", { class: "post-line" },
          h("span", { class: "post-time" }, formatTime(when, tz)), " ",
          h("span", { class: "post-status" }, statusText),
          p.status === "published" && p.permalink ? h("span", { class: "post-flag", "aria-hidden": "true" }, " ↗") : null,
          p.status === "failed" ? h("span", { class: "post-flag", "aria-hidden": "true" }, " !") : null),
        h("span", { class: "post-meta" },
          h("span", { class: "post-type", "aria-hidden": "true" }, `${TYPE_ICON[p.mediaType] || ""} `),
          typeText, ` · @${account.username}`),
        h("span", { class: "post-caption" }, snippet(p.caption))),
    );
    if (draggable) dragPost(el, p);
    return el;
  }

  /** A calendar entry's thumbnail: the post's image, else its type's icon. */
  function entryThumb(p) {
    const thumbUrl = postThumbUrl(p, media);
    return thumbUrl
      ? h("img", { class: "post-thumb", src: thumbUrl, alt: "", loading: "lazy", decoding: "async", width: "32", height: "32" })
      : h("span", { class: "post-thumb post-thumb-none", "aria-hidden": "true" }, TYPE_ICON[p.mediaType] || "?");
  }

  /** Lets `el`, the entry of post `p`, be dragged onto a day or an hour (see dropTarget). */
  function dragPost(el, p) {
    dragSource(el, p.id, () => { dragged = p; });
  }

  function dropTarget(cell, targetWall) {
    cell.addEventListener("dragover", (e) => {
      if (!dragged) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      cell.classList.add("drop-over");
    });
    cell.addEventListener("dragleave", () => cell.classList.remove("drop-over"));
    cell.addEventListener("drop", async (e) => {
      e.preventDefault();
      cell.classList.remove("drop-over");
      const p = dragged;
      dragged = null;
      if (!p) return;
      const old = p.scheduledFor ? wall(new Date(p.scheduledFor), tz) : { hour: DRAFT_HOUR, minute: 0 };
      // Month view keeps the time of day; week view moves to the hour, keeping the minutes.
      const w = {
        year: targetWall.year,
        month: targetWall.month,
        day: targetWall.day,
        hour: targetWall.hour ?? old.hour,
        minute: old.minute,
      };
      if (p.status === "draft") await place(p, w);
      else await reschedule(p, w);
    });
  }

  /** A draft dropped on the calendar: that time, then submitted (scheduled, or sent for
   *  approval when the workspace requires it and the user may not approve). */
  async function place(p, w) {
    try {
      await updatePost(p.id, { scheduledFor: wallToApi(w) });
      const r = await submitPost(p.id);
      const at = formatInZone(new Date(r.scheduledFor), tz);
      toast(r.status === "needs_approval" ? `Submitted for approval, for ${at}` : `Scheduled for ${at}`, "success");
    } catch (err) {
      toast(`Not placed: ${err.message}`, "error");
    }
    await Promise.all([load(true), loadDrafts()]);
  }

  function draftCard(p) {
    const el = h("button", {
      type: "button",
      class: "post post-draft draft-card",
      draggable: "true",
      dataset: { postId: p.id, status: p.status, type: p.mediaType },
      onclick: () => details(p),
    },
    entryThumb(p),
    h("span", { class: "post-body" },
      h("span", { class: "post-line" },
        h("span", { class: "post-status" }, "Draft"), " · ",
        h("span", { class: "post-time" }, p.scheduledFor ? formatTime(new Date(p.scheduledFor), tz) : "no time yet")),
      h("span", { class: "post-caption" }, snippet(p.caption))));
    dragPost(el, p);
    return h("li", {}, el);
  }

  /** Every draft of the account (with or without a time), newest time last. */
  async function loadDrafts() {
    try {
      const drafts = await listPosts(account.id, { status: "draft" });
      replace(draftList, ...(drafts.length
        ? drafts.map(draftCard)
        : [h("li", { class: "muted small" }, "No drafts. Save one from the composer (Save as draft).")]));
    } catch (err) {
      replace(draftList, h("li", {}, notice("error", err.message)));
    }
  }

  async function reschedule(p, w) {
    const change = { scheduledFor: wallToApi(w) };
    try {
      let updated;
      try {
        updated = await updatePost(p.id, change);
      } catch (err) {
        // Over the publishing quota: the user may move it anyway (it then waits for room).
        if (!quotaProblem(err) || !window.confirm(`${err.message}\n\nMove it anyway?`)) throw err;
        updated = await updatePost(p.id, { ...change, allowOverQuota: true });
      }
      const when = `Rescheduled to ${formatInZone(new Date(updated.scheduledFor), tz)}`;
      if (updated.quotaWarning) toast(`${when}. ${updated.quotaWarning.message}`, "info");
      else toast(when, "success");
    } catch (err) {
      toast(`Not rescheduled: ${err.message}`, "error");
    }
    await load(true);
  }

  function draw() {
    const { start, days } = range();
    const today = dayKey(wall(new Date(), tz));
    const byDay = new Map();
    for (const p of posts) {
      const key = dayKey(wall(new Date(p.scheduledFor), tz));
      if (!byDay.has(key)) byDay.set(key, []);
      byDay.get(key).push(p);
    }
    for (const list of byDay.values()) list.sort((a, b) => a.scheduledFor.localeCompare(b.scheduledFor));
    const monthName = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" })
      .format(new Date(Date.UTC(focus.year, focus.month - 1, 1)));
    if (mode === "month") {
      title.textContent = monthName;
      const cells = [];
      for (let i = 0; i < days; i += 1) {
        const d = addDays(start, i);
        const key = dayKey(d);
        const cell = h("div", {
          class: `day${d.month !== focus.month ? " other-month" : ""}${key === today ? " today" : ""}`,
          role: "gridcell",
          dataset: { day: key },
        },
        h("span", { class: "day-num" }, String(d.day)),
        h("div", { class: "day-posts" }, capped(byDay.get(key) || [], MONTH_CAP, d)));
        dropTarget(cell, { year: d.year, month: d.month, day: d.day });
        cells.push(cell);
      }
      const rows = [];
      for (let r = 0; r < 6; r += 1) rows.push(h("div", { class: "week-row", role: "row" }, cells.slice(r * 7, r * 7 + 7)));
      replace(grid, h("div", { class: "month", role: "grid", "aria-labelledby": "calendar-title" },
        h("div", { class: "week-row head", role: "row" }, DAY_SHORT.map((d) => h("div", { role: "columnheader" }, d))),
        rows));
    } else {
      drawTimeGrid(start, days, byDay, today);
    }
  }

  /** The first `cap` entries, then "+N more" opening that day's view (a month with 1,000
   *  posts would otherwise lay out 1,000 entries; the day view shows them all). */
  function capped(list, cap, d) {
    if (list.length <= cap) return list.map(chip);
    const rest = list.length - cap;
    return [...list.slice(0, cap).map(chip),
      h("a", { class: "more-posts", href: `#/calendar/${dayKey(d)}/day`, dataset: { more: String(rest) } },
        `+${rest} more`, h("span", { class: "visually-hidden" }, ` on ${dayKey(d)}`))];
  }

  /** Free slots of the posting schedules in [start, start + days), by "day-hour" (account tz). */
  function freeSlots(start, days) {
    const out = new Map();
    const taken = new Set(posts.map((p) => Math.floor(new Date(p.scheduledFor).getTime() / 60000)));
    const first = zonedToDate({ ...start, hour: 0, minute: 0 }, tz).getTime();
    const last = zonedToDate({ ...addDays(start, days), hour: 0, minute: 0 }, tz).getTime();
    const soonest = Date.now() + MIN_LEAD_MS;
    for (const s of schedules) {
      if (s.isActive === false) continue;
      const stz = s.timezone || tz;
      // The schedule's days in its own zone, one day either side of the range.
      for (let i = -1; i <= days; i += 1) {
        const d = addDays(start, i);
        if (weekdayOf(d) !== Number(s.dayOfWeek)) continue;
        for (const slot of s.timeSlots || []) {
          const [hh, mm] = String(slot).split(":").map(Number);
          const at = zonedToDate({ year: d.year, month: d.month, day: d.day, hour: hh, minute: mm || 0 }, stz);
          const t = at.getTime();
          if (t < first || t >= last || t < soonest || taken.has(Math.floor(t / 60000))) continue;
          const w = wall(at, tz);
          const key = `${dayKey(w)}-${w.hour}`;
          if (!out.has(key)) out.set(key, []);
          out.get(key).push(w);
        }
      }
    }
    return out;
  }

  function freeSlotButton(w) {
    const label = formatHour(w.hour, w.minute);
    return h("a", {
      class: "free-slot",
      href: `#/compose?at=${wallToInput(w)}`,
      dataset: { slot: wallToInput(w) },
      "aria-label": `Free slot ${dayKey(w)} ${label}: compose a post for it`,
    }, h("span", { "aria-hidden": "true" }, `+ ${label}`));
  }

  /** The week (7 columns) or day (1 column) view: an hour axis in the entries' format. */
  function drawTimeGrid(start, days, byDay, today) {
    const end = addDays(start, days - 1);
    title.textContent = days === 1
      ? new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeZone: "UTC" }).format(new Date(Date.UTC(start.year, start.month - 1, start.day)))
      : `Week of ${dayKey(start)} – ${dayKey(end)}`;
    const slots = freeSlots(start, days);
    // Posts by day and hour, read once (not once per hour cell).
    const hoursOf = new Map();
    for (const [key, list] of byDay) {
      const hours = Array.from({ length: 24 }, () => []);
      for (const p of list) hours[wall(new Date(p.scheduledFor), tz).hour].push(p);
      hoursOf.set(key, hours);
    }
    const cls = days === 1 ? "wk-row day-row" : "wk-row";
    const head = h("div", { class: `${cls} head`, role: "row" }, h("div", { role: "columnheader" }, h("span", { class: "visually-hidden" }, "Hour")),
      Array.from({ length: days }, (_, i) => {
        const d = addDays(start, i);
        return h("div", { role: "columnheader", class: dayKey(d) === today ? "today" : "" }, `${DAY_SHORT[weekdayOf(d)]} ${d.day}`);
      }));
    const rows = [];
    for (let hour = 0; hour < 24; hour += 1) {
      const row = h("div", { class: cls, role: "row" }, h("div", { class: "hour", role: "rowheader" }, formatHour(hour)));
      for (let i = 0; i < days; i += 1) {
        const d = addDays(start, i);
        const key = dayKey(d);
        const inSlot = (hoursOf.get(key) || [])[hour] || [];
        const isBest = best.has(`${weekdayOf(d)}-${hour}`);
        const cell = h("div", {
          class: `slot${isBest ? " best" : ""}`,
          role: "gridcell",
          dataset: { day: key, hour: String(hour) },
          title: isBest ? "Best time to post" : null,
        },
        isBest ? h("span", { class: "visually-hidden" }, "Best time. ") : null,
        capped(inSlot, days === 1 ? DAY_CAP : WEEK_CAP, d),
        (slots.get(`${key}-${hour}`) || []).map(freeSlotButton));
        dropTarget(cell, { year: d.year, month: d.month, day: d.day, hour });
        row.append(cell);
      }
      rows.push(row);
    }
    const week = h("div", { class: `week${days === 1 ? " day-view" : ""}`, role: "grid", "aria-labelledby": "calendar-title" }, head, rows);
    const keepScroll = grid.querySelector(".week")?.scrollTop;
    replace(grid, week);
    // Open on the working day (or where the user was), not at midnight.
    if (keepScroll !== undefined) week.scrollTop = keepScroll;
    else {
      const first = week.querySelector(`[data-hour="${WORK_START_HOUR}"]`);
      const headRow = week.querySelector(".wk-row.head");
      if (first && headRow) week.scrollTop = first.offsetTop - headRow.offsetHeight;
    }
  }

  /** Thumbnails, posting schedules and best times: read once per visit, not every poll. */
  async function loadExtras() {
    const [index, sched, times] = await Promise.all([
      mediaIndex(account.id),
      listSchedules(account.id).catch(() => []),
      optimalTimes(account.id).catch(() => null),
    ]);
    media = index;
    schedules = Array.isArray(sched) ? sched : sched.schedules || sched.items || [];
    best = new Set((times?.recommendations || []).map((r) => {
      const { day, hour } = slotOf(r);
      return `${day}-${hour}`;
    }));
  }

  function outcome(r) {
    if (r.status === "published") toast("Published", "success");
    else if (r.status === "failed") toast(`Publishing failed: ${r.lastPublishError || "see the post"}`, "error");
    else toast(`Publishing… (${STATUS_TEXT[r.status] || r.status}); the calendar updates by itself`, "info");
  }

  /** Show the period that holds `p` (publish now moves a post to the present). */
  function follow(p) {
    const w = wall(new Date(p.scheduledFor), tz);
    focus = { year: w.year, month: w.month, day: w.day, hour: 0, minute: 0 };
    history.replaceState(null, "", `#/calendar/${dayKey(focus)}/${mode}`);
    load(true);
  }

  /** Likes, reach... at publication, then 1 h, 24 h and 7 days after (read by the worker). */
  function insightsTable(ins) {
    const cols = [["views", "Views"], ["reach", "Reach"], ["likes", "Likes"], ["comments", "Comments"],
      ["shares", "Shares"], ["saved", "Saved"], ["totalInteractions", "Interactions"]];
    const label = { "1h": "1 hour after", "24h": "24 hours after", "7d": "7 days after" };
    const rows = [h("tr", {}, h("th", { scope: "row" }, "At publication"),
      cols.map(([key]) => h("td", {}, key in ins.initial ? String(ins.initial[key]) : "–")))];
    for (const r of ins.readings) {
      const name = h("th", { scope: "row" }, label[r.checkpoint] || r.checkpoint);
      if (r.state === "done") {
        rows.push(h("tr", { dataset: { checkpoint: r.checkpoint } }, name, cols.map(([key]) => h("td", {}, String(r[key] ?? "–")))));
      } else {
        const text = r.state === "pending"
          ? `Read ${formatInZone(new Date(r.dueAt), tz)}`
          : `Not read: ${r.error || "stopped"}`;
        rows.push(h("tr", { dataset: { checkpoint: r.checkpoint }, class: `insight-${r.state}` }, name, h("td", { colspan: cols.length, class: "muted" }, text)));
      }
    }
    return h("table", { class: "insights" },
      h("caption", {}, "Insights over time"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, ""), cols.map(([, title]) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, rows));
  }

  /** The post's history: one line per event, Instagram's errors with their code and trace id. */
  function historyList(hist) {
    if (!hist.events.length) return h("p", { class: "muted" }, "No events recorded yet.");
    return h("ol", { class: "timeline" }, hist.events.map((e) => {
      const failed = e.kind === "failed" || (e.kind === "graph_call" && e.detail && e.detail.ok === false);
      return h("li", { class: `event event-${e.kind}${failed ? " event-error" : ""}`, dataset: { kind: e.kind } },
        h("time", { datetime: e.at }, formatInZone(new Date(e.at), tz)),
        e.attempt ? h("span", { class: "muted" }, ` · attempt ${e.attempt}`) : null,
        h("span", { class: "event-summary" }, e.summary));
    }));
  }

  function historySection(p) {
    const box = h("details", { id: "post-history", class: "history" },
      h("summary", {}, "History"), h("p", { class: "muted" }, "Loading…"));
    if (p.status === "failed") box.open = true;
    postHistory(p.id)
      .then((hist) => { box.replaceChildren(box.firstChild, historyList(hist)); })
      .catch((err) => { box.replaceChildren(box.firstChild, notice("error", err.message)); });
    return box;
  }

  function duplicateRow(p) {
    const soon = wall(new Date(Date.now() + 24 * 60 * 60 * 1000), tz);
    const input = h("input", { type: "datetime-local", value: wallToInput(soon), id: "post-duplicate-when" });
    const go = button("Duplicate", () => busy(go, async () => {
      const w = inputToWall(input.value);
      if (!w) throw new Error("Pick a date and time");
      const copy = await duplicatePost(p.id, { scheduledFor: wallToApi(w) });
      toast("Copy saved as a draft: submit it to schedule it", "success");
      await loadDrafts();
      follow(copy);
    }), { id: "post-duplicate" });
    return h("div", { class: "row" }, field(`Copy at (${tz})`, input), go);
  }

  /** "you" or "a team member" (the API names members by id). */
  const who = (userId) => (userId && store.user && userId === store.user.id ? "you" : "a team member");

  /** Where the post stands in the approval workflow, and the approver's comment. */
  function approvalBlock(p) {
    const a = p.approval || {};
    const at = (t) => (t ? ` on ${formatInZone(new Date(t), tz)}` : "");
    if (p.status === "needs_approval") {
      return notice("info", `Waiting for approval: submitted by ${who(a.submittedBy)}${at(a.submittedAt)}. It is published only once an owner or approver approves it.`);
    }
    if (p.status === "changes_requested") {
      return h("div", { class: "notice notice-warn", id: "post-approval-comment", role: "status" },
        h("strong", {}, `Sent back by ${who(a.decidedBy)}${at(a.decidedAt)}: `), a.comment || "",
        h("p", { class: "small" }, "Edit the post, then submit it again."));
    }
    if (p.status === "approval_expired") {
      return notice("error", "Not published: it was not approved before its time. An approver can approve it for a new time, or edit it and submit it again.");
    }
    if (p.status === "draft") {
      return notice("info", "A draft: never published. Give it a time and submit it, or drag it onto the calendar.");
    }
    if (a.decidedBy && a.comment) {
      return h("p", { class: "muted", id: "post-approval-comment" }, `Approved by ${who(a.decidedBy)}${at(a.decidedAt)}: ${a.comment}`);
    }
    return null;
  }

  /** A time field (the post's own, else tomorrow at DRAFT_HOUR) for submit / approve. */
  function timeInput(p, id) {
    const start = p.scheduledFor && new Date(p.scheduledFor).getTime() > Date.now() + MIN_LEAD_MS
      ? wall(new Date(p.scheduledFor), tz)
      : { ...wall(new Date(Date.now() + 24 * 60 * 60 * 1000), tz), hour: DRAFT_HOUR, minute: 0 };
    return h("input", { type: "datetime-local", value: wallToInput(start), id });
  }

  function approvalActions(p, body, actions, close) {
    const done = async (r, message) => {
      toast(message, "success");
      close();
      await Promise.all([load(true), loadDrafts()]);
      return r;
    };
    if (["draft", "changes_requested", "approval_expired"].includes(p.status)) {
      const input = timeInput(p, "post-submit-when");
      const submit = button("Submit", () => busy(submit, async () => {
        const w = inputToWall(input.value);
        if (!w) throw new Error("Pick a date and time");
        const r = await submitPost(p.id, { scheduledFor: wallToApi(w) });
        await done(r, r.status === "needs_approval" ? "Submitted for approval" : `Scheduled for ${formatInZone(new Date(r.scheduledFor), tz)}`);
      }), { id: "post-submit", class: "primary" });
      body.append(h("div", { class: "row" }, field(`Time (${tz})`, input), submit));
      actions.append(button("Edit", () => { close(); navigate(`compose/${p.id}`); }, { id: "post-edit" }));
    }
    if (["draft", "needs_approval", "changes_requested", "approval_expired"].includes(p.status)) {
      actions.append(button(p.status === "draft" ? "Discard draft" : "Cancel post", (e) => {
        if (!window.confirm("Discard this post? It will not be published.")) return;
        busy(e.currentTarget, async () => {
          await cancelPost(p.id);
          await done(null, "Post discarded");
        });
      }, { class: "danger", id: "post-cancel" }));
    }
    if (p.status === "needs_approval" || p.status === "approval_expired") {
      const expired = p.status === "approval_expired";
      const input = expired ? timeInput(p, "post-approve-when") : null;
      const approve = button(expired ? "Approve for this time" : "Approve", () => busy(approve, async () => {
        let payload = {};
        if (input) {
          const w = inputToWall(input.value);
          if (!w) throw new Error("Pick a date and time");
          payload = { scheduledFor: wallToApi(w) };
        }
        const r = await approvePost(p.id, payload);
        await done(r, `Approved: scheduled for ${formatInZone(new Date(r.scheduledFor), tz)}`);
      }), { id: "post-approve", class: "primary" });
      body.append(input ? h("div", { class: "row" }, field(`New time (${tz})`, input), approve) : h("div", { class: "row" }, approve));
    }
    if (p.status === "needs_approval") {
      const comment = h("textarea", { id: "post-reject-comment", rows: "2", maxlength: "2000" });
      const reject = button("Send back", () => busy(reject, async () => {
        if (!comment.value.trim()) throw new Error("Say what to change (the comment is required)");
        const r = await rejectPost(p.id, comment.value.trim());
        await done(r, "Sent back for changes");
      }), { id: "post-reject" });
      body.append(h("div", { class: "row" }, field("Comment for the author", comment), reject));
    }
  }

  function details(p) {
    const when = p.scheduledFor ? new Date(p.scheduledFor) : null;
    openDialog(`${STATUS_TEXT[p.status] || p.status} post`, (body, close) => {
      const status = h("div", { "aria-live": "polite" });
      body.append(
        h("p", { class: `badge status-badge post-${p.status}`, id: "post-status" }, STATUS_TEXT[p.status] || p.status),
        h("dl", { class: "facts" },
          h("dt", {}, "Time"), h("dd", {}, when ? `${formatInZone(when, tz, { dateStyle: "full" })} (${tz})` : "No time yet"),
          h("dt", {}, "Your time"), h("dd", {}, when ? `${formatInZone(when, viewerZone(), { dateStyle: "full" })} (${viewerZone()})` : "–"),
          h("dt", {}, "Type"), h("dd", {}, p.mediaType),
          h("dt", {}, "Attempts"), h("dd", {}, String(p.publishAttempts ?? 0))),
        h("p", { class: "caption-full", id: "post-caption" }, p.caption || "(no caption)"),
      );
      append(body, [approvalBlock(p)]);
      if (p.status === "published") {
        append(body, [
          safeUrl(p.permalink)
            ? h("p", {}, h("a", { href: safeUrl(p.permalink), target: "_blank", rel: "noopener noreferrer", id: "post-permalink" }, "View on Instagram"))
            : null,
          h("p", { class: "metrics", id: "post-metrics" },
            `${counted(p.initialLikes ?? 0, "like")} · ${counted(p.initialComments ?? 0, "comment")} · ${p.initialReach ?? 0} reach`,
            p.publishedAt ? ` · published ${formatInZone(new Date(p.publishedAt), tz)}` : ""),
        ]);
        const box = h("div", { id: "post-insights", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading insights…"));
        body.append(box);
        postInsights(p.id)
          .then((ins) => replace(box, insightsTable(ins)))
          .catch((err) => replace(box, notice("error", err.message)));
      }
      // Containers made ahead of the due time (docs/staging.md): a rejection shows here long
      // before the post's time, so the media can be replaced.
      const staging = p.status === "scheduled" ? p.staging : null;
      if (staging && staging.status === "failed") {
        body.append(h("div", { id: "post-staging" },
          notice("error", `Instagram rejected this post's media ahead of its time: ${staging.error || "see the post"}. Edit the post to fix it.`)));
      } else if (staging && staging.status === "deferred" && staging.error) {
        body.append(h("div", { id: "post-staging" }, notice("info", staging.error)));
      } else if (staging && staging.status === "staged") {
        body.append(h("p", { class: "muted", id: "post-staging" }, "Ready at Instagram: only the publication remains at the due time."));
      }
      if (Array.isArray(p.storyItems) && p.storyItems.length) {
        // Several stories as one post: where each one stands (a failure names what is out).
        const label = { pending: "not published yet", container: "being prepared", published: "published", failed: "failed" };
        body.append(h("ol", { class: "story-items", id: "post-story-items", "aria-label": "Stories of this post" },
          ...p.storyItems.map((s) => h("li", { class: `story-${s.status}` },
            `Story ${s.index + 1}: ${label[s.status] || s.status}`, s.error ? ` (${s.error})` : ""))));
      }
      if (p.lastPublishError && p.status !== "published") {
        body.append(notice(p.status === "failed" ? "error" : "info", p.lastPublishError));
        if (p.nextAttemptAt && p.status !== "failed") {
          body.append(h("p", { class: "muted" }, `Next attempt ${formatInZone(new Date(p.nextAttemptAt), tz)}`));
        }
      }
      const actions = h("div", { class: "actions" });
      if (p.status === "scheduled") {
        const input = h("input", { type: "datetime-local", value: wallToInput(wall(when, tz)) });
        const save = button("Reschedule", () => busy(save, async () => {
          const w = inputToWall(input.value);
          if (!w) throw new Error("Pick a date and time");
          close();
          await reschedule(p, w);
        }));
        body.append(h("div", { class: "row" }, field(`New time (${tz})`, input), save));
        actions.append(
          button("Edit", () => { close(); navigate(`compose/${p.id}`); }, { id: "post-edit" }),
          button("Publish now", (e) => busy(e.currentTarget, async () => {
            const r = await publishNow(p.id);
            outcome(r);
            close();
            follow(r);
          }), { id: "post-publish-now", class: "primary" }),
          button("Cancel post", (e) => {
            if (!window.confirm("Cancel this post? It will not be published.")) return;
            busy(e.currentTarget, async () => {
              await cancelPost(p.id);
              toast("Post cancelled", "success");
              close();
              await load(true);
            });
          }, { class: "danger", id: "post-cancel" }),
        );
      } else if (p.status === "failed") {
        actions.append(
          button("Retry now", (e) => busy(e.currentTarget, async () => {
            // In place: the same post, a new attempt (its history keeps the failed one).
            await retryPost(p.id);
            const r = await publishNow(p.id);
            outcome(r);
            close();
            follow(r);
          }), { id: "post-retry", class: "primary" }),
          button("Reschedule as a new post", () => { close(); navigate(`compose/${p.id}/copy`); }, { id: "post-copy" }),
        );
      }
      approvalActions(p, body, actions, close);
      if (p.status === "published" || p.status === "cancelled") body.append(duplicateRow(p));
      body.append(historySection(p), status, actions);
    });
  }

  main.append(
    h("div", { class: "calendar-head" },
      title,
      h("div", { class: "toolbar", role: "toolbar", "aria-label": "Calendar navigation" },
        button("‹ Previous", () => go(-1), { id: "cal-prev" }),
        button("Today", () => { focus = parseDay("", tz); load(true); }, { id: "cal-today" }),
        button("Next ›", () => go(1), { id: "cal-next" }),
        modeBtns,
        h("a", { class: "button", href: "#/import", id: "cal-import" }, "Import CSV"),
        h("a", { class: "button primary", href: "#/compose" }, "New post"))),
    info, legend, h("div", { class: "calendar-layout" }, grid, draftsPanel));
  await Promise.all([loadExtras(), load(true)]);
  await loadDrafts(); // after the media index: the drafts' thumbnails
  ready = true;
  if (!grid.querySelector(".notice-error")) draw();
  // `?post=<id>` (a link from the import report): that post's dialog opens.
  const linked = query.post && posts.find((p) => p.id === query.post);
  if (query.post && main.isConnected) {
    history.replaceState(null, "", `#/calendar/${dayKey(focus)}/${mode}`);
    if (linked) details(linked);
  }
  const timer = setInterval(() => { if (!document.hidden) poll(); }, POLL_MS);
  return () => clearInterval(timer);
}
