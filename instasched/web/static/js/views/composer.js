// Composer: account, media (ordered for carousels), type, caption with live counters, template
// with variables and a live preview, extras, a cropped preview, schedule time in the account's
// zone and the viewer's, best-time and next-slot choices, publish now. Also edits a post.
import { ApiError } from "../api.js";
import { countCaption, LIMITS, MAX_COLLABORATORS } from "../captions.js";
import { drawPlacementPreview, drawProblems, drawQuota, mediaProblems } from "../composer-extras.js";
import { busy, button, field, h, nextId, notice, replace, select, toast } from "../dom.js";
import { USE_FOR_TYPE, assetName, compat, isVideo, listMedia } from "../media-api.js";
import {
  MEDIA_TYPES,
  STATUS_TEXT,
  createPost,
  getPost,
  listTemplates,
  quotaProblem,
  nextSlot,
  optimalTimes,
  publishNow,
  renderTemplate,
  slotOf,
  submitPost,
  updatePost,
} from "../posts-api.js";
import { approvalNeeded, canWrite, role, store } from "../store.js";
import {
  DAY_NAMES,
  addDays,
  formatInZone,
  inputToWall,
  viewerZone,
  wall,
  wallToApi,
  wallToInput,
  weekdayOf,
  zonedToDate,
} from "../time.js";
import { thumbnail } from "./media.js";

const ASPECTS = [
  ["1 / 1", "Square 1:1"],
  ["4 / 5", "Portrait 4:5"],
  ["1.91 / 1", "Landscape 1.91:1"],
  ["9 / 16", "Vertical 9:16 (reels, stories)"],
];
const MIN_LEAD_MS = 5 * 60 * 1000;
const TRIAL_STRATEGIES = [
  ["", "No: an ordinary reel"],
  ["MANUAL", "Yes: I share it to my followers in the Instagram app"],
  ["SS_PERFORMANCE", "Yes: Instagram shares it to my followers if it does well"],
];

function defaultAspect(type) {
  return type === "REELS" || type === "STORIES" || type === "VIDEO" ? "9 / 16" : "1 / 1";
}

/** Next instant (after now + lead) at weekday `day`, `hour:minute` on the clocks of `tz`. */
export function nextOccurrence(day, hour, minute, tz) {
  const today = wall(new Date(), tz);
  for (let i = 0; i < 15; i += 1) {
    const d = addDays(today, i);
    if (weekdayOf(d) !== day) continue;
    const w = { year: d.year, month: d.month, day: d.day, hour, minute };
    if (zonedToDate(w, tz).getTime() > Date.now() + MIN_LEAD_MS) return w;
  }
  return null;
}

