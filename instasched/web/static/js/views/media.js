// Media library: drag-and-drop multi-upload with progress, thumbnails, filters, Instagram
// compatibility badges with reasons, delete (with the "in use" refusal shown).
import { busy, button, field, fileDrop, h, notice, replace, select, toast } from "../dom.js";
import {
  USES,
  assetName,
  compat,
  convertMedia,
  deleteMedia,
  describe,
  displayUrl,
  isVideo,
  listMedia,
  setTags,
  uploadMedia,
} from "../media-api.js";
import { bulkBar } from "../bulk.js";
import { currentAccount } from "../store.js";
import { forgetMedia } from "../thumbs.js";

export function thumbnail(asset, attrs = {}) {
  const url = displayUrl(asset);
  const alt = asset.altText || assetName(asset);
  if (!url) return h("div", { class: "thumb thumb-missing", ...attrs }, assetName(asset));
  return h("img", { class: "thumb", src: url, alt, loading: "lazy", ...attrs });
}

export function badges(asset) {
  return h(
    "ul",
    { class: "badges", "aria-label": "Instagram compatibility" },
    USES.map(([use, label]) => {
      const { fits, reasons } = compat(asset, use);
      const state = fits === null ? "unknown" : fits ? "ok" : "no";
      const mark = fits === null ? "?" : fits ? "✓" : "✗";
      const text = fits ? `${label}: fits` : fits === null ? `${label}: not checked` : `${label}: does not fit`;
      return h(
        "li",
        { class: `badge compat compat-${state}`, title: reasons.join("; ") || text, dataset: { use } },
        h("span", { "aria-hidden": "true" }, `${mark} `),
        h("span", { class: "visually-hidden" }, text),
        h("span", { "aria-hidden": "true" }, label),
      );
    }),
  );
}

function reasonsList(asset) {
  const rows = [];
  for (const [use, label] of USES) {
    const { fits, reasons } = compat(asset, use);
    if (fits === false) rows.push(h("li", {}, `${label}: ${reasons.join("; ") || "not supported"}`));
  }
  if (!rows.length) return null;
  return h("details", { class: "reasons" }, h("summary", {}, "Why it does not fit"), h("ul", {}, rows));
}

