// The posts, templates, schedules and optimal-times endpoints (issues 4 and 6) in one place.
import { SCHED, del, get, post, put } from "./api.js";

export const STATUSES = [
  "scheduled", "publishing", "published", "failed", "cancelled",
  // Drafts and approvals (issue 20, docs/approvals.md)
  "draft", "needs_approval", "changes_requested", "approval_expired",
];
/** What each status is called on screen (badges, legend, dialog titles). */
export const STATUS_TEXT = {
  scheduled: "Scheduled",
  publishing: "Publishing",
  published: "Published",
  failed: "Failed",
  cancelled: "Cancelled",
  draft: "Draft",
  needs_approval: "Needs approval",
  changes_requested: "Changes requested",
  approval_expired: "Approval expired",
};
export const MEDIA_TYPES = [
  ["IMAGE", "Image"],
  ["CAROUSEL", "Carousel"],
  ["REELS", "Reel"],
  ["VIDEO", "Video"],
  ["STORIES", "Story"],
];

export async function listPosts(accountId, { after, before, status } = {}) {
  const query = { scheduledAfter: after, scheduledBefore: before, status, limit: 100 };
  const items = (body) => body.posts || body.items || [];
  const first = await get(`${SCHED}/posts/${accountId}`, { ...query, page: 1 });
  const posts = [...items(first)];
  // The first page says how many there are: the others are asked for at once (a month with
  // 1,000 posts is 10 pages; one after the other they would take 10 round trips).
  const pages = Math.min(20, Math.ceil((first.total ?? 0) / 100));
  if (items(first).length === 100 && pages > 1) {
    const rest = await Promise.all(
      Array.from({ length: pages - 1 }, (_, i) => get(`${SCHED}/posts/${accountId}`, { ...query, page: i + 2 })),
    );
    for (const body of rest) posts.push(...items(body));
  }
  return posts;
}

export const getPost = (accountId, postId) => get(`${SCHED}/posts/${accountId}/${postId}`);
export const createPost = (body) => post(`${SCHED}/posts`, body);
export const updatePost = (postId, body) => put(`${SCHED}/posts/${postId}`, body);
export const cancelPost = (postId) => del(`${SCHED}/posts/${postId}`);
export const publishNow = (postId) => post(`${SCHED}/posts/${postId}/publish-now`);
export const postInsights = (postId) => get(`${SCHED}/posts/${postId}/insights`);
/** The account's posts changed after `since` (ISO): {now, posts, more}. */
export const postChanges = (accountId, since) => get(`${SCHED}/changes/${accountId}`, { since });
/** Everything that happened to a post, oldest first (issue 20: "why did my post fail"). */
export const postHistory = (postId) => get(`${SCHED}/posts/${postId}/history`);
/** A failed post back to scheduled, same id (in a few seconds, or at `scheduledFor`). */
export const retryPost = (postId, body = {}) => post(`${SCHED}/posts/${postId}/retry`, body);
export const duplicatePost = (postId, body) => post(`${SCHED}/posts/${postId}/duplicate`, body);
/** Drafts and approvals: a draft (or a post sent back) to an approver, or scheduled at once. */
export const submitPost = (postId, body = {}) => post(`${SCHED}/posts/${postId}/submit`, body);
export const approvePost = (postId, body = {}) => post(`${SCHED}/posts/${postId}/approve`, body);
export const rejectPost = (postId, comment) => post(`${SCHED}/posts/${postId}/reject`, { comment });

/** The publishing-quota details of a 422 (`detail[0]` with `count` and `quota`), or null. */
export function quotaProblem(err) {
  const first = Array.isArray(err && err.detail) ? err.detail[0] : null;
  return first && first.quota !== undefined && first.count !== undefined ? first : null;
}

export async function listTemplates(query = {}) {
  const body = await get(`${SCHED}/templates`, { limit: 100, ...query });
  if (Array.isArray(body)) return body;
  return body.templates || body.items || [];
}
export const createTemplate = (body) => post(`${SCHED}/templates`, body);
export const updateTemplate = (id, body) => put(`${SCHED}/templates/${id}`, body);
export const deleteTemplate = (id) => del(`${SCHED}/templates/${id}`);
export const renderTemplate = (id, variables) => post(`${SCHED}/templates/${id}/render`, { variables });

export const optimalTimes = (accountId) => get(`${SCHED}/optimal-times/${accountId}`);
export const nextSlot = (accountId) => get(`${SCHED}/schedules/${accountId}/next-slot`);
export const listSchedules = (accountId) => get(`${SCHED}/schedules/${accountId}`);
export const createSchedule = (accountId, body) => post(`${SCHED}/schedules/${accountId}`, body);
export const updateSchedule = (accountId, day, body) => put(`${SCHED}/schedules/${accountId}/${day}`, body);
export const deleteSchedule = (accountId, day) => del(`${SCHED}/schedules/${accountId}/${day}`);

export const TEMPLATE_CATEGORIES = [
  ["product_launch", "Product launch"],
  ["promotion", "Promotion"],
  ["tip", "Tip"],
  ["testimonial", "Testimonial"],
  ["behind_scenes", "Behind the scenes"],
  ["announcement", "Announcement"],
];

export function categoryLabel(value) {
  return (TEMPLATE_CATEGORIES.find(([v]) => v === value) || [value, value || "Uncategorised"])[1];
}

/** One recommendation's weekday (0 = Sunday) and hour, whatever the exact field names. */
export function slotOf(rec) {
  const day = rec.dayOfWeek ?? rec.day ?? rec.weekday;
  let hour = rec.hour;
  let minute = 0;
  if (hour === undefined && typeof rec.time === "string") [hour, minute] = rec.time.split(":").map(Number);
  return { day: Number(day), hour: Number(hour), minute: Number(minute || 0) };
}

/** A new post with the content of `p` (a failed post cannot be edited or published again). */
export function copyOf(p, scheduledFor) {
  const body = { instagramAccountId: p.instagramAccountId, mediaType: p.mediaType, scheduledFor };
  if (p.mediaIds && p.mediaIds.length) body.mediaIds = p.mediaIds;
  else body.mediaUrls = p.mediaUrls;
  if (p.mediaType !== "STORIES") body.caption = p.caption || "";
  for (const key of ["firstComment", "altText", "locationId", "coverUrl", "thumbOffsetMs", "shareToFeed", "trialParams", "isAiGenerated"]) {
    if (p[key] !== null && p[key] !== undefined && p[key] !== "") body[key] = p[key];
  }
  for (const key of ["userTags", "collaborators", "productTags"]) {
    if (Array.isArray(p[key]) && p[key].length) body[key] = p[key];
  }
  return body;
}
