// The composer's look-ahead (issue 22): an Instagram-like preview per placement (feed, reel
// 9:16 with its cover, story, carousel you can swipe), the publishing quota left in the 24 h
// window of the chosen time, and the selected media's problems, shown before submitting.
// Kept apart from views/composer.js, which only calls these functions.
import { SCHED, get } from "./api.js";
import { LIMITS } from "./captions.js";
import { button, h, replace } from "./dom.js";
import { USE_FOR_TYPE, assetName, compat, displayUrl, isVideo } from "./media-api.js";
import { formatInZone } from "./time.js";

const PLACEMENT = { IMAGE: "Feed post", CAROUSEL: "Carousel", REELS: "Reel", VIDEO: "Reel", STORIES: "Story" };

function mediaEl(asset, cls) {
  const url = displayUrl(asset);
  if (!url) return h("div", { class: `${cls} ig-empty` }, assetName(asset));
  return h("img", { class: cls, src: url, alt: asset.altText || assetName(asset), draggable: "false" });
}

/** A carousel you can swipe (scroll snap), with previous/next buttons and "2/5". */
function carousel(assets, aspect) {
  const track = h("ul", { class: "ig-track", tabindex: "0", "aria-label": "Carousel slides (swipe or use the arrows)" },
    assets.map((a, i) => h("li", { class: "ig-slide", style: { "aspect-ratio": aspect }, dataset: { slide: String(i + 1) } }, mediaEl(a, "ig-media"))));
  const count = h("span", { class: "ig-count", "aria-live": "polite" }, `1/${assets.length}`);
  const dots = h("div", { class: "ig-dots", "aria-hidden": "true" }, assets.map((_, i) => h("span", { class: i === 0 ? "on" : "" })));
  const current = () => Math.round(track.scrollLeft / Math.max(1, track.clientWidth));
  const show = (i) => track.scrollTo({ left: i * track.clientWidth, behavior: "smooth" });
  track.addEventListener("scroll", () => {
    const i = current();
    count.textContent = `${i + 1}/${assets.length}`;
    [...dots.children].forEach((d, j) => d.classList.toggle("on", j === i));
  }, { passive: true });
  const prev = button("‹", () => show(Math.max(0, current() - 1)), { class: "ig-nav ig-prev", "aria-label": "Previous slide" });
  const next = button("›", () => show(Math.min(assets.length - 1, current() + 1)), { class: "ig-nav ig-next", "aria-label": "Next slide" });
  return h("div", { class: "ig-carousel" }, track, prev, next, count, dots);
}

/**
 * Draw the preview of the post as it will appear: `type` (IMAGE, CAROUSEL, REELS, VIDEO,
 * STORIES), `assets` (selected, in order), `cover` (an image asset for a reel, or null),
 * `aspect` (the feed crop, e.g. "4 / 5"), `username`, `caption`.
 */
export function drawPlacementPreview(box, { type, assets, cover, aspect, username, caption }) {
  const vertical = type === "REELS" || type === "VIDEO" || type === "STORIES";
  const head = h("div", { class: "ig-head" }, h("span", { class: "ig-avatar", "aria-hidden": "true" }), h("strong", {}, username ? `@${username}` : ""),
    h("span", { class: "ig-placement" }, PLACEMENT[type] || type));
  let frame;
  if (!assets.length) {
    frame = h("div", { class: "ig-frame", style: { "aspect-ratio": vertical ? "9 / 16" : aspect } }, h("div", { class: "ig-empty" }, "No media selected"));
  } else if (type === "CAROUSEL") {
    frame = carousel(assets, aspect);
  } else if (vertical) {
    // A reel shows its cover until it plays; a story fills the phone screen.
    const shown = type !== "STORIES" && cover ? cover : assets[0];
    frame = h("div", { class: `ig-frame ig-vertical ig-${type === "STORIES" ? "story" : "reel"}`, style: { "aspect-ratio": "9 / 16" } },
      mediaEl(shown, "ig-media"),
      type === "STORIES"
        ? h("div", { class: "ig-story-bar", "aria-hidden": "true" }, h("span", {}))
        : h("span", { class: "ig-badge" }, cover ? "Cover" : isVideo(assets[0]) ? "Reel" : ""),
      type !== "STORIES" && caption ? h("p", { class: "ig-overlay-caption" }, caption) : null);
  } else {
    frame = h("div", { class: "ig-frame", style: { "aspect-ratio": aspect } }, mediaEl(assets[0], "ig-media"));
  }
  replace(box, head, frame,
    type === "STORIES" || type === "REELS" || type === "VIDEO" ? null : h("figcaption", { class: "ig-caption" },
      username ? h("strong", {}, `${username} `) : null, caption));
  box.dataset.placement = type;
}

