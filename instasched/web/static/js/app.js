// Entry point: the shell (header, navigation, account picker), hash routing and the login gate.
import { hasToken, setToken, setUnauthorizedHandler } from "./api.js";
import { clear, h, replace, select, toast } from "./dom.js";
import { applyCount, startLive, stopLive } from "./live.js";
import {
  canWrite,
  currentAccount,
  loadAccounts,
  loadWorkspaces,
  onChange,
  reset,
  setAccount,
  store,
  switchWorkspace,
} from "./store.js";
import * as accept from "./views/accept.js";
import * as accounts from "./views/accounts.js";
import * as approvals from "./views/approvals.js";
import * as auth from "./views/auth.js";
import * as besttimes from "./views/besttimes.js";
import * as calendar from "./views/calendar.js";
import * as composer from "./views/composer.js";
import * as grid from "./views/grid.js";
import * as importView from "./views/import.js";
import * as media from "./views/media.js";
import * as templates from "./views/templates.js";
import * as workspace from "./views/workspace.js";

const ROUTES = {
  calendar: { title: "Calendar", view: calendar },
  compose: { title: "Compose", view: composer },
  approvals: { title: "Approvals", view: approvals },
  grid: { title: "Grid", view: grid },
  media: { title: "Media library", view: media },
  "best-times": { title: "Best times", view: besttimes },
  templates: { title: "Templates", view: templates },
  accounts: { title: "Accounts", view: accounts },
  // Reached from the calendar's toolbar ("Import CSV"), not from the navigation.
  import: { title: "Import CSV", view: importView, nav: "calendar" },
  workspace: { title: "Workspace", view: workspace },
  // An invitation link (/#invitation=<token>) lands here; not in the navigation.
  accept: { title: "Join a workspace", view: accept, hidden: true },
};

const root = document.getElementById("app");
let cleanup = null;
let pendingNotice = null;
let pendingKind = "success";
let header = null;
let activeKey = null;

// A connected account comes back from Instagram's consent screen as /?connected=<id>; after
// Facebook Login with several Pages, as /?pick=<pending id> (the Accounts view offers them).
const params = new URLSearchParams(window.location.search);
if (params.has("connected")) {
  pendingNotice = "Instagram account connected. Log in to continue.";
  history.replaceState(null, "", "/#/accounts");
} else if (params.has("pick")) {
  store.facebookPick = params.get("pick");
  pendingNotice = "Choose which Instagram account to connect. Log in to continue.";
  history.replaceState(null, "", "/#/accounts");
}
// An invitation link: the token is in the fragment (never sent to the server in a URL).
if (window.location.hash.startsWith("#invitation=")) {
  store.invitationToken = decodeURIComponent(window.location.hash.slice("#invitation=".length));
  pendingNotice = "You are invited to a workspace: log in (or register) with the invited email to join it.";
  pendingKind = "info";
  history.replaceState(null, "", "/#/accept");
}

setUnauthorizedHandler((message) => {
  stopLive();
  reset();
  pendingNotice = message;
  route();
});

/** Go to `#/path`; `message` is shown as a toast once the view is drawn (a toast shown before
 *  would go with the page it was on). */
export function navigate(path, message = null, kind = "success") {
  if (message) {
    pendingNotice = message;
    pendingKind = kind;
  }
  if (window.location.hash === `#/${path}`) route();
  else window.location.hash = `#/${path}`;
}

function parseHash() {
  const [raw, search = ""] = window.location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = raw.split("/");
  // `#/compose?at=2026-12-10T09:00&media=id1,id2`: options for the view.
  const query = Object.fromEntries(new URLSearchParams(search));
  return { name: name || "calendar", args: rest.map(decodeURIComponent), query };
}

