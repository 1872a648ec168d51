// Best times: day x hour heatmap in the account's timezone with sample sizes, the top 5
// highlighted; and the posting schedule editor (slots per weekday, "apply optimal").
import { SCHED, post } from "../api.js";
import { append, busy, button, counted, h, notice, replace, toast } from "../dom.js";
import {
  createSchedule,
  deleteSchedule,
  listSchedules,
  optimalTimes,
  slotOf,
  updateSchedule,
} from "../posts-api.js";
import { currentAccount } from "../store.js";
import { DAY_NAMES, DAY_SHORT } from "../time.js";

function cellsOf(data) {
  // The API answers a 7 x 24 grid (rows are days, 0 = Sunday); a flat list works as well.
  const list = data.heatmap || [];
  return Array.isArray(list) ? list.flat().filter((c) => c && (c.sampleSize ?? 1) > 0) : [];
}

function engagement(cell) {
  return Number(cell.averageEngagement ?? cell.onlineFollowers ?? cell.score ?? 0);
}

function byFollowers(data) {
  return data.basis === "online_followers";
}

function heatmap(data, tz) {
  const cells = new Map();
  for (const c of [...cellsOf(data), ...(data.recommendations || [])]) {
    const { day, hour } = slotOf(c);
    if (Number.isFinite(day) && Number.isFinite(hour)) cells.set(`${day}-${hour}`, { ...cells.get(`${day}-${hour}`), ...c });
  }
  const top = new Map((data.recommendations || []).slice(0, 5).map((r, i) => {
    const { day, hour } = slotOf(r);
    return [`${day}-${hour}`, i + 1];
  }));
  const values = [...cells.values()].map(engagement);
  const max = Math.max(0, ...values);
  const min = Math.min(max, ...values);
  const level = (c) => (max > min ? 1 + Math.floor(((engagement(c) - min) / (max - min)) * 4.999) : 3);
  const table = h("table", { class: "heatmap", id: "heatmap" },
    h("caption", {}, byFollowers(data)
      ? `Followers online by day and hour, ${tz} (from Instagram, until enough posts are published). Numbers are sample sizes (days measured); ★ marks the top 5.`
      : `Average engagement per post (likes + 2 × comments) by day and hour, ${tz}. Numbers are sample sizes (posts); ★ marks the top 5.`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"),
      Array.from({ length: 24 }, (_, hr) => h("th", { scope: "col" }, String(hr).padStart(2, "0"))))),
    h("tbody", {}, DAY_NAMES.map((name, day) => h("tr", {},
      h("th", { scope: "row" }, DAY_SHORT[day]),
      Array.from({ length: 24 }, (_, hour) => {
        const c = cells.get(`${day}-${hour}`);
        const rank = top.get(`${day}-${hour}`);
        const shade = c ? level(c) : 0;
        const n = c ? c.sampleSize ?? c.samples ?? c.postCount ?? "" : "";
        const what = byFollowers(data) ? "followers online" : "average engagement";
        const label = c
          ? `${name} ${hour}:00: ${what} ${engagement(c).toFixed(1)}, sample size ${n || 0}${rank ? `, top ${rank}` : ""}`
          : `${name} ${hour}:00: no data`;
        return h("td", { class: `heat heat-${shade}${rank ? " top" : ""}`, title: label, "aria-label": label, dataset: { day, hour } },
          rank ? h("span", { "aria-hidden": "true" }, "★") : null,
          n !== "" ? h("span", { class: "n", "aria-hidden": "true" }, String(n)) : null);
      })))));
  return h("div", { class: "heatmap-wrap", tabindex: "0", role: "region", "aria-label": "Engagement heatmap" }, table);
}

function recommendations(data) {
  const recs = (data.recommendations || []).slice(0, 5);
  if (!recs.length) return h("p", { class: "muted" }, "No recommendation yet.");
  return h("ol", { class: "recs", id: "recommendations" }, recs.map((r) => {
    const { day, hour, minute } = slotOf(r);
    const parts = [`${DAY_NAMES[day]} ${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`];
    if (r.averageEngagement != null) parts.push(`avg. engagement ${Number(r.averageEngagement).toFixed(1)}`);
    if (r.onlineFollowers != null) parts.push(`${counted(Math.round(r.onlineFollowers), "follower")} online`);
    if (r.sampleSize != null) parts.push(`sample size ${r.sampleSize}`);
    if (r.confidence != null) parts.push(`confidence ${r.confidence}`);
    return h("li", {}, parts.join(" · "));
  }));
}