/** Problems with the selection for this post type, as sentences (empty: none found). */
export function mediaProblems(type, assets, caption) {
  const problems = [];
  const use = USE_FOR_TYPE[type];
  for (const a of assets) {
    const c = compat(a, use);
    if (c.fits === false) problems.push(`${assetName(a)} does not fit a ${use}: ${c.reasons.join("; ") || "unsupported"}`);
  }
  if (type === "CAROUSEL" && assets.length && (assets.length < 2 || assets.length > 10)) {
    problems.push(`A carousel takes 2 to 10 items; ${assets.length} selected.`);
  }
  if ((type === "REELS" || type === "VIDEO") && assets.some((a) => !isVideo(a))) {
    problems.push("A reel needs a video.");
  }
  if (type === "IMAGE" && assets.some(isVideo)) problems.push("An image post takes an image; pick Reel for a video.");
  if (type === "STORIES" && caption && caption.trim()) problems.push("Stories have no caption; it will not be sent.");
  const tags = (caption.match(/(^|[^\p{L}\p{N}_&])#[\p{L}\p{N}_]+/gu) || []).length;
  if (type !== "STORIES" && tags > LIMITS.hashtags) {
    problems.push(`${tags} hashtags: Instagram takes at most ${LIMITS.hashtags}.`);
  }
  return problems;
}

export function drawProblems(box, problems) {
  if (!problems.length) {
    replace(box);
    return;
  }
  replace(box, h("div", { class: "notice notice-warn", role: "status" },
    h("strong", {}, problems.length === 1 ? "1 problem to fix before it can publish" : `${problems.length} problems to fix before it can publish`),
    h("ul", {}, problems.map((p) => h("li", {}, p)))));
}

/** The account's publishing quota around `instant` (GET .../quota/{accountId}?at=). */
export function quotaAt(accountId, instant, excludePostId = null) {
  return get(`${SCHED}/quota/${accountId}`, { at: instant.toISOString(), excludePostId });
}

let quotaSeq = 0;
/** "3 of 25 posts left in the 24 h from ... to ...", refreshed when the time changes. */
export async function drawQuota(box, accountId, instant, tz, excludePostId = null) {
  quotaSeq += 1;
  const mine = quotaSeq;
  if (!instant || Number.isNaN(instant.getTime())) {
    replace(box);
    return;
  }
  try {
    const q = await quotaAt(accountId, instant, excludePostId);
    if (mine !== quotaSeq) return;
    const full = q.remaining <= 0;
    replace(box, h("span", { class: full ? "error-text" : "" },
      `${q.remaining} of ${q.quota} posts left in this account's 24 h publishing window `,
      `(${formatInZone(new Date(q.windowStart), tz)} – ${formatInZone(new Date(q.windowEnd), tz)}; ${q.count} already planned).`,
      full ? " This time is full: the post would wait for room." : ""));
    box.dataset.remaining = String(q.remaining);
  } catch (err) {
    if (mine === quotaSeq) replace(box, h("span", { class: "muted" }, `Quota unavailable: ${err.message}`));
  }
}
