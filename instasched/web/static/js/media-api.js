// The media endpoints (issue 3), in one place, and accessors that read an asset's JSON.
import { SCHED, del, get, patch, post, upload } from "./api.js";

export const USES = [
  ["feed", "Feed"],
  ["carousel", "Carousel"],
  ["reel", "Reel"],
  ["story", "Story"],
];

// Which compatibility entry applies to each post type (as the posts API checks it).
export const USE_FOR_TYPE = { IMAGE: "feed", VIDEO: "reel", REELS: "reel", CAROUSEL: "carousel", STORIES: "story" };

/** The user's media, newest first: filters accountId, mediaType ("image"/"video"), tag. */
export async function listMedia(accountId, filters = {}) {
  const items = [];
  for (let page = 1; page <= 10; page += 1) {
    const body = await get(`${SCHED}/media`, { accountId, limit: 100, page, ...filters });
    const batch = Array.isArray(body) ? body : body.items || [];
    items.push(...batch);
    if (Array.isArray(body) || batch.length < 100 || items.length >= (body.total ?? 0)) break;
  }
  return items;
}

export function uploadMedia(accountId, file, onProgress) {
  return upload(`${SCHED}/media/upload`, file, { query: { accountId }, onProgress });
}

export function setTags(id, tags) {
  return patch(`${SCHED}/media/assets/${id}`, { tags });
}

/** Remux or transcode a video that breaks Instagram's format rules (asset.conversionOffered). */
export function convertMedia(id) {
  return post(`${SCHED}/media/assets/${id}/convert`);
}

export function deleteMedia(id) {
  return del(`${SCHED}/media/assets/${id}`);
}

export function isVideo(asset) {
  return String(asset.mediaType || asset.mimeType || "").toLowerCase().includes("video");
}

export function displayUrl(asset) {
  return asset.previewUrl || asset.thumbnailUrl || asset.url || asset.presignedUrl || asset.s3Url;
}

export function fullUrl(asset) {
  return asset.url || asset.presignedUrl || asset.previewUrl || asset.s3Url;
}

export function assetName(asset) {
  return asset.originalFilename || asset.filename || asset.id;
}

/** {fits: bool|null, reasons: [string]} for one use ("feed", "carousel", "reel", "story"). */
export function compat(asset, use) {
  const report = asset.compatibility || {};
  const entry = report[use] ?? report[`${use}s`];
  if (entry === undefined || entry === null) return { fits: null, reasons: [] };
  if (typeof entry === "boolean") return { fits: entry, reasons: [] };
  const fits = entry.ok ?? entry.compatible ?? entry.fits ?? entry.valid ?? null;
  let reasons = entry.reasons ?? entry.problems ?? entry.errors ?? [];
  if (typeof reasons === "string") reasons = [reasons];
  if (entry.reason) reasons = [...reasons, entry.reason];
  return { fits: fits === null ? reasons.length === 0 : Boolean(fits), reasons: reasons.map(String) };
}

export function describe(asset) {
  const parts = [];
  if (asset.width && asset.height) parts.push(`${asset.width}×${asset.height}`);
  if (asset.duration) parts.push(`${asset.duration}s`);
  if (asset.fileSize) parts.push(formatBytes(asset.fileSize));
  return parts.join(" · ");
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
