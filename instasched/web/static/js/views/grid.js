// Grid planner: the account's profile grid as it will look. Scheduled posts (newest planned
// first, as Instagram will put them) above the published ones (read from Instagram); drag a
// planned post onto another (or use its arrows) to swap their times; 4:5 or 1:1 crop.
import { get } from "../api.js";
import { button, dragSource, h, notice, replace, toast } from "../dom.js";
import { displayUrl } from "../media-api.js";
import { listPosts, updatePost } from "../posts-api.js";
import { currentAccount } from "../store.js";
import { TYPE_TEXT, mediaIndex, postThumbUrl } from "../thumbs.js";
import { formatInZone } from "../time.js";

// Planned cells drawn at first (the next 20 rows); "Show more" adds as many again.
const PAGE = 60;
const CROPS = [["4 / 5", "4:5 (Instagram's grid)"], ["1 / 1", "1:1 (square)"]];

export const profileMedia = (accountId) => get(`/api/instagram/accounts/${accountId}/media`, { limit: 30 });

/** Planned posts that will show on the grid: not stories, not reels kept off the feed. */
function onGrid(p) {
  if (p.mediaType === "STORIES") return false;
  return !(p.mediaType === "REELS" && p.shareToFeed === false);
}

export async function render(main) {
  const account = currentAccount();
  replace(main, h("h1", {}, "Grid planner"));
  if (!account) {
    main.append(notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }
  const tz = account.timezone || "UTC";
  let crop = CROPS[0][0];
  let planned = [];
  let published = [];
  let media = new Map();
  let dragged = null;
  let shown = PAGE;
  const status = h("div", { "aria-live": "polite", id: "grid-status" });
  const more = h("div", { class: "actions" });
  const grid = h("ol", { class: "ig-grid", id: "ig-grid", "aria-label": `Profile grid of @${account.username}, newest first` });
  const cropBtns = CROPS.map(([value, label]) => button(label, () => {
    crop = value;
    cropBtns.forEach((b, i) => b.setAttribute("aria-pressed", String(CROPS[i][0] === crop)));
    grid.style.setProperty("--cell-aspect", crop);
  }, { "aria-pressed": String(value === crop), dataset: { crop: value } }));
  grid.style.setProperty("--cell-aspect", crop);

  async function swap(a, b) {
    // Two edits: each post takes the other's time. The intermediate state may put one more
    // post in a 24 h window than the quota; the end state has the same counts as before.
    const [ta, tb] = [a.scheduledFor, b.scheduledFor];
    try {
      await updatePost(a.id, { scheduledFor: tb, allowOverQuota: true });
      try {
        await updatePost(b.id, { scheduledFor: ta, allowOverQuota: true });
      } catch (err) {
        await updatePost(a.id, { scheduledFor: ta, allowOverQuota: true }).catch(() => null);
        throw err;
      }
      toast(`Swapped: now ${formatInZone(new Date(tb), tz)} and ${formatInZone(new Date(ta), tz)}`, "success");
    } catch (err) {
      toast(`Not swapped: ${err.message}`, "error");
    }
    await load();
  }

  function cellFor(p, i) {
    const url = postThumbUrl(p, media);
    const when = formatInZone(new Date(p.scheduledFor), tz);
    const label = `Planned ${TYPE_TEXT[p.mediaType] || p.mediaType}, ${when}`;
    const li = h("li", {
      class: "planned",
      draggable: "true",
      dataset: { postId: p.id, scheduledFor: p.scheduledFor },
    },
    url ? h("img", { src: url, alt: label, loading: "lazy" }) : h("div", { class: "cell-none" }, label),
    h("span", { class: "cell-label", "aria-hidden": "true" }, when),
    h("div", { class: "grid-move" },
      i > 0 ? button("←", () => swap(p, planned[i - 1]), { "aria-label": `Move the post of ${when} left (swap times with the one after it)` }) : null,
      i < planned.length - 1 ? button("→", () => swap(p, planned[i + 1]), { "aria-label": `Move the post of ${when} right (swap times with the one before it)` }) : null));
    dragSource(li, p.id, () => { dragged = p; });
    li.addEventListener("dragover", (e) => {
      if (!dragged || dragged.id === p.id) return;
      e.preventDefault();
      li.classList.add("drop-over");
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-over"));
    li.addEventListener("drop", (e) => {
      e.preventDefault();
      li.classList.remove("drop-over");
      const from = dragged;
      dragged = null;
      if (from && from.id !== p.id) swap(from, p);
    });
    return li;
  }

  function publishedCell(m) {
    const ours = m.mediaIds.map((id) => media.get(id)).find(Boolean);
    const url = (ours && displayUrl(ours)) || m.thumbnailUrl || m.mediaUrl;
    const when = m.timestamp ? formatInZone(new Date(m.timestamp), tz) : "";
    const label = `Published ${m.mediaType === "CAROUSEL_ALBUM" ? "carousel" : (m.mediaType || "").toLowerCase()}${when ? `, ${when}` : ""}`;
    return h("li", { class: "published", dataset: { mediaId: m.id } },
      url ? h("img", { src: url, alt: label, loading: "lazy" }) : h("div", { class: "cell-none" }, label));
  }

  function draw() {
    // The newest planned posts come first; when there are many, the ones furthest ahead are
    // folded away first (the grid shows what is near: the end of the folded list).
    const hidden = Math.max(0, planned.length - shown);
    const cells = planned.map((p, i) => (i >= hidden ? cellFor(p, i) : null)).filter(Boolean);
    replace(grid, ...cells, ...published.map(publishedCell));
    replace(more, hidden ? button(`Show ${Math.min(PAGE, hidden)} more planned posts (${hidden} further ahead)`, () => {
      shown += PAGE;
      draw();
    }, { id: "grid-more" }) : null);
    if (!planned.length && !published.length) grid.append(h("li", { class: "cell-none" }, "Nothing planned or published yet."));
  }

  async function load() {
    try {
      const [posts, profile, index] = await Promise.all([
        listPosts(account.id, { status: "scheduled", after: new Date().toISOString() }),
        profileMedia(account.id),
        mediaIndex(account.id),
      ]);
      media = index;
      // Instagram shows the newest first: the last planned post goes top left.
      planned = posts.filter(onGrid).sort((a, b) => b.scheduledFor.localeCompare(a.scheduledFor));
      published = profile.items || [];
      replace(status, profile.notice ? notice("info", profile.notice) : null);
    } catch (err) {
      replace(status, notice("error", err.message));
    }
    draw();
  }

  main.append(
    h("p", { class: "muted" }, `Planned posts (outlined) come first, newest at the top left, then what is published on @${account.username}. Drag a planned post onto another, or use its arrows, to swap their times.`),
    h("div", { class: "toolbar", role: "group", "aria-label": "Crop preview" }, cropBtns),
    status,
    more,
    grid,
  );
  await load();
  return null;
}
