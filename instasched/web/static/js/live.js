// Know what happened without reloading: a short poll (works behind any number of API
// processes, no connection held open) of each account's recently failed posts. A new failure
// raises a notification with its reason and the action to take (reconnect, fix media, retry);
// the page title and the favicon show how many failures are waiting to be looked at.
// Dismissed failures are remembered in memory only (like the session token).
import { button, h, toast } from "./dom.js";
import { listPosts, publishNow, retryPost } from "./posts-api.js";
import { loadAccounts, store } from "./store.js";
import { dayKey, formatInZone, wall } from "./time.js";

export const POLL_MS = 4000;
const LOOK_BACK_MS = 7 * 24 * 3600 * 1000;
const MAX_ALERTS = 3;

let timer = null;
let running = false;
const failed = new Map(); // post id -> post (failed, not dismissed)
const dismissed = new Set();
const listeners = new Set();
let baseIcon = null;

/** Called with the failed posts after each poll that changed them (views may redraw). */
export function onFailures(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function failureCount() {
  return failed.size;
}

/** What to do about a failure, from its reason and its account's state. */
export function actionFor(post, account) {
  const reason = post.lastPublishError || "";
  if ((account && account.needsReauth) || /reconnect|expired|revoked|access token|permission|log ?in again/i.test(reason)) {
    return { kind: "reconnect", label: "Reconnect the account", href: "#/accounts" };
  }
  if (/media|image|video|aspect|ratio|resolution|duration|format|codec|pixel|file size|too (large|small|long|short)|cover/i.test(reason)) {
    return { kind: "fix-media", label: "Fix the media", href: `#/compose/${post.id}/copy` };
  }
  return { kind: "retry", label: "Retry now" };
}

async function retry(post, btn) {
  btn.disabled = true;
  try {
    // Retry in place (same post, a new attempt; its history keeps the failed one), at once.
    await retryPost(post.id);
    const r = await publishNow(post.id);
    dismiss(post.id);
    toast(r.status === "published" ? "Published" : r.status === "failed" ? `Failed again: ${r.lastPublishError || ""}` : "Publishing…",
      r.status === "failed" ? "error" : "success");
  } catch (err) {
    toast(err.message, "error");
  } finally {
    btn.disabled = false;
  }
}

export function dismiss(id) {
  dismissed.add(id);
  failed.delete(id);
  draw();
}

function alertFor(post) {
  const account = store.accounts.find((a) => a.id === post.instagramAccountId);
  const tz = account?.timezone || "UTC";
  const action = actionFor(post, account);
  const titleId = `alert-${post.id}`;
  const act = action.href
    ? h("a", { class: "button primary", href: action.href, dataset: { action: action.kind }, onclick: () => dismiss(post.id) }, action.label)
    : button(action.label, (e) => retry(post, e.currentTarget), { class: "primary", dataset: { action: action.kind } });
  return h("section", { class: "alert", role: "alert", "aria-labelledby": titleId, dataset: { postId: post.id } },
    h("h2", { id: titleId }, `A post to @${account?.username || "?"} failed`),
    h("p", { class: "alert-reason" }, post.lastPublishError || "Instagram refused the post."),
    h("p", { class: "muted small" }, `Planned for ${formatInZone(new Date(post.scheduledFor), tz)} (${tz})`),
    h("div", { class: "actions" }, act,
      h("a", { class: "button", href: `#/calendar/${dayKey(wall(new Date(post.scheduledFor), tz))}/day` }, "Open"),
      button("Dismiss", () => dismiss(post.id), { "aria-label": `Dismiss the failure of the post planned for ${formatInZone(new Date(post.scheduledFor), tz)}` })));
}

function region() {
  let el = document.getElementById("alerts");
  if (!el) {
    el = h("div", { id: "alerts", class: "alerts", "aria-label": "Notifications" });
    document.body.append(el);
  }
  return el;
}

function draw() {
  const el = region();
  const posts = [...failed.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  // Keep the alerts already on screen (a redraw must not steal focus or repeat the alert).
  const wanted = new Set(posts.slice(0, MAX_ALERTS).map((p) => p.id));
  for (const node of [...el.children]) if (!wanted.has(node.dataset.postId)) node.remove();
  for (const p of posts.slice(0, MAX_ALERTS)) {
    if (!el.querySelector(`[data-post-id="${p.id}"]`)) el.append(alertFor(p));
  }
  const more = el.querySelector(".alert-more");
  if (more) more.remove();
  if (posts.length > MAX_ALERTS) el.append(h("p", { class: "alert alert-more" }, `and ${posts.length - MAX_ALERTS} more failed posts`));
  applyCount();
  for (const fn of listeners) fn(posts);
}

/** "(2) Calendar · instasched" and a favicon with the count; call after setting a title. */
export function applyCount() {
  const n = failed.size;
  const base = document.title.replace(/^\(\d+\) /, "");
  document.title = n ? `(${n}) ${base}` : base;
  const link = document.querySelector('link[rel="icon"]');
  if (!link) return;
  if (baseIcon === null) baseIcon = link.getAttribute("href");
  link.dataset.count = String(n);
  if (!n) {
    link.setAttribute("href", baseIcon);
    return;
  }
  const text = n > 99 ? "99+" : String(n);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#5b21b6"/>` +
    `<circle cx="44" cy="20" r="20" fill="#b91c1c"/><text x="44" y="28" font-size="${text.length > 2 ? 16 : 24}" text-anchor="middle" fill="#fff" font-family="sans-serif" font-weight="700">${text}</text></svg>`;
  link.setAttribute("href", `data:image/svg+xml,${encodeURIComponent(svg)}`);
}

async function poll() {
  if (!running) return;
  const since = new Date(Date.now() - LOOK_BACK_MS).toISOString();
  try {
    const lists = await Promise.all(store.accounts.map((a) =>
      listPosts(a.id, { status: "failed", after: since }).catch(() => null)));
    if (!running) return;
    let changed = false;
    const seen = new Set();
    lists.forEach((list) => {
      for (const p of list || []) {
        seen.add(p.id);
        if (!dismissed.has(p.id) && !failed.has(p.id)) {
          failed.set(p.id, p);
          changed = true;
        }
      }
    });
    for (const id of [...failed.keys()]) {
      if (!seen.has(id) && lists.every(Boolean)) {
        failed.delete(id);
        changed = true;
      }
    }
    // A failure may come from an expired connection: refresh "needs reconnect" as well.
    if (changed) {
      await loadAccounts().catch(() => null);
      draw();
    }
  } finally {
    if (running) timer = setTimeout(poll, document.hidden ? POLL_MS * 3 : POLL_MS);
  }
}

export function startLive() {
  if (running) return;
  running = true;
  poll();
}

export function stopLive() {
  running = false;
  clearTimeout(timer);
  failed.clear();
  dismissed.clear();
  const el = document.getElementById("alerts");
  if (el) el.remove();
  applyCount();
}