function shell(active) {
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    h(
      "ul",
      {},
      Object.entries(ROUTES)
        .filter(([key, r]) => !r.nav && !r.hidden && (key !== "compose" || canWrite()))
        .map(([key, r]) =>
          h(
            "li",
            {},
            h("a", { href: `#/${key}`, "aria-current": key === active ? "page" : null }, r.title),
          ),
        ),
    ),
  );
  const picker = select(
    store.accounts.length
      ? store.accounts.map((a) => [a.id, `@${a.username}${a.needsReauth ? " (reconnect)" : ""}`])
      : [["", "No account connected"]],
    store.accountId,
    { id: "account-picker", disabled: !store.accounts.length },
  );
  picker.addEventListener("change", () => setAccount(picker.value || null));
  const spaces = select(
    store.workspaces.map((w) => [w.id, `${w.personal ? "Personal" : w.name} (${w.role})`]),
    store.workspaceId,
    { id: "workspace-picker", disabled: store.workspaces.length < 2 },
  );
  spaces.addEventListener("change", async () => {
    try {
      stopLive(); // the failures watched were the other workspace's
      await switchWorkspace(spaces.value);
    } catch (err) {
      toast(err.message, "error");
    }
  });
  const account = currentAccount();
  return h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: "#/calendar" }, "instasched"),
    nav,
    h(
      "div",
      { class: "topbar-right" },
      h("label", { for: "workspace-picker", class: "visually-hidden" }, "Workspace"),
      spaces,
      h("label", { for: "account-picker", class: "visually-hidden" }, "Instagram account"),
      picker,
      account && account.needsReauth
        ? h("a", { class: "badge badge-warn", href: "#/accounts" }, "Needs reconnect")
        : null,
      h("span", { class: "user-email" }, store.user ? store.user.email : ""),
      h("button", { type: "button", id: "logout", onclick: logout }, "Log out"),
    ),
  );
}

function logout() {
  stopLive();
  setToken(null);
  reset();
  pendingNotice = "You are logged out.";
  route();
}

async function route() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a view's cleanup must not block navigation */
    }
    cleanup = null;
  }
  const { name, args, query } = parseHash();
  if (!hasToken()) {
    header = null;
    document.title = "Log in · instasched";
    clear(root);
    const notice = pendingNotice;
    pendingNotice = null;
    cleanup = auth.render(root, { notice, onLoggedIn: afterLogin });
    return;
  }
  const entry = ROUTES[name] || ROUTES.calendar;
  const key = ROUTES[name] ? name : "calendar";
  // `?account=<id>` (a link to another account's post, e.g. from the import report) chooses
  // that account before the view is drawn, once: it leaves the URL, so the account picker
  // keeps working on this page.
  if (query.account) {
    if (query.account !== store.accountId && store.accounts.some((a) => a.id === query.account)) {
      store.accountId = query.account;
      lastAccount = query.account;
    }
    const rest = new URLSearchParams(window.location.hash.split("?")[1] || "");
    rest.delete("account");
    const path = window.location.hash.split("?")[0];
    history.replaceState(null, "", rest.toString() ? `${path}?${rest}` : path);
  }
  document.title = `${entry.title} · instasched`;
  applyCount();
  startLive();
  const main = h("main", { id: "main", tabindex: "-1" });
  header = shell(entry.nav || key);
  activeKey = entry.nav || key;
  replace(root, h("a", { class: "skip", href: "#main", onclick: skipToMain }, "Skip to content"),
    header, main, h("div", { id: "toast", role: "status", "aria-live": "polite" }));
  if (pendingNotice) {
    toast(pendingNotice, pendingKind);
    pendingNotice = null;
    pendingKind = "success";
  }
  try {
    cleanup = (await entry.view.render(main, { args, query, navigate })) || null;
  } catch (err) {
    main.append(h("div", { class: "notice notice-error", role: "alert" }, err.message || String(err)));
  }
}

function skipToMain(event) {
  event.preventDefault();
  document.getElementById("main")?.focus();
}

async function afterLogin(user) {
  store.user = user;
  loggingIn = true;
  try {
    await loadWorkspaces();
    await loadAccounts();
  } catch (err) {
    toast(err.message, "error");
  }
  loggingIn = false;
  lastAccount = store.accountId;
  lastWorkspace = store.workspaceId;
  const { name } = parseHash();
  if (!ROUTES[name]) window.location.hash = store.accounts.length ? "#/calendar" : "#/accounts";
  route();
}

let lastAccount = store.accountId;
let lastWorkspace = store.workspaceId;
let loggingIn = false;
onChange(() => {
  if (!hasToken() || loggingIn) return;
  if (store.accountId !== lastAccount || store.workspaceId !== lastWorkspace) {
    lastAccount = store.accountId;
    lastWorkspace = store.workspaceId;
    route();
  } else if (header && header.isConnected) {
    // Same account, fresher data (e.g. "needs reconnect"): redraw the header only.
    const next = shell(activeKey);
    header.replaceWith(next);
    header = next;
  }
});

window.addEventListener("hashchange", route);
route();
