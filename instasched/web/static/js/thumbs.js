// What a post looks like, for the calendar and the grid planner: the thumbnail of its first
// media item (a carousel's first slide, a reel's cover), looked up in the account's media
// library. The library is read once per account and kept a few minutes (its presigned URLs
// last at least an hour), so moving between views costs no request.
import { displayUrl, listMedia } from "./media-api.js";

const TTL_MS = 5 * 60 * 1000;
const cache = new Map(); // accountId -> {at, promise}

export const TYPE_TEXT = { IMAGE: "Image", CAROUSEL: "Carousel", REELS: "Reel", VIDEO: "Video", STORIES: "Story" };
// A glyph per type, shown beside the (visually hidden when space is short) type name.
export const TYPE_ICON = { IMAGE: "▢", CAROUSEL: "❐", REELS: "▶", VIDEO: "▶", STORIES: "◯" };

/** Map of asset id (and s3Url) -> asset for the account, cached; never rejects. */
export function mediaIndex(accountId, { fresh = false } = {}) {
  const hit = cache.get(accountId);
  if (hit && !fresh && Date.now() - hit.at < TTL_MS) return hit.promise;
  const promise = listMedia(accountId)
    .then((items) => {
      const index = new Map();
      for (const a of items) {
        index.set(a.id, a);
        if (a.s3Url) index.set(a.s3Url, a);
      }
      return index;
    })
    .catch(() => new Map());
  cache.set(accountId, { at: Date.now(), promise });
  return promise;
}

/** Forget the cached library (after an upload), so the next view reads it again. */
export function forgetMedia(accountId) {
  if (accountId) cache.delete(accountId);
  else cache.clear();
}

/** The URL of the picture that stands for `post` (reel: its cover), or null. */
export function postThumbUrl(post, index) {
  if (post.mediaType === "REELS" && post.coverUrl) {
    const cover = index.get(post.coverUrl);
    if (cover && displayUrl(cover)) return displayUrl(cover);
  }
  const firstId = (post.mediaIds || [])[0];
  const first = (firstId && index.get(firstId)) || index.get((post.mediaUrls || [])[0]);
  return first ? displayUrl(first) || null : null;
}
