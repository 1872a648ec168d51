// Caption counters shown live in the composer, against Instagram's limits (the posts API
// enforces the same ones and answers 422 naming the field).

// The hashtag cap is the server's MAX_HASHTAGS (Instagram's 5 since December 2025 by default).
const serverHashtags = Number(document.querySelector('meta[name="instasched-max-hashtags"]')?.content);
export const LIMITS = {
  characters: 2200,
  hashtags: Number.isInteger(serverHashtags) && serverHashtags >= 0 ? serverHashtags : 5,
  mentions: 20,
};
// Meta's collaborators rule: up to 5 on feed images, reels and carousels; none on stories.
export const MAX_COLLABORATORS = 5;

const HASHTAG = /(^|[^\p{L}\p{N}_&])#([\p{L}\p{N}_]+)/gu;
const MENTION = /(^|[^\p{L}\p{N}_.@])@([A-Za-z0-9._]{1,30})/gu;

export function countCaption(text) {
  const value = text || "";
  const hashtags = [...value.matchAll(HASHTAG)].map((m) => m[2]);
  const mentions = [...value.matchAll(MENTION)].map((m) => m[2]);
  return {
    // Instagram counts characters as the user sees them (code points), not UTF-16 units.
    characters: [...value].length,
    hashtags: hashtags.length,
    mentions: new Set(mentions.map((m) => m.toLowerCase())).size,
  };
}

export function overLimits(counts) {
  return Object.keys(LIMITS).filter((k) => counts[k] > LIMITS[k]);
}
