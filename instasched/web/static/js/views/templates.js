// Caption templates: list (with categories and usage counts), create, edit, deactivate, delete.
import { busy, button, field, h, notice, openDialog, replace, select, toast } from "../dom.js";
import {
  MEDIA_TYPES,
  TEMPLATE_CATEGORIES,
  categoryLabel,
  createTemplate,
  deleteTemplate,
  listTemplates,
  updateTemplate,
} from "../posts-api.js";

function words(text) {
  return text.split(/[\s,]+/).map((w) => w.replace(/^[#@]/, "")).filter(Boolean);
}

function editor(existing, onSaved) {
  openDialog(existing ? "Edit template" : "New template", (body, close) => {
    const name = h("input", { type: "text", id: "tpl-name", required: true, maxlength: "255", value: existing?.name || "" });
    const category = select([["", "No category"], ...TEMPLATE_CATEGORIES], existing?.category || "", { id: "tpl-category" });
    const caption = h("textarea", { id: "tpl-caption", rows: "6" }, existing?.captionTemplate || "");
    const hashtags = h("input", { type: "text", id: "tpl-hashtags", value: (existing?.suggestedHashtags || []).join(" ") });
    const mentions = h("input", { type: "text", id: "tpl-mentions", value: (existing?.suggestedMentions || []).join(" ") });
    const mediaType = select([["", "Any"], ...MEDIA_TYPES], existing?.defaultMediaType || "", { id: "tpl-media-type" });
    const active = h("input", { type: "checkbox", id: "tpl-active", checked: existing ? existing.isActive !== false : true });
    const status = h("div", { "aria-live": "polite" });
    const save = h("button", { type: "submit", class: "primary", id: "tpl-save" }, "Save template");
    const form = h("form", { novalidate: true },
      field("Name", name),
      field("Category", category),
      field("Caption template", caption, "Variables look like {{productName}}; they are filled when composing."),
      field("Suggested hashtags", hashtags, "Space separated, without #."),
      field("Suggested mentions", mentions, "Usernames, space separated."),
      field("Default post type", mediaType),
      existing ? h("div", { class: "field checkbox" }, active, h("label", { for: "tpl-active" }, "Active (offered in the composer)")) : null,
      status,
      h("div", { class: "actions" }, save));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(save, async () => {
        const payload = {
          name: name.value.trim(),
          category: category.value || null,
          captionTemplate: caption.value,
          suggestedHashtags: words(hashtags.value),
          suggestedMentions: words(mentions.value),
        };
        if (existing) payload.isActive = active.checked;
        if (!existing && mediaType.value) payload.defaultMediaType = mediaType.value;
        try {
          if (existing) await updateTemplate(existing.id, payload);
          else await createTemplate(payload);
        } catch (err) {
          replace(status, notice("error", err.message));
          return;
        }
        toast("Template saved", "success");
        close();
        await onSaved();
      });
    });
    body.append(form);
    name.focus();
  });
}

export async function render(main) {
  const categoryFilter = select([["", "All categories"], ...TEMPLATE_CATEGORIES], "", { id: "tpl-filter" });
  const list = h("ul", { class: "cards", id: "template-list", "aria-label": "Templates" });
  const reload = async () => {
    let templates;
    try {
      templates = await listTemplates(categoryFilter.value ? { category: categoryFilter.value } : {});
    } catch (err) {
      replace(list, h("li", {}, notice("error", err.message)));
      return;
    }
    replace(list, ...templates.map((t) => {
      const remove = button("Delete", () => {
        if (!window.confirm(`Delete the template "${t.name}"?`)) return;
        busy(remove, async () => {
          await deleteTemplate(t.id);
          toast("Template deleted", "success");
          await reload();
        });
      }, { class: "danger small", "aria-label": `Delete ${t.name}` });
      return h("li", { class: `card template-card${t.isActive === false ? " inactive" : ""}`, dataset: { templateId: t.id } },
        h("h3", {}, t.name),
        h("p", { class: "muted small" }, categoryLabel(t.category),
          ` · used ${t.usageCount ?? 0} time${t.usageCount === 1 ? "" : "s"}`,
          t.isActive === false ? " · inactive" : ""),
        h("p", { class: "template-text" }, t.captionTemplate),
        (t.variables || []).length ? h("p", { class: "small" }, "Variables: ", t.variables.join(", ")) : null,
        h("div", { class: "actions" },
          button("Edit", () => editor(t, reload), { "aria-label": `Edit ${t.name}` }),
          remove));
    }));
    if (!templates.length) list.append(h("li", { class: "empty" }, "No templates yet."));
  };
  categoryFilter.addEventListener("change", reload);
  replace(main,
    h("div", { class: "calendar-head" }, h("h1", {}, "Templates"),
      button("New template", () => editor(null, reload), { class: "primary", id: "new-template" })),
    h("div", { class: "filters" }, field("Category", categoryFilter)),
    list);
  await reload();
  return null;
}