function scheduleEditor(account, schedules, reload) {
  const byDay = new Map(schedules.map((s) => [s.dayOfWeek, s]));
  const rows = DAY_NAMES.map((name, day) => {
    const s = byDay.get(day);
    const slots = h("input", {
      type: "text",
      id: `slots-${day}`,
      value: s ? s.timeSlots.join(", ") : "",
      placeholder: "09:00, 12:30, 19:00",
      "aria-label": `${name} time slots (HH:MM, comma separated)`,
    });
    const active = h("input", { type: "checkbox", id: `active-${day}`, checked: s ? s.isActive : true });
    const save = button("Save", () => busy(save, async () => {
      const timeSlots = slots.value.split(/[\s,]+/).filter(Boolean);
      if (s) await updateSchedule(account.id, day, { timeSlots, isActive: active.checked });
      else await createSchedule(account.id, { dayOfWeek: day, timeSlots, isActive: active.checked });
      toast(`${name} saved`, "success");
      await reload();
    }), { id: `save-${day}`, "aria-label": `Save ${name}` });
    const remove = s
      ? button("Remove", () => busy(remove, async () => {
          await deleteSchedule(account.id, day);
          toast(`${name} removed`, "success");
          await reload();
        }), { class: "danger small", "aria-label": `Remove ${name}` })
      : null;
    return h("tr", { dataset: { day } },
      h("th", { scope: "row" }, name, s?.isOptimal ? h("span", { class: "badge badge-ok" }, " optimal") : null),
      h("td", {}, slots),
      h("td", {}, h("label", { class: "checkbox" }, active, " active")),
      h("td", {}, save, remove));
  });
  return h("table", { class: "schedule-editor", id: "schedule-editor" },
    h("caption", {}, `Posting schedule (${schedules[0]?.timezone || account.timezone}): "Add to queue" uses the next free slot.`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col" }, "Slots"), h("th", { scope: "col" }, "Active"), h("th", { scope: "col" }, ""))),
    h("tbody", {}, rows));
}

export async function render(main) {
  const account = currentAccount();
  replace(main, h("h1", {}, "Best times"));
  if (!account) {
    main.append(notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }
  const analysis = h("section", { class: "card", "aria-labelledby": "bt-analysis" }, h("h2", { id: "bt-analysis" }, "When your audience engages"));
  const editor = h("section", { class: "card", "aria-labelledby": "bt-schedule" }, h("h2", { id: "bt-schedule" }, "Posting schedule"));
  main.append(analysis, editor);

  const reloadSchedules = async () => {
    try {
      const schedules = await listSchedules(account.id);
      const list = Array.isArray(schedules) ? schedules : schedules.schedules || schedules.items || [];
      const apply = button("Apply the best times to the schedule", () => busy(apply, async () => {
        const r = await post(`${SCHED}/schedules/${account.id}/apply-optimal`);
        toast(r.notice || `${counted((r.applied || []).length, "slot")} applied`, "success");
        await reloadSchedules();
      }), { id: "apply-optimal" });
      replace(editor, h("h2", { id: "bt-schedule" }, "Posting schedule"), scheduleEditor(account, list, reloadSchedules), apply);
    } catch (err) {
      editor.append(notice("error", err.message));
    }
  };

  try {
    const data = await optimalTimes(account.id);
    const tz = data.timezone || account.timezone;
    const basis = data.basis ? h("p", { class: "muted" }, `Basis: ${String(data.basis).replace(/_/g, " ")}`) : null;
    append(analysis, [basis, data.notice ? notice("info", data.notice) : null, heatmap(data, tz),
      h("h3", {}, "Top 5"), recommendations(data)]);
  } catch (err) {
    analysis.append(notice("error", `Best times unavailable: ${err.message}`));
  }
  await reloadSchedules();
  return null;
}