export async function render(main, { args, query = {}, navigate }) {
  const editingId = args[0] || null;
  const copyMode = args[1] === "copy";
  replace(main, h("h1", {}, editingId && !copyMode ? "Edit post" : "Compose a post"));
  if (!canWrite()) {
    main.append(notice("info", `Your role in this workspace (${role()}) reads posts; owners and editors write them.`));
    return null;
  }
  if (!store.accounts.length) {
    main.append(notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }

  let existing = null;
  if (editingId) {
    try {
      existing = await getPost(store.accountId, editingId);
    } catch (err) {
      main.append(notice("error", err.message));
      return null;
    }
  }
  const isEdit = Boolean(existing) && !copyMode;
  // A draft, or a post sent back or expired: saved as it is, or submitted (docs/approvals.md).
  const draftLike = isEdit && ["draft", "changes_requested", "approval_expired"].includes(existing.status);

  // ---- state
  const state = {
    accountId: existing?.instagramAccountId || store.accountId,
    type: existing?.mediaType || query.type || "IMAGE",
    // `#/compose?media=id1,id2&type=CAROUSEL` (from the media library's selection).
    selected: [...(existing?.mediaIds || (query.media ? query.media.split(",").filter(Boolean) : []))],
    media: [],
    templates: [],
    template: null,
    variables: { ...(existing?.templateVariables || {}) },
    rendered: null,
    useNextSlot: false,
    allowOverQuota: false, // set by "Save anyway" after a publishing-quota 422, for one submit
  };
  const account = () => store.accounts.find((a) => a.id === state.accountId);
  const tz = () => account()?.timezone || "UTC";

  // ---- controls
  const status = h("div", { id: "composer-status", "aria-live": "polite" });
  const accountSel = select(store.accounts.map((a) => [a.id, `@${a.username}`]), state.accountId, {
    id: "composer-account",
    disabled: isEdit,
  });
  const typeSel = select(MEDIA_TYPES, state.type, { id: "composer-type" });
  const mediaPicker = h("ul", { class: "picker", id: "media-picker", "aria-label": "Media to pick from" });
  const selectedList = h("ol", { class: "selected-media", id: "selected-media", "aria-label": "Selected media, in order" });
  const templateSel = h("select", { id: "composer-template" });
  const variablesBox = h("div", { class: "variables", id: "template-variables" });
  const caption = h("textarea", { id: "composer-caption", rows: "7", maxlength: "5000" }, existing?.caption || "");
  const counters = h("p", { class: "counters", id: "caption-counters", "aria-live": "polite" });
  const firstComment = h("textarea", { id: "composer-first-comment", rows: "2" }, existing?.firstComment || "");
  const altText = h("input", { type: "text", id: "composer-alt", maxlength: "1000", value: existing?.altText || "" });
  const collaborators = h("input", {
    type: "text",
    id: "composer-collaborators",
    placeholder: "username1, username2",
    value: (existing?.collaborators || []).join(", "),
  });
  const locationId = h("input", { type: "text", id: "composer-location", value: existing?.locationId || "" });
  const userTagsBox = h("div", { class: "user-tags", id: "user-tags" });
  const coverSel = h("select", { id: "composer-cover" });
  const shareToFeed = h("input", { type: "checkbox", id: "composer-share", checked: existing?.shareToFeed ?? true });
  // Trial reels (Instagram's trial_params) and the AI label (is_ai_generated): docs/instagram-fields.md
  const trialSel = select(TRIAL_STRATEGIES, existing?.trialParams?.graduationStrategy || "", { id: "composer-trial" });
  const aiLabel = h("input", { type: "checkbox", id: "composer-ai-label", checked: Boolean(existing?.isAiGenerated) });
  const aspectSel = select(ASPECTS, defaultAspect(state.type), { id: "composer-aspect" });
  const preview = h("figure", { class: "ig-preview", id: "composer-preview" });
  const when = h("input", { type: "datetime-local", id: "composer-when", required: true });
  const whenInfo = h("p", { class: "hint", id: "when-info", "aria-live": "polite" });
  const quotaInfo = h("p", { class: "hint", id: "quota-info", "aria-live": "polite" });
  const problemsBox = h("div", { id: "media-problems" });
  const suggestions = h("div", { class: "suggestions", id: "best-time-suggestions", role: "group", "aria-label": "Best times" });
  const queueBtn = button("Add to queue (next free slot)", () => chooseNextSlot(), { id: "add-to-queue" });
  const submitBtn = h("button", { type: "submit", class: "primary", id: "composer-submit" }, isEdit && !draftLike ? "Save changes" : "Schedule post");
  // Drafts: no time needed, never published; submitted later (here or by dragging it onto the
  // calendar). When the workspace requires approval, "Schedule" becomes "Submit for approval".
  const draftBtn = !isEdit || draftLike ? button("Save as draft", () => submit(false, true), { id: "composer-draft" }) : null;
  if ((!isEdit || draftLike) && approvalNeeded()) submitBtn.textContent = "Submit for approval";
  const publishBtn = button("Publish now", () => submit(true), { id: "composer-publish-now" });

  const userTags = (existing?.userTags || []).map((t) => ({ ...t }));

  // ---- schedule time
  // `#/compose?at=2026-12-10T09:00`: a free slot clicked in the calendar.
  const initialWall = existing?.scheduledFor
    ? wall(new Date(existing.scheduledFor), tz())
    : inputToWall(query.at) || (() => {
        const soon = new Date(Date.now() + 60 * 60 * 1000);
        soon.setMinutes(0, 0, 0);
        return wall(soon, tz());
      })();
  when.value = wallToInput(initialWall);

  const showWhen = () => {
    if (state.useNextSlot) return;
    const w = inputToWall(when.value);
    if (!w) {
      whenInfo.textContent = "Pick a date and time.";
      return;
    }
    const instant = zonedToDate(w, tz());
    whenInfo.textContent =
      `${formatInZone(instant, tz(), { dateStyle: "full" })} in ${tz()} (the account's time) · ` +
      `${formatInZone(instant, viewerZone(), { dateStyle: "full" })} in ${viewerZone()} (your time)`;
    showQuota(instant);
  };
  let quotaTimer = null;
  const showQuota = (instant) => {
    clearTimeout(quotaTimer);
    quotaTimer = setTimeout(() => drawQuota(quotaInfo, state.accountId, instant, tz(), isEdit ? existing.id : null), 200);
  };
  when.addEventListener("input", () => {
    state.useNextSlot = false;
    queueBtn.setAttribute("aria-pressed", "false");
    showWhen();
  });

  async function chooseNextSlot() {
    await busy(queueBtn, async () => {
      const slot = await nextSlot(state.accountId);
      if (!slot.scheduledFor) {
        whenInfo.textContent = slot.reason || "No free slot: set up a posting schedule under Best times.";
        return;
      }
      state.useNextSlot = true;
      queueBtn.setAttribute("aria-pressed", "true");
      const instant = new Date(slot.scheduledFor);
      when.value = wallToInput(wall(instant, tz()));
      whenInfo.textContent =
        `Next free slot: ${formatInZone(instant, tz(), { dateStyle: "full" })} in ${tz()} · ` +
        `${formatInZone(instant, viewerZone(), { dateStyle: "full" })} your time. ` +
        "The server picks the slot when you schedule.";
      showQuota(instant);
    });
  }

  async function loadSuggestions() {
    replace(suggestions, h("span", { class: "muted" }, "Loading best times…"));
    try {
      const data = await optimalTimes(state.accountId);
      const recs = (data.recommendations || []).slice(0, 5);
      if (!recs.length) {
        replace(suggestions, h("span", { class: "muted" }, "No best-time data yet."));
        return;
      }
      replace(suggestions, h("span", { class: "muted" }, "Best times: "));
      for (const rec of recs) {
        const { day, hour, minute } = slotOf(rec);
        const w = nextOccurrence(day, hour, minute, tz());
        if (!w) continue;
        const label = `${DAY_NAMES[day].slice(0, 3)} ${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`;
        suggestions.append(
          button(label, () => {
            state.useNextSlot = false;
            queueBtn.setAttribute("aria-pressed", "false");
            when.value = wallToInput(w);
            showWhen();
          }, { class: "chip-btn", title: `Next ${DAY_NAMES[day]} at that hour (${tz()})` }),
        );
      }
    } catch (err) {
      replace(suggestions, h("span", { class: "muted" }, `Best times unavailable: ${err.message}`));
    }
  }

  // ---- media
  const assetById = (id) => state.media.find((m) => m.id === id);
  // Carousels, and stories: several stories as one post, published in order.
  const multi = () => state.type === "CAROUSEL" || state.type === "STORIES";
  const drawMedia = () => {
    const use = USE_FOR_TYPE[state.type];
    replace(
      mediaPicker,
      ...state.media.map((asset) => {
        const c = compat(asset, use);
        const picked = state.selected.includes(asset.id);
        const input = h("input", {
          type: multi() ? "checkbox" : "radio",
          name: "composer-media",
          value: asset.id,
          checked: picked,
          disabled: c.fits === false && !picked,
          id: nextId("pick"),
        });
        input.addEventListener("change", () => {
          if (multi()) {
            if (input.checked) state.selected.push(asset.id);
            else state.selected = state.selected.filter((x) => x !== asset.id);
          } else {
            state.selected = input.checked ? [asset.id] : [];
          }
          drawMedia();
          drawPreview();
        });
        return h(
          "li",
          { class: `pick${picked ? " picked" : ""}${c.fits === false ? " unfit" : ""}`, dataset: { mediaId: asset.id } },
          h("label", { for: input.id }, input, thumbnail(asset), h("span", { class: "small" }, assetName(asset))),
          c.fits === false ? h("p", { class: "small error-text" }, `Not for ${use}: ${c.reasons.join("; ") || "unsupported"}`) : null,
        );
      }),
    );
    if (!state.media.length) {
      mediaPicker.append(h("li", { class: "empty" }, "No media yet. ", h("a", { href: "#/media" }, "Upload some")));
    }
    replace(
      selectedList,
      ...state.selected.map((id, i) => {
        const asset = assetById(id);
        const name = asset ? assetName(asset) : id;
        const up = button("↑", () => move(i, -1), { class: "icon", "aria-label": `Move ${name} earlier`, disabled: i === 0 });
        const down = button("↓", () => move(i, 1), {
          class: "icon",
          "aria-label": `Move ${name} later`,
          disabled: i === state.selected.length - 1,
        });
        const remove = button("×", () => {
          state.selected.splice(i, 1);
          drawMedia();
          drawPreview();
        }, { class: "icon", "aria-label": `Remove ${name}` });
        return h("li", { dataset: { mediaId: id } }, h("span", {}, `${i + 1}. ${name}`), up, down, remove);
      }),
    );
    const covers = state.media.filter((m) => !isVideo(m));
    const currentCover = coverSel.value || existing?.coverUrl || "";
    replace(coverSel, h("option", { value: "" }, "Instagram's default frame"),
      ...covers.map((m) => h("option", { value: m.s3Url || m.id, selected: (m.s3Url || m.id) === currentCover }, assetName(m))));
  };
  const move = (i, delta) => {
    const j = i + delta;
    [state.selected[i], state.selected[j]] = [state.selected[j], state.selected[i]];
    drawMedia();
    drawPreview();
  };

  // ---- caption, template
  const currentCaption = () => (state.template ? state.rendered?.caption ?? "" : caption.value);
  const drawCounters = () => {
    const counts = countCaption(currentCaption());
    replace(
      counters,
      ...[
        ["characters", "characters"],
        ["hashtags", "hashtags"],
        ["mentions", "mentions"],
      ].map(([key, label]) =>
        h("span", { class: `counter${counts[key] > LIMITS[key] ? " over" : ""}`, dataset: { counter: key } },
          `${counts[key]} / ${LIMITS[key]} ${label}`),
      ),
    );
  };
  caption.addEventListener("input", () => {
    drawCounters();
    drawPreview();
  });

  let renderTimer = null;
  const refreshRender = () => {
    clearTimeout(renderTimer);
    renderTimer = setTimeout(async () => {
      if (!state.template) return;
      try {
        state.rendered = await renderTemplate(state.template.id, state.variables);
      } catch (err) {
        state.rendered = { caption: "", missing: [], error: err.message };
      }
      caption.value = state.rendered.caption || "";
      drawCounters();
      drawPreview();
      drawVariables(false);
    }, 150);
  };

  const drawVariables = (rebuild = true) => {
    const missing = state.rendered?.missing || [];
    if (!state.template) {
      replace(variablesBox);
      caption.readOnly = false;
      return;
    }
    caption.readOnly = true;
    if (rebuild) {
      replace(variablesBox, ...(state.template.variables || []).map((name) => {
        const input = h("input", { type: "text", dataset: { variable: name }, value: state.variables[name] ?? "" });
        input.addEventListener("input", () => {
          state.variables[name] = input.value;
          refreshRender();
        });
        return field(name, input);
      }));
      variablesBox.append(h("p", { class: "hint missing-vars" }));
      variablesBox.append(button("Edit the caption freely instead", () => {
        state.template = null;
        templateSel.value = "";
        drawVariables();
        drawCounters();
      }, { class: "link" }));
    }
    const missingEl = variablesBox.querySelector(".missing-vars");
    if (missingEl) {
      missingEl.textContent = state.rendered?.error
        ? state.rendered.error
        : missing.length
          ? `Still to fill: ${missing.join(", ")}`
          : "All variables filled.";
    }
  };

  templateSel.addEventListener("change", () => {
    state.template = state.templates.find((t) => t.id === templateSel.value) || null;
    state.rendered = null;
    if (state.template?.defaultMediaType && !isEdit && !state.selected.length) {
      state.type = state.template.defaultMediaType;
      typeSel.value = state.type;
    }
    drawVariables();
    refreshRender();
    drawCounters();
  });

  // ---- user tags
  const drawUserTags = () => {
    replace(userTagsBox, ...userTags.map((tag, i) => {
      const name = h("input", { type: "text", value: tag.username || "", "aria-label": `Tag ${i + 1} username` });
      const x = h("input", { type: "number", min: "0", max: "1", step: "0.05", value: tag.x ?? 0.5, "aria-label": `Tag ${i + 1} x (0-1)` });
      const y = h("input", { type: "number", min: "0", max: "1", step: "0.05", value: tag.y ?? 0.5, "aria-label": `Tag ${i + 1} y (0-1)` });
      name.addEventListener("input", () => { tag.username = name.value.trim().replace(/^@/, ""); });
      x.addEventListener("input", () => { tag.x = Number(x.value); });
      y.addEventListener("input", () => { tag.y = Number(y.value); });
      const remove = button("×", () => { userTags.splice(i, 1); drawUserTags(); }, { class: "icon", "aria-label": `Remove tag ${i + 1}` });
      return h("div", { class: "row tag-row" }, name, x, y, remove);
    }), button("Add a person", () => { userTags.push({ username: "", x: 0.5, y: 0.5 }); drawUserTags(); }, { class: "small" }));
  };

  // ---- preview
  function drawPreview() {
    const acct = account();
    const assets = state.selected.map(assetById).filter(Boolean);
    const cover = coverSel.value ? state.media.find((m) => (m.s3Url || m.id) === coverSel.value) : null;
    drawPlacementPreview(preview, {
      type: state.type, assets, cover, aspect: aspectSel.value, username: acct?.username, caption: currentCaption(),
    });
    drawProblems(problemsBox, mediaProblems(state.type, assets, currentCaption()));
  }
  coverSel.addEventListener("change", drawPreview);
  aspectSel.addEventListener("change", drawPreview);
  typeSel.addEventListener("change", () => {
    state.type = typeSel.value;
    if (!multi() && state.selected.length > 1) state.selected = state.selected.slice(0, 1);
    aspectSel.value = defaultAspect(state.type);
    updateTypeFields();
    drawMedia();
    drawPreview();
  });
  accountSel.addEventListener("change", async () => {
    state.accountId = accountSel.value;
    state.selected = [];
    showWhen();
    await Promise.all([loadMedia(), loadSuggestions()]);
  });

  const imageOnly = h("div", { class: "type-image" }, field("Alt text", altText, "Describes the image for people using screen readers."));
  // A plain wrapper: `hidden` on it is not overridden by the .field layout.
  const shareBox = h("div", {}, h("div", { class: "field checkbox" }, shareToFeed, h("label", { for: shareToFeed.id }, "Also share the reel to the feed")));
  const reelOnly = h("div", { class: "type-reel" }, field("Reel cover", coverSel), shareBox,
    field("Trial reel", trialSel, "A trial reel is shown to non-followers first; it is not shared to the feed."));
  const aiBlock = h("div", { class: "field checkbox" }, aiLabel,
    h("label", { for: aiLabel.id }, "Label as made with AI (Instagram's \u201cAI info\u201d label)"));
  function updateTrial() {
    shareBox.hidden = Boolean(trialSel.value);
  }
  trialSel.addEventListener("change", updateTrial);
  updateTrial();
  const captionBlock = h("div", {}, field("Caption", caption), counters,
    h("p", { class: "hint", id: "hashtag-limit" },
      `Instagram allows at most ${LIMITS.hashtags} hashtags per post or reel (its limit since December 2025).`));
  const collaboratorsBlock = h("div", {}, field(`Collaborators (up to ${MAX_COLLABORATORS})`,
    collaborators, "Feed posts, reels and carousels; stories take none. Needs an account connected with Facebook Login."));
  function updateTypeFields() {
    imageOnly.hidden = !(state.type === "IMAGE" || state.type === "CAROUSEL");
    reelOnly.hidden = !(state.type === "REELS");
    captionBlock.hidden = state.type === "STORIES";
    collaboratorsBlock.hidden = state.type === "STORIES";
  }

  async function loadMedia() {
    try {
      state.media = await listMedia(state.accountId);
    } catch (err) {
      state.media = [];
      status.append(notice("error", `Media: ${err.message}`));
    }
    drawMedia();
    drawPreview();
  }

  async function loadTemplates() {
    try {
      state.templates = (await listTemplates({ isActive: true })).filter((t) => t.isActive !== false);
    } catch {
      state.templates = [];
    }
    replace(templateSel, h("option", { value: "" }, "No template"),
      ...state.templates.map((t) => h("option", { value: t.id }, t.name)));
    if (existing?.templateId && state.templates.some((t) => t.id === existing.templateId)) {
      templateSel.value = existing.templateId;
      state.template = state.templates.find((t) => t.id === existing.templateId);
      drawVariables();
      refreshRender();
    }
  }

  // ---- submit
  function body(forPublishNow) {
    const out = { mediaType: state.type, mediaIds: [...state.selected] };
    if (state.template) {
      out.templateId = state.template.id;
      out.templateVariables = { ...state.variables };
    } else if (state.type !== "STORIES") {
      out.caption = caption.value;
    }
    if (firstComment.value.trim()) out.firstComment = firstComment.value;
    else if (isEdit) out.firstComment = null;
    if (!imageOnly.hidden && altText.value.trim()) out.altText = altText.value.trim();
    const collabs = collaborators.value.split(/[\s,]+/).map((s) => s.replace(/^@/, "")).filter(Boolean);
    if (collaboratorsBlock.hidden) {
      if (isEdit) out.collaborators = [];
    } else if (collabs.length || isEdit) out.collaborators = collabs;
    if (locationId.value.trim()) out.locationId = locationId.value.trim();
    const tags = userTags.filter((t) => t.username);
    if (tags.length || isEdit) out.userTags = tags;
    if (state.type === "REELS") {
      if (coverSel.value) out.coverUrl = coverSel.value;
      if (trialSel.value) {
        out.trialParams = { graduationStrategy: trialSel.value };
        if (isEdit) out.shareToFeed = null;
      } else {
        out.shareToFeed = shareToFeed.checked;
        if (isEdit) out.trialParams = null;
      }
    } else if (isEdit) {
      out.trialParams = null;
    }
    if (aiLabel.checked || isEdit) out.isAiGenerated = aiLabel.checked;
    if (forPublishNow) {
      // Created a little ahead (the API's minimum lead), then made due at once by publish-now.
      const soon = wall(new Date(Date.now() + 60 * 60 * 1000), tz());
      out.scheduledFor = wallToApi(soon);
    } else if (state.useNextSlot) {
      out.useNextSlot = true;
    } else {
      const w = inputToWall(when.value);
      if (w) out.scheduledFor = wallToApi(w);
    }
    if (!isEdit) out.instagramAccountId = state.accountId;
    if (state.allowOverQuota) out.allowOverQuota = true;
    return out;
  }

  function showError(err, now) {
    const fields = err instanceof ApiError ? err.fields : [];
    // Over the publishing quota: say which 24 hours are full, and offer to save anyway.
    const over = quotaProblem(err)
      ? button("Save anyway", () => { state.allowOverQuota = true; submit(now); }, { id: "composer-over-quota" })
      : null;
    replace(status, notice("error", err.message,
      fields.length > 1 ? h("ul", {}, fields.map((f) => h("li", {}, `${f.field}: ${f.message}`))) : null, over));
    status.scrollIntoView({ block: "nearest" });
  }

  async function submit(now, asDraft = false) {
    replace(status);
    if (!state.selected.length) {
      showError(new Error("Pick at least one media item (mediaIds)."));
      return;
    }
    const btn = now ? publishBtn : asDraft ? draftBtn : submitBtn;
    btn.disabled = true;
    try {
      let saved;
      if (isEdit) saved = await updatePost(existing.id, body(false));
      else saved = await createPost(asDraft ? { ...body(false), draft: true } : body(now));
      if (draftLike && !asDraft && !now) {
        saved = await submitPost(saved.id, state.allowOverQuota ? { allowOverQuota: true } : {});
      }
      if (asDraft || saved.status !== "scheduled") {
        const done = {
          draft: "Draft saved: drag it from the drafts panel onto the calendar when it is ready",
          needs_approval: "Submitted for approval: it is scheduled once an approver approves it",
        }[saved.status] || `Saved (${STATUS_TEXT[saved.status] || saved.status})`;
        navigate(`calendar/${saved.scheduledFor ? saved.scheduledFor.slice(0, 10) : ""}`, done, "success");
      } else if (now) {
        if (isEdit) saved = await updatePost(existing.id, body(false));
        saved = await publishNow(saved.id);
        if (saved.status === "failed") toast(`Publishing failed: ${saved.lastPublishError || ""}`, "error");
        else toast(saved.status === "published" ? "Published" : `Publishing… (${saved.status})`, "success");
        navigate(`calendar/${saved.scheduledFor ? saved.scheduledFor.slice(0, 10) : ""}`);
      } else {
        const done = isEdit ? "Post updated" : `Scheduled for ${formatInZone(new Date(saved.scheduledFor), tz())} (${tz()})`;
        // Saved over the publishing quota: the warning says which 24 hours are full.
        navigate(`calendar/${saved.scheduledFor.slice(0, 10)}`,
          saved.quotaWarning ? `${done}. ${saved.quotaWarning.message}` : done,
          saved.quotaWarning ? "info" : "success");
      }
    } catch (err) {
      showError(err, now);
    } finally {
      state.allowOverQuota = false;
      btn.disabled = false;
    }
  }

  const form = h(
    "form",
    { class: "composer", id: "composer-form", novalidate: true },
    h("div", { class: "composer-main" },
      h("section", { class: "card", "aria-labelledby": "c-what" },
        h("h2", { id: "c-what" }, "What"),
        h("div", { class: "row" }, field("Account", accountSel), field("Post type", typeSel)),
        h("h3", {}, "Media"),
        h("p", { class: "hint" }, "Carousels take 2 to 10 items; several stories (up to 10) are published one after the other. Use the arrows to order them."),
        mediaPicker,
        selectedList),
      h("section", { class: "card", "aria-labelledby": "c-caption" },
        h("h2", { id: "c-caption" }, "Caption"),
        field("Template", templateSel, "Fill the variables; the preview is rendered by the server."),
        variablesBox,
        captionBlock,
        field("First comment", firstComment),
        imageOnly,
        reelOnly,
        aiBlock,
        h("fieldset", {}, h("legend", {}, "People to tag (username, x, y from 0 to 1)"), userTagsBox),
        collaboratorsBlock,
        field("Location id", locationId)),
      h("section", { class: "card", "aria-labelledby": "c-when" },
        h("h2", { id: "c-when" }, "When"),
        field(`Publish at (${tz()})`, when),
        whenInfo,
        quotaInfo,
        suggestions,
        queueBtn),
      problemsBox,
      status,
      h("div", { class: "actions sticky-actions" }, submitBtn, draftBtn, isEdit ? null : publishBtn)),
    h("aside", { class: "composer-preview card", "aria-labelledby": "c-preview" },
      h("h2", { id: "c-preview" }, "Preview"),
      field("Crop", aspectSel),
      preview),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit(false);
  });
  main.append(form);
  updateTypeFields();
  drawUserTags();
  drawCounters();
  showWhen();
  await Promise.all([loadMedia(), loadTemplates(), loadSuggestions()]);
  return () => {
    clearTimeout(renderTimer);
    clearTimeout(quotaTimer);
  };
}
