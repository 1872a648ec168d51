// Bulk actions on a selection of the media library: one carousel of the selected items (in the
// composer), or one post per item, spaced from a start time or in the posting schedule's next
// free slots.
import { busy, button, field, h, notice, openDialog, replace, select, toast } from "./dom.js";
import { assetName, isVideo } from "./media-api.js";
import { createPost } from "./posts-api.js";
import { inputToWall, wall, wallToApi, wallToInput, zonedToDate } from "./time.js";

/** The bar above the library: "n selected", create a carousel, create n posts, clear. */
export function bulkBar({ account, selected, assets, navigate, onClear }) {
  const count = selected.size;
  const ids = () => assets().filter((a) => selected.has(a.id)).map((a) => a.id);
  return h("div", { class: "bulk-bar", id: "bulk-bar", role: "group", "aria-label": "Selected media" },
    h("span", { id: "bulk-count" }, count ? `${count} selected` : "Select media to create posts from them"),
    button("Create a carousel", () => navigate(`compose?type=CAROUSEL&media=${ids().join(",")}`),
      { id: "bulk-carousel", disabled: count < 2 || count > 10, title: "A carousel takes 2 to 10 items" }),
    button(count === 1 ? "Create 1 post" : `Create ${count} posts`, () => postsDialog(account, assets().filter((a) => selected.has(a.id)), onClear),
      { id: "bulk-posts", disabled: count < 1 }),
    count ? button("Clear selection", onClear, { id: "bulk-clear", class: "link" }) : null);
}

function postsDialog(account, chosen, onDone) {
  const tz = account.timezone || "UTC";
  openDialog(`Create ${chosen.length} post${chosen.length === 1 ? "" : "s"}`, (body, close) => {
    const start = new Date(Date.now() + 24 * 3600 * 1000);
    start.setMinutes(0, 0, 0);
    const when = h("input", { type: "datetime-local", id: "bulk-start", value: wallToInput(wall(start, tz)) });
    const spacing = select([["1", "1 hour"], ["3", "3 hours"], ["24", "1 day"], ["48", "2 days"], ["168", "1 week"]], "24", { id: "bulk-spacing" });
    const mode = select([["time", "From a start time, spaced"], ["slots", "In the posting schedule's next free slots"]], "time", { id: "bulk-mode" });
    const caption = h("textarea", { id: "bulk-caption", rows: "3" });
    const status = h("div", { "aria-live": "polite" });
    const list = h("ol", { class: "small" }, chosen.map((a) => h("li", {}, `${assetName(a)} (${isVideo(a) ? "reel" : "image"})`)));
    const go = button("Create the posts", () => busy(go, async () => {
      replace(status);
      const first = inputToWall(when.value);
      if (mode.value === "time" && !first) throw new Error("Pick a start time");
      const made = [];
      for (const [i, asset] of chosen.entries()) {
        const post = {
          instagramAccountId: account.id,
          mediaType: isVideo(asset) ? "REELS" : "IMAGE",
          mediaIds: [asset.id],
          caption: caption.value,
        };
        if (mode.value === "slots") post.useNextSlot = true;
        else {
          const at = new Date(zonedToDate(first, tz).getTime() + i * Number(spacing.value) * 3600 * 1000);
          post.scheduledFor = wallToApi(wall(at, tz));
        }
        try {
          made.push(await createPost(post));
        } catch (err) {
          status.append(notice("error", `${assetName(asset)}: ${err.message}`));
          return;
        }
      }
      toast(`${made.length} post${made.length === 1 ? "" : "s"} scheduled`, "success");
      close();
      onDone();
    }), { class: "primary", id: "bulk-create" });
    body.append(list, field("How", mode), field(`First post at (${tz})`, when), field("Then one every", spacing),
      field("Caption for each (optional)", caption), status, h("div", { class: "actions" }, go));
    mode.addEventListener("change", () => {
      when.disabled = spacing.disabled = mode.value === "slots";
    });
  });
}

