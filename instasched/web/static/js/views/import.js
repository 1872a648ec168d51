// Import posts from a CSV (POST .../import, docs/csv-import.md): choose or drop a file, read the
// dry-run report row by row (valid, or each problem with its column), then save the valid rows
// (mode=valid) or all of them or none (mode=all) and follow each new post to the calendar.
// The rows' cells are read here too (parseCsv) only to show which row is which; the server's
// report decides what is valid.
import { SCHED, get, upload } from "../api.js";
import { busy, button, field, fileDrop, h, notice, replace, toast } from "../dom.js";
import { formatBytes } from "../media-api.js";
import { currentAccount, store } from "../store.js";
import { dayKey, formatInZone, wall, wallToApi } from "../time.js";

const MAX_BYTES = 10 * 1024 * 1024; // the endpoint's IMPORT_MAX_BYTES
// Report rows drawn at a time ("Show N more"): a row costs ~1 ms to build and lay out here
// (bench/web_views.py: the first 300 drawn in 360 ms, all 1,000 at once in 1.25 s, at load 18).
const SHOWN = 300;

// The columns the endpoint reads (instasched/posts/imports.py COLUMNS), explained.
export const COLUMNS = [
  ["account", true, "Username (@ optional) or id of one of your Instagram accounts.", "@alpine.knits"],
  ["time", true, "ISO 8601. Without an offset it is read in the account's timezone; with one (+01:00, Z) it is exact.", "2026-12-20T14:00:00"],
  ["caption", false, "The caption (none for stories).", "New colours are in #knitwear"],
  ["template", false, "A caption template's name or id, instead of caption.", "Product Launch"],
  ["variables", false, "The template's variables as a JSON object.", '{"product": "Alpine Knit"}'],
  ["var.NAME", false, "One template variable per column; wins over the same name in variables.", "var.product"],
  ["media", true, "Media library ids and/or http(s) URLs (downloaded), separated by spaces or |, in order.", "3c9d2b7e-…"],
  ["media_type", false, "IMAGE, VIDEO, REELS, CAROUSEL or STORIES. Empty: IMAGE for one image, REELS for one video, CAROUSEL for several.", "IMAGE"],
  ["first_comment", false, "Posted as the first comment.", "Link in bio"],
  ["alt_text", false, "Alt text (image posts).", "A red knitted scarf"],
  ["tags", false, "People to tag: username or username:x:y (x, y from 0 to 1), separated by spaces or |.", "snowline.studio:0.4:0.6"],
  ["collaborators", false, "Collaborator usernames, separated by spaces or commas.", "snowline.studio"],
  ["location_id", false, "An Instagram location (Facebook page) id.", "110843418940484"],
];

/**
 * The records of a CSV as Python's csv module reads them for the import: delimiter `;` when the
 * first line has more semicolons than commas, quotes with "" inside, a BOM dropped. A blank line
 * is a record of its own (it keeps the numbering of the rows after it).
 */
export function parseCsv(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = text.split("\n", 1)[0];
  const delimiter = first.split(";").length > first.split(",").length ? ";" : ",";
  const records = [];
  let record = [];
  let cell = "";
  let quoted = false;
  let atStart = true;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else quoted = false;
    } else if (c === '"' && atStart) {
      quoted = true;
      atStart = false;
    } else if (c === delimiter) {
      record.push(cell);
      cell = "";
      atStart = true;
    } else if (c === "\n" || c === "\r") {
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
      atStart = true;
      if (c === "\r" && text[i + 1] === "\n") i += 1;
    } else {
      cell += c;
      atStart = false;
    }
  }
  if (cell !== "" || record.length) {
    record.push(cell);
    records.push(record);
  }
  return records;
}

/** Row number (the header is row 1, as the report numbers them) -> {column: cell}. */
export function rowsByNumber(text) {
  const [head = [], ...rest] = parseCsv(text);
  const header = head.map((c) => c.trim().toLowerCase().replace(/[ -]/g, "_"));
  const rows = new Map();
  rest.forEach((values, i) => {
    if (!values.some((v) => v.trim())) return;
    const cells = {};
    header.forEach((name, j) => {
      if (name) cells[name] = (values[j] ?? "").trim();
    });
    rows.set(i + 2, cells);
  });
  return rows;
}

