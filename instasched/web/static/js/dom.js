// Building the DOM safely: every string becomes a text node (textContent), never HTML.
// No function here takes markup, so user text (captions, file names, errors) cannot run.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Close"}, "text", childNode)
 * Attributes: `class`, `for`, `on<event>` (listener), `dataset` (object), `style` (object),
 * booleans (true sets, false/null/undefined omits), everything else through setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key === "style" && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) el.style.setProperty(k, String(v));
    } else if (key === "value" && "value" in el) {
      el.value = String(value);
    } else if (key === "checked" || key === "selected" || key === "disabled") {
      el[key] = Boolean(value);
      if (value) el.setAttribute(key, "");
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: <div class="field"><label for=id>text</label>control hint</div>. */
export function field(label, control, hint) {
  if (!control.id) control.id = nextId("field");
  const parts = [h("label", { for: control.id }, label), control];
  if (hint) {
    const hintEl = h("p", { class: "hint", id: nextId("hint") }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
    parts.push(hintEl);
  }
  return h("div", { class: "field" }, parts);
}

export function select(options, value, attrs = {}) {
  const el = h("select", attrs);
  for (const opt of options) {
    const [val, text] = Array.isArray(opt) ? opt : [opt, opt];
    el.append(h("option", { value: val, selected: String(val) === String(value ?? "") }, text));
  }
  return el;
}

/** A live region message: kind is "error", "success" or "info". */
export function notice(kind, ...text) {
  return h(
    "div",
    { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    ...text,
  );
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const region = document.getElementById("toast");
  if (!region) return;
  replace(region, h("div", { class: `toast toast-${kind}` }, message));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => clear(region), 6000);
}

/** A modal <dialog> with a title; returns {dialog, body, close}. Escape closes it. */
export function openDialog(title, build) {
  const titleId = nextId("dlg");
  const body = h("div", { class: "dialog-body" });
  const closeBtn = h("button", { type: "button", class: "icon", "aria-label": "Close" }, "×");
  const dialog = h(
    "dialog",
    { "aria-labelledby": titleId, class: "dialog" },
    h("div", { class: "dialog-head" }, h("h2", { id: titleId }, title), closeBtn),
    body,
  );
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  closeBtn.addEventListener("click", close);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  build(body, close);
  dialog.showModal();
  return { dialog, body, close };
}

export function button(text, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, text);
}

/** Run an async action from a button: disable it meanwhile, show errors as a toast. */
export async function busy(btn, action) {
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  try {
    return await action();
  } catch (err) {
    toast(err.message || String(err), "error");
    return undefined;
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
  }
}

/** Lets `el` (the entry of the item `id`) be dragged: `onStart()` when a drag begins; the
 *  class `dragging` while it lasts. */
export function dragSource(el, id, onStart) {
  el.addEventListener("dragstart", (e) => {
    onStart();
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", id);
    el.classList.add("dragging");
  });
  el.addEventListener("dragend", () => el.classList.remove("dragging"));
}

/** Files dropped on `zone` go to `onFiles(files)`; the class `over` while a drag is over it. */
export function fileDrop(zone, onFiles) {
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    onFiles([...(e.dataTransfer?.files || [])]);
  });
}

/** "1 like", "2 likes", "1,200 followers": a count and its noun, singular for exactly one. */
export function counted(count, noun, plural = `${noun}s`) {
  return `${Number(count).toLocaleString()} ${count === 1 ? noun : plural}`;
}

/** Only http(s) URLs become links (a `javascript:` URL from data must never be clickable). */
export function safeUrl(value) {
  try {
    const url = new URL(String(value), window.location.origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}
