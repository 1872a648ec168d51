// Connected Instagram accounts: connect (Instagram Login, Facebook Login with its Page picker, or
// a sandbox account), timezone, token state.
import { del, get, patch, post } from "../api.js";
import { busy, button, counted, field, h, notice, replace, select, toast } from "../dom.js";
import { canWrite, isOwner, loadAccounts, onChange, role, store } from "../store.js";
import { formatInZone, viewerZone, zones } from "../time.js";

function tokenState(account) {
  if (account.needsReauth) {
    return notice("error", "Instagram no longer accepts this account's token: reconnect it. ",
      "Its scheduled posts will not publish until then.");
  }
  if (!account.tokenExpiresAt) {
    return h("span", { class: "badge badge-ok" },
      account.loginKind === "facebook" ? "Page token valid (does not expire)" : "Token valid");
  }
  const expires = new Date(account.tokenExpiresAt);
  const days = Math.floor((expires - Date.now()) / 86400000);
  if (days < 0) return notice("error", "The token has expired: reconnect this account.");
  const text = `Token valid until ${formatInZone(expires, viewerZone(), { timeStyle: "short" })}`;
  if (days < 7) {
    return h("span", { class: "badge badge-warn" }, `${text} (refreshes automatically; reconnect if it fails)`);
  }
  return h("span", { class: "badge badge-ok" }, text);
}

async function connectWithInstagram(btn) {
  await busy(btn, async () => {
    const { url } = await get("/api/instagram/oauth/authorize-url", { timezone: viewerZone() });
    window.location.assign(url);
  });
}

async function connectWithFacebook(btn) {
  await busy(btn, async () => {
    const { url } = await get("/api/instagram/oauth/facebook/authorize-url", { timezone: viewerZone() });
    window.location.assign(url);
  });
}

async function sandboxControl(path, payload) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `The sandbox refused (${response.status})`);
  return body;
}

async function createSandboxAccount(btn, usernameInput, tzSelect, loginSelect) {
  await busy(btn, async () => {
    const username = usernameInput.value.trim() || `demo_${Math.random().toString(36).slice(2, 8)}`;
    let accessToken;
    const loginKind = loginSelect.value;
    if (loginKind === "facebook") {
      // A sandbox Facebook user whose Page is linked to the new Instagram account.
      const body = await sandboxControl("/sandbox/_control/facebook/users", {
        name: `fb_${username}`.slice(0, 60),
        pages: [{ name: `${username} Page`, igUsername: username, timezone: tzSelect.value, followers: 1200 }],
      });
      accessToken = body.pages[0].accessToken;
    } else {
      const body = await sandboxControl("/sandbox/_control/users", {
        username, timezone: tzSelect.value, followers: 1200,
      });
      accessToken = body.accessToken;
    }
    const account = await post("/api/instagram/accounts", {
      accessToken,
      timezone: tzSelect.value,
      loginKind,
    });
    store.accountId = account.id;
    usernameInput.value = "";
    toast(`Sandbox account @${account.username} connected`, "success");
    await loadAccounts();
  });
}

function zoneSelect(value, attrs = {}) {
  const list = zones();
  const all = list.includes(value) ? list : [value, ...list];
  if (!all.includes("UTC")) all.unshift("UTC");
  return select(all, value, attrs);
}

function accountCard(account, refresh) {
  const tz = zoneSelect(account.timezone);
  const save = button("Save timezone", () =>
    busy(save, async () => {
      await patch(`/api/instagram/accounts/${account.id}`, { timezone: tz.value });
      toast(`@${account.username} now schedules in ${tz.value}`, "success");
      await loadAccounts();
    }),
  );
  const viaFacebook = account.loginKind === "facebook";
  const reconnect = button(viaFacebook ? "Reconnect with Facebook" : "Reconnect with Instagram",
    () => (viaFacebook ? connectWithFacebook(reconnect) : connectWithInstagram(reconnect)), {
      class: account.needsReauth ? "primary" : "",
    });
  const remove = button("Disconnect", () => {
    if (!window.confirm(`Disconnect @${account.username}? Its scheduled posts are removed too.`)) return;
    busy(remove, async () => {
      await del(`/api/instagram/accounts/${account.id}`);
      toast(`@${account.username} disconnected`, "success");
      await loadAccounts();
      refresh();
    });
  }, { class: "danger" });
  return h(
    "li",
    { class: `card account-card${account.needsReauth ? " needs-reauth" : ""}`, dataset: { accountId: account.id } },
    h("h3", {}, `@${account.username}`),
    h("p", { class: "muted login-kind" },
      viaFacebook
        ? `Facebook Login${account.facebookPageName ? ` (Page ${account.facebookPageName})` : ""} · `
        : "Instagram Login · ",
      account.followersCount != null ? counted(account.followersCount, "follower") : "followers unknown"),
    viaFacebook
      ? null
      : h("p", { class: "hint" }, "Collaborators and product tags need Facebook Login: reconnect with Facebook to use them."),
    tokenState(account),
    canWrite()
      ? h("div", { class: "row" }, field("Timezone", tz, "Posts without an explicit offset use this zone."), save)
      : h("p", { class: "muted" }, `Timezone: ${account.timezone}`),
    // Connecting, reconnecting and disconnecting accounts: the workspace's owners only.
    isOwner() ? h("div", { class: "actions" }, reconnect, remove) : null,
  );
}