function csvCell(value) {
  const text = String(value ?? "");
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A sample file for the current account: two image posts at 10:00 on the next two days. */
export function sampleCsv(account, mediaRef) {
  const tz = account?.timezone || "UTC";
  const day = (n) => {
    const w = wall(new Date(Date.now() + n * 86400000), tz);
    return wallToApi({ ...w, hour: 10, minute: 0 });
  };
  const who = account ? `@${account.username}` : "@your.account";
  const media = mediaRef || "https://example.com/photo.jpg";
  const rows = [
    ["account", "time", "caption", "media", "media_type", "first_comment", "alt_text", "tags"],
    [who, day(1), "New colours are in, #knitwear", media, "IMAGE", "Link in bio", "A knitted scarf", ""],
    [who, day(2), "Second post from the sample", media, "", "", "", ""],
  ];
  return `${rows.map((r) => r.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

function accountOf(cells) {
  const name = (cells?.account || "").replace(/^@/, "").toLowerCase();
  if (!name) return null;
  return store.accounts.find((a) => a.id === name || a.username.toLowerCase() === name) || null;
}

function snippet(text, n = 60) {
  const chars = [...(text || "")];
  return chars.length > n ? `${chars.slice(0, n).join("")}…` : chars.join("");
}

/** Where a saved post is shown: its day on the calendar, its dialog open, its account chosen. */
export function calendarLink(postId, scheduledFor, account) {
  const tz = account?.timezone || "UTC";
  const day = dayKey(wall(new Date(scheduledFor), tz));
  const query = new URLSearchParams({ post: postId });
  if (account) query.set("account", account.id);
  return `#/calendar/${day}/day?${query}`;
}

/** An API refusal in words: what was refused, the server's message, its field when it names one. */
export function refusal(err) {
  if (!err.status) return err.message;
  const what = {
    400: "The request was refused",
    401: "You are not logged in",
    403: "You may not import posts",
    404: "Not found",
    413: "The file is too large",
    422: "The file cannot be imported",
    429: "Too many requests; wait a moment and try again",
  }[err.status] || `The server answered ${err.status}`;
  return `${what}: ${err.message}`;
}

export async function render(main) {
  const account = currentAccount();
  replace(main, h("h1", {}, "Import posts from a CSV"));
  main.append(h("p", {}, h("a", { href: "#/calendar" }, "‹ Back to the calendar")));
  if (!store.accounts.length) {
    main.append(notice("info", "Connect an Instagram account first: ", h("a", { href: "#/accounts" }, "Accounts")));
    return null;
  }

  let file = null;
  let cells = new Map();
  let report = null;
  let shownCount = SHOWN;
  let seq = 0; // the latest dry run: an older answer arriving late is dropped
  let saving = false;
  // A commit whose answer was lost (no connection, a 5xx) may have saved the posts: the import
  // has no idempotency key, so the commit is not offered again until the file is chosen again.
  let uncertain = false;

  // 1. The file: a drop zone that is a button (Enter or Space opens the chooser). The file
  // input is out of the tab order: the button stands for it.
  const input = h("input", { type: "file", accept: ".csv,text/csv", id: "import-file", class: "visually-hidden", tabindex: "-1" });
  const drop = h("button",
    { type: "button", class: "dropzone import-drop", id: "import-dropzone", "aria-describedby": "import-drop-hint" },
    h("strong", {}, "Drop a CSV file here or choose one"),
    h("span", { id: "import-drop-hint", class: "hint" },
      "UTF-8, comma- or semicolon-separated, first line = column names; at most 10 MB. Nothing is saved until you confirm."));
  const chosen = h("p", { id: "import-file-name", class: "muted", "aria-live": "polite" });
  const status = h("div", { id: "import-status", "aria-live": "polite" });
  const result = h("section", { id: "import-report", "aria-labelledby": "import-report-title", hidden: true });

  // 2. The options and the commit.
  const modeValid = h("input", { type: "radio", name: "import-mode", value: "valid", id: "import-mode-valid", checked: true });
  const modeAll = h("input", { type: "radio", name: "import-mode", value: "all", id: "import-mode-all" });
  const overQuota = h("input", { type: "checkbox", id: "import-over-quota" });
  const commitBtn = button("Schedule the valid rows", () => commit(), { class: "primary", id: "import-commit" });
  const commitHint = h("p", { class: "hint", id: "import-commit-hint" });
  commitBtn.setAttribute("aria-describedby", commitHint.id);
  const again = button("Check the file again", () => check(), { id: "import-recheck" });
  const options = h("fieldset", { class: "import-options", id: "import-options", hidden: true },
    h("legend", {}, "Save"),
    h("div", { class: "field checkbox" }, modeValid,
      h("label", { for: modeValid.id }, "The valid rows; the rows with problems are skipped")),
    h("div", { class: "field checkbox" }, modeAll,
      h("label", { for: modeAll.id }, "All rows or nothing: save only when every row is valid")),
    h("div", { class: "field checkbox" }, overQuota,
      h("label", { for: overQuota.id }, "Also save rows over the publishing quota (checks the file again)")),
    h("div", { class: "actions" }, commitBtn, again), commitHint);

  const mode = () => (modeAll.checked ? "all" : "valid");

  const drawCommit = () => {
    if (!report || report.committed || uncertain) {
      options.hidden = true;
      return;
    }
    options.hidden = false;
    const n = report.valid;
    if (mode() === "all") {
      commitBtn.textContent = `Schedule all ${n} post${n === 1 ? "" : "s"}`;
      commitBtn.disabled = report.invalid > 0 || n === 0;
      commitHint.textContent = report.invalid
        ? `${report.invalid} row${report.invalid === 1 ? " has" : "s have"} problems: fix the file and choose it again, or save the valid rows only.`
        : "Every row is valid: all are saved in one transaction.";
    } else {
      commitBtn.textContent = `Schedule ${n} valid row${n === 1 ? "" : "s"}`;
      commitBtn.disabled = n === 0;
      commitHint.textContent = n === 0
        ? "No row is valid: fix the file and choose it again."
        : report.invalid
          ? `${report.invalid} row${report.invalid === 1 ? " with problems is" : "s with problems are"} not saved.`
          : "Every row is valid: all are saved in one transaction.";
    }
  };

  const problemsList = (row) => h("ul", { class: "import-problems" },
    row.problems.map((p) => h("li", {},
      h("span", { class: "import-column" }, p.column === "row" ? "Whole row" : p.column), " ", p.message)));

  const outcome = (row, acc) => {
    if (!row.valid) {
      return [h("span", { class: "import-state import-bad" }, h("span", { "aria-hidden": "true" }, "✗ "),
        `${row.problems.length} problem${row.problems.length === 1 ? "" : "s"}`), problemsList(row)];
    }
    const tz = acc?.timezone || "UTC";
    const when = row.scheduledFor ? `${formatInZone(new Date(row.scheduledFor), tz)} (${tz})` : "";
    if (row.postId) {
      return [h("span", { class: "import-state import-ok" }, h("span", { "aria-hidden": "true" }, "✓ "), "Scheduled"),
        h("div", {}, when),
        h("div", { class: "small" }, "Post ", h("code", { class: "import-post-id" }, row.postId)),
        h("a", { href: calendarLink(row.postId, row.scheduledFor, acc), class: "import-open", dataset: { postId: row.postId } },
          `Open row ${row.row}'s post on the calendar`)];
    }
    return [h("span", { class: "import-state import-ok" }, h("span", { "aria-hidden": "true" }, "✓ "), "Valid"),
      when ? h("div", {}, when) : null];
  };

  const reportRow = (row) => {
    const c = cells.get(row.row) || {};
    const acc = accountOf(c);
    const what = c.caption ? snippet(c.caption) : c.template ? `Template: ${c.template}` : "";
    // A cell whose column has a problem is marked (besides the problem's text).
    const wrong = new Set(row.problems.map((p) => p.column));
    const cell = (label, column, value) => h("td",
      { "data-label": label, class: wrong.has(column) ? "import-cell-bad" : null },
      value || h("span", { class: "muted" }, "(empty)"));
    return h("tr", { class: row.valid ? "import-row-ok" : "import-row-bad", dataset: { row: row.row } },
      h("th", { scope: "row", "data-label": "Row" }, String(row.row)),
      cell("Account", "account", c.account),
      cell("Time", "time", c.time),
      cell("Caption", c.caption ? "caption" : "template", what),
      h("td", { "data-label": "Result" }, h("div", {}, outcome(row, acc))));
  };

  const onlyBad = h("input", { type: "checkbox", id: "import-only-problems" });
  onlyBad.addEventListener("change", () => drawReport());

  const drawReport = () => {
    if (!report) {
      result.hidden = true;
      return;
    }
    result.hidden = false;
    const rows = onlyBad.checked ? report.rows.filter((r) => !r.valid) : report.rows;
    let shown = rows.slice(0, shownCount);
    const tbody = h("tbody", {}, shown.map(reportRow));
    const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
    const summary = report.committed
      ? notice("success", `Scheduled ${count(report.created, "post")} from ${file.name}.`,
        report.invalid ? ` ${count(report.invalid, "row")} with problems ${report.invalid === 1 ? "was" : "were"} not saved.` : "")
      : !report.dryRun
        ? notice("error", report.mode === "all" && report.invalid
          ? `Nothing was saved: ${count(report.invalid, "row")} ${report.invalid === 1 ? "has" : "have"} problems and "all rows or nothing" was chosen.`
          : `Nothing was saved: no row of ${file.name} is valid now.`)
        : notice(report.invalid ? "warn" : "success",
          `Dry run of ${file.name}: ${count(report.total, "row")}, ${report.valid} valid, ${report.invalid} with problems. Nothing is saved yet.`);
    summary.id = "import-summary";
    const table = h("table", { class: "import-table", id: "import-table" },
      h("caption", { class: "visually-hidden" }, "Rows of the file and what the import says of each"),
      h("thead", {}, h("tr", {}, ["Row", "Account", "Time", "Caption", "Result"].map((t) => h("th", { scope: "col" }, t)))),
      tbody);
    const left = rows.length - shown.length;
    const more = left > 0
      ? button(`Show ${Math.min(left, SHOWN)} more rows (${left} not shown)`, () => {
        shownCount += SHOWN;
        tbody.append(...rows.slice(shown.length, shownCount).map(reportRow));
        shown = rows.slice(0, shownCount);
        const rest = rows.length - shown.length;
        if (rest > 0) more.textContent = `Show ${Math.min(rest, SHOWN)} more rows (${rest} not shown)`;
        else more.remove();
      }, { id: "import-show-more" })
      : null;
    replace(result,
      h("h2", { id: "import-report-title", tabindex: "-1" }, report.committed ? "Import report" : "Dry-run report"),
      summary,
      report.invalid ? h("div", { class: "field checkbox" }, onlyBad, h("label", { for: onlyBad.id }, "Only the rows with problems")) : null,
      h("div", { class: "import-table-wrap" }, table),
      more,
      report.committed
        ? h("div", { class: "actions" },
          h("a", { class: "button", href: "#/calendar", id: "import-to-calendar" }, "Go to the calendar"),
          button("Import another file", reset, { id: "import-another" }))
        : null);
    drawCommit();
  };

  const send = (dryRun) => upload(`${SCHED}/import`, file, {
    query: { dryRun: String(dryRun), mode: mode(), allowOverQuota: overQuota.checked ? "true" : "false" },
  });

  async function check() {
    seq += 1;
    const mine = seq;
    report = null;
    shownCount = SHOWN;
    drawReport();
    replace(status, notice("info", `Checking ${file.name}…`));
    let answer = null;
    let error = null;
    try {
      answer = await send(true);
    } catch (err) {
      error = err;
    }
    if (mine !== seq) return;
    report = answer;
    replace(status, error ? notice("error", refusal(error)) : null);
    drawReport();
    if (report) result.querySelector("h2")?.focus();
  }

  function commit() {
    return busy(commitBtn, async () => {
      saving = true;
      seq += 1; // a dry run still in flight must not replace what the commit answers
      replace(status, notice("info", `Saving the posts of ${file.name}…`));
      try {
        const answer = await send(false);
        report = answer;
        replace(status);
        if (answer.committed) toast(`Scheduled ${answer.created} post${answer.created === 1 ? "" : "s"}`, "success");
      } catch (err) {
        uncertain = !err.status || err.status >= 500;
        replace(status, uncertain
          ? notice("error", h("span", { class: "import-lost" }, refusal(err), ". "),
            "The posts may have been saved: look at the ", h("a", { href: "#/calendar" }, "calendar"),
            " before choosing the file again.")
          : notice("error", refusal(err)));
      } finally {
        saving = false;
      }
      shownCount = SHOWN;
      drawReport();
    });
  }

  function reset() {
    file = null;
    report = null;
    replace(chosen);
    replace(status);
    drawReport();
    drawCommit();
    drop.focus();
  }

  async function choose(picked) {
    if (!picked) return;
    if (saving) {
      toast("The posts of the current file are being saved; choose the next file after that.", "error");
      return;
    }
    uncertain = false;
    if (picked.size > MAX_BYTES) {
      replace(status, notice("error", `${picked.name} is ${formatBytes(picked.size)}: the import takes at most ${formatBytes(MAX_BYTES)}; split it.`));
      return;
    }
    file = picked;
    chosen.textContent = `${picked.name} (${formatBytes(picked.size)})`;
    cells = rowsByNumber(await picked.text());
    await check();
  }

  input.addEventListener("change", () => {
    const picked = input.files?.[0];
    input.value = "";
    choose(picked);
  });
  drop.addEventListener("click", () => input.click());
  fileDrop(drop, (files) => choose(files[0]));
  for (const el of [modeValid, modeAll]) el.addEventListener("change", () => { drawCommit(); });
  overQuota.addEventListener("change", () => { if (file) check(); });

  // The sample file: the current account and its newest media item, so it passes a dry run.
  const sample = h("a", { class: "button", id: "import-sample", download: "instasched-sample.csv", href: "#" }, "Download a sample CSV");
  const setSample = (mediaRef) => {
    const blob = new Blob([sampleCsv(account, mediaRef)], { type: "text/csv" });
    if (sample.dataset.url) URL.revokeObjectURL(sample.dataset.url);
    sample.dataset.url = URL.createObjectURL(blob);
    sample.href = sample.dataset.url;
  };
  setSample(null);
  if (account) {
    get(`${SCHED}/media`, { accountId: account.id, limit: 1 })
      .then((body) => {
        const items = Array.isArray(body) ? body : body?.items || [];
        if (items.length) setSample(items[0].id);
      })
      .catch(() => {}) // the sample keeps its example URL
      .finally(() => { sample.dataset.ready = "true"; });
  } else sample.dataset.ready = "true";

  const columns = h("details", { class: "card import-columns", id: "import-columns" },
    h("summary", {}, "The columns"),
    h("p", { class: "hint" }, "account, time and media are required; the others are optional. Column names are not case-sensitive (first comment = first_comment); an unknown column refuses the whole file. Rows are numbered as a spreadsheet numbers them: the header is row 1."),
    h("div", { class: "import-table-wrap" },
      h("table", { class: "columns-table" },
        h("caption", { class: "visually-hidden" }, "Columns of the CSV file"),
        h("thead", {}, h("tr", {}, ["Column", "Required", "Meaning", "Example"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, COLUMNS.map(([name, req, meaning, example]) => h("tr", {},
          h("th", { scope: "row" }, h("code", {}, name)),
          h("td", {}, req ? "Yes" : "No"),
          h("td", {}, meaning),
          h("td", {}, h("code", {}, example))))))));

  main.append(
    h("section", { class: "card", "aria-label": "The file" },
      h("p", {}, "Schedule many posts at once: choose a file, read the dry run (every row is checked as a new post would be), then save."),
      h("div", { class: "actions" }, sample,
        h("span", { class: "hint" }, account ? `For @${account.username}, with your newest media item.` : "")),
      h("label", { for: input.id, class: "visually-hidden" }, "CSV file"), input, drop, chosen),
    columns,
    status,
    result,
    options,
  );
  return () => {
    if (sample.dataset.url) URL.revokeObjectURL(sample.dataset.url);
  };
}
