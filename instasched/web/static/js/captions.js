// Caption counters shown live in the composer, against Instagram's limits (the posts API
// enforces the same ones and answers 422 naming the field).

export const LIMITS = { characters: 2200, hashtags: 30, mentions: 20 };

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