// After Facebook Login with several Pages: pick the one whose Instagram account to connect.
async function facebookPicker() {
  const id = store.facebookPick;
  if (!id) return null;
  const section = h("section", { class: "card", id: "facebook-picker", "aria-labelledby": "pick-title" },
    h("h2", { id: "pick-title" }, "Choose the Instagram account to connect"));
  let pending;
  try {
    pending = await get(`/api/instagram/oauth/facebook/pending/${encodeURIComponent(id)}`);
  } catch (err) {
    store.facebookPick = null;
    section.append(notice("error", err.message));
    return section;
  }
  section.append(h("p", {}, "Facebook gave access to several Pages with an Instagram account. Pick one (you can connect another later by signing in with Facebook again)."));
  const choices = h("ul", { class: "cards", "aria-label": "Pages with an Instagram account" });
  for (const page of pending.pages) {
    const connect = button(`Connect @${page.igUsername || page.igUserId}`, () =>
      busy(connect, async () => {
        const account = await post(`/api/instagram/oauth/facebook/pending/${encodeURIComponent(id)}/connect`, {
          pageId: page.pageId,
        });
        store.facebookPick = null;
        store.accountId = account.id;
        section.remove();
        toast(`@${account.username} connected with Facebook Login`, "success");
        await loadAccounts();
      }), { class: "primary" });
    choices.append(h("li", { class: "card", dataset: { pageId: page.pageId } },
      h("h3", {}, `@${page.igUsername || page.igUserId}`),
      h("p", { class: "muted" }, `Facebook Page: ${page.name}`),
      connect));
  }
  section.append(choices);
  return section;
}

export async function render(main) {
  const list = h("ul", { class: "cards", "aria-label": "Connected accounts" });
  const refresh = () => {
    replace(list, ...store.accounts.map((a) => accountCard(a, refresh)));
    if (!store.accounts.length) list.append(h("li", { class: "empty" }, "No account connected yet."));
  };
  const oauthBtn = button("Connect with Instagram", () => connectWithInstagram(oauthBtn), { class: "primary" });
  const facebookBtn = button("Connect with Facebook", () => connectWithFacebook(facebookBtn));
  const connect = h("section", { class: "card", "aria-labelledby": "connect-title" },
    h("h2", { id: "connect-title" }, "Connect an account"),
    h("p", {}, "You will be sent to Instagram (or Facebook) to approve access, then brought back here."),
    h("p", { class: "hint" }, "Facebook Login is for Instagram accounts linked to a Facebook Page; "
      + "collaborators and product tags need it."),
    h("div", { class: "actions" }, oauthBtn, facebookBtn));
  let sandbox = null;
  if (store.sandbox) {
    const username = h("input", { type: "text", id: "sandbox-username", placeholder: "demo_shop", maxlength: 30 });
    const tz = zoneSelect(viewerZone(), { id: "sandbox-timezone" });
    const login = select([["instagram", "Instagram Login"], ["facebook", "Facebook Login (a Page)"]], "instagram",
      { id: "sandbox-login" });
    const create = button("Create a sandbox account", () => createSandboxAccount(create, username, tz, login), {
      id: "create-sandbox-account",
    });
    sandbox = h("section", { class: "card", "aria-labelledby": "sandbox-title" },
      h("h2", { id: "sandbox-title" }, "Sandbox"),
      h("p", {}, "This server runs the built-in Instagram sandbox: create a test account that publishes nowhere real."),
      h("div", { class: "row" }, field("Username (optional)", username), field("Timezone", tz),
        field("Login", login)),
      create);
  }
  await loadAccounts().catch((err) => toast(err.message, "error"));
  refresh();
  const picker = await facebookPicker();
  const owner = isOwner();
  replace(main, h("h1", {}, "Instagram accounts"), owner ? picker : null, list,
    owner
      ? h("div", { class: "grid-2" }, connect, sandbox)
      : notice("info", `Only the workspace's owners connect or disconnect accounts (your role: ${role()}).`));
  // Newer account data (the live poll reads it after a failure, e.g. "needs reconnect").
  return onChange(refresh);
}