export async function render(main, { navigate } = {}) {
  const account = currentAccount();
  replace(main, h("h1", {}, "Media library"));
  if (!account) {
    main.append(notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }
  const fileInput = h("input", {
    type: "file",
    multiple: true,
    accept: "image/jpeg,image/png,video/mp4,video/quicktime",
    id: "media-file-input",
    class: "visually-hidden",
  });
  const drop = h(
    "div",
    { class: "dropzone", id: "dropzone", role: "button", tabindex: "0", "aria-describedby": "drop-hint" },
    h("strong", {}, "Drop files here or choose files"),
    h("p", { id: "drop-hint", class: "hint" },
      "JPEG, PNG, MP4 or MOV. Images up to 10 MB, videos up to 100 MB (server limits)."),
  );
  const progressList = h("ul", { class: "uploads", "aria-label": "Uploads", "aria-live": "polite" });
  const grid = h("ul", { class: "media-grid", id: "media-grid", "aria-label": "Media" });
  const typeFilter = select([["", "All types"], ["image", "Images"], ["video", "Videos"]], "", { id: "filter-type" });
  const fitFilter = select([["", "Any use"], ...USES.map(([u, l]) => [u, `Fits ${l.toLowerCase()}`])], "", {
    id: "filter-fit",
  });
  const tagFilter = h("input", { type: "search", id: "filter-tag", placeholder: "tag" });
  const scopeFilter = select([["account", `@${account.username}`], ["all", "All my media"]], "account", {
    id: "filter-scope",
  });
  let assets = [];
  // Bulk: the selected assets (ids), for a carousel or one post each.
  const selected = new Set();
  const bulk = h("div");
  const drawBulk = () => replace(bulk, bulkBar({
    account, selected, assets: () => assets, navigate,
    onClear: () => { selected.clear(); draw(); },
  }));

  const draw = () => {
    // Type and tag filter on the server; "fits" filters the loaded page here.
    const shown = assets.filter((a) => !fitFilter.value || compat(a, fitFilter.value).fits !== false);
    for (const id of [...selected]) if (!assets.some((a) => a.id === id)) selected.delete(id);
    drawBulk();
    replace(grid, ...shown.map(card));
    if (!shown.length) grid.append(h("li", { class: "empty" }, assets.length ? "No media matches the filters." : "No media yet: upload some above."));
  };

  const tagEditor = (asset, status) => {
    const input = h("input", {
      type: "text",
      value: (asset.tags || []).join(", "),
      placeholder: "summer, launch",
      "aria-label": `Tags of ${assetName(asset)}`,
      class: "tag-input",
    });
    const save = button("Save tags", () =>
      busy(save, async () => {
        replace(status);
        const tags = input.value.split(/[\s,]+/).map((t) => t.replace(/^#/, "")).filter(Boolean);
        try {
          const updated = await setTags(asset.id, tags);
          Object.assign(asset, updated);
          input.value = (updated.tags || []).join(", ");
          toast(`Tags of ${assetName(asset)} saved`, "success");
        } catch (err) {
          status.append(notice("error", err.message));
        }
      }), { class: "small", "aria-label": `Save tags of ${assetName(asset)}` });
    return h("div", { class: "row tag-edit" }, input, save);
  };

  const card = (asset) => {
    const status = h("div", { class: "card-status", "aria-live": "polite" });
    const remove = button("Delete", () =>
      busy(remove, async () => {
        replace(status);
        try {
          await deleteMedia(asset.id);
          assets = assets.filter((a) => a.id !== asset.id);
          toast(`${assetName(asset)} deleted`, "success");
          draw();
        } catch (err) {
          status.append(notice("error", err.status === 409 ? `In use: ${err.message}` : err.message));
        }
      }), { class: "danger small", "aria-label": `Delete ${assetName(asset)}` });
    const pick = h("input", { type: "checkbox", checked: selected.has(asset.id), "aria-label": `Select ${assetName(asset)}` });
    pick.addEventListener("change", () => {
      if (pick.checked) selected.add(asset.id);
      else selected.delete(asset.id);
      pick.closest(".media-card")?.classList.toggle("selected", pick.checked);
      drawBulk();
    });
    // A video that breaks Instagram's format rules (codec, fps, GOP, moov position, ...):
    // convert it on the server instead of exporting it again.
    const convert = asset.conversionOffered ? button("Convert for Instagram", () =>
      busy(convert, async () => {
        replace(status, notice("info", asset.conversionOffered === "remux"
          ? "Moving the video's index to the front…" : "Re-encoding the video; this can take a minute…"));
        try {
          const updated = await convertMedia(asset.id);
          Object.assign(asset, updated);
          toast(`${assetName(asset)} converted`, "success");
          draw();
        } catch (err) {
          replace(status, notice("error", err.message));
        }
      }), { class: "small", "aria-label": `Convert ${assetName(asset)} for Instagram` }) : null;
    return h(
      "li",
      { class: `media-card${selected.has(asset.id) ? " selected" : ""}`, dataset: { mediaId: asset.id } },
      h("label", { class: "select-media small" }, pick, "Select"),
      h("div", { class: "thumb-wrap" }, thumbnail(asset), isVideo(asset) ? h("span", { class: "chip" }, "Video") : null),
      h("p", { class: "media-name" }, assetName(asset)),
      h("p", { class: "muted small" }, describe(asset),
        asset.usedInPosts ? ` · used in ${asset.usedInPosts} post${asset.usedInPosts === 1 ? "" : "s"}` : ""),
      tagEditor(asset, status),
      badges(asset),
      reasonsList(asset),
      convert,
      remove,
      status,
    );
  };

  // Uploads that finish while a list request is in flight must not be lost when it answers.
  let recentUploads = [];
  const reload = async () => {
    recentUploads = [];
    try {
      const filters = {};
      if (typeFilter.value) filters.mediaType = typeFilter.value;
      if (tagFilter.value.trim()) filters.tag = tagFilter.value.trim().replace(/^#/, "");
      const fetched = await listMedia(scopeFilter.value === "all" ? undefined : account.id, filters);
      assets = [...recentUploads.filter((u) => !fetched.some((a) => a.id === u.id)), ...fetched];
    } catch (err) {
      replace(grid, h("li", {}, notice("error", err.message)));
      return;
    }
    draw();
  };

  const uploadFiles = (files) => {
    for (const file of files) {
      const bar = h("progress", { max: "100", value: "0" });
      const label = h("span", { class: "upload-name" }, file.name);
      const state = h("span", { class: "upload-state" }, "0 %");
      bar.setAttribute("aria-label", `Upload of ${file.name}`);
      const row = h("li", { class: "upload" }, label, bar, state);
      progressList.append(row);
      uploadMedia(account.id, file, (fraction) => {
        bar.value = Math.round(fraction * 100);
        state.textContent = fraction >= 1 ? "Processing…" : `${Math.round(fraction * 100)} %`;
      })
        .then((asset) => {
          bar.value = 100;
          state.textContent = "Uploaded";
          row.classList.add("done");
          recentUploads.push(asset);
          forgetMedia(account.id);
          assets = [asset, ...assets.filter((a) => a.id !== asset.id)];
          draw();
          setTimeout(() => row.remove(), 4000);
        })
        .catch((err) => {
          row.classList.add("failed");
          state.textContent = "";
          row.append(notice("error", `${file.name}: ${err.message}`));
        });
    }
  };

  fileInput.addEventListener("change", () => {
    uploadFiles([...fileInput.files]);
    fileInput.value = "";
  });
  drop.addEventListener("click", () => fileInput.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      fileInput.click();
    }
  });
  fileDrop(drop, uploadFiles);
  fitFilter.addEventListener("change", draw);
  for (const el of [typeFilter, scopeFilter]) el.addEventListener("change", reload);
  let tagTimer = null;
  tagFilter.addEventListener("input", () => {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(reload, 250);
  });

  main.append(
    h("section", { class: "card", "aria-label": "Upload" }, h("label", { for: "media-file-input", class: "visually-hidden" }, "Choose files"), fileInput, drop, progressList),
    h("div", { class: "filters", role: "group", "aria-label": "Filters" },
      field("Account", scopeFilter), field("Type", typeFilter), field("Fits", fitFilter),
      field("Tag", tagFilter)),
    bulk,
    grid,
  );
  await reload();
  return null;
}
