// Connected Instagram accounts: connect (OAuth or a sandbox account), timezone, token state.
import { del, get, patch, post } from "../api.js";
import { busy, button, counted, field, h, notice, replace, select, toast } from "../dom.js";
import { loadAccounts, onChange, store } from "../store.js";
import { formatInZone, viewerZone, zones } from "../time.js";

function tokenState(account) {
  if (account.needsReauth) {
    return notice("error", "Instagram no longer accepts this account's token: reconnect it. ",
      "Its scheduled posts will not publish until then.");
  }
  if (!account.tokenExpiresAt) return h("span", { class: "badge badge-ok" }, "Token valid");
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

async function createSandboxAccount(btn, usernameInput, tzSelect) {
  await busy(btn, async () => {
    const username = usernameInput.value.trim() || `demo_${Math.random().toString(36).slice(2, 8)}`;
    const response = await fetch("/sandbox/_control/users", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username, timezone: tzSelect.value, followers: 1200 }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `The sandbox refused (${response.status})`);
    const account = await post("/api/instagram/accounts", {
      accessToken: body.accessToken,
      timezone: tzSelect.value,
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
  const reconnect = button("Reconnect with Instagram", () => connectWithInstagram(reconnect), {
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
    h("p", { class: "muted" },
      `${account.loginKind === "facebook" ? "Facebook Login" : "Instagram Login"} · `,
      account.followersCount != null ? counted(account.followersCount, "follower") : "followers unknown"),
    tokenState(account),
    h("div", { class: "row" }, field("Timezone", tz, "Posts without an explicit offset use this zone."), save),
    h("div", { class: "actions" }, reconnect, remove),
  );
}

export async function render(main) {
  const list = h("ul", { class: "cards", "aria-label": "Connected accounts" });
  const refresh = () => {
    replace(list, ...store.accounts.map((a) => accountCard(a, refresh)));
    if (!store.accounts.length) list.append(h("li", { class: "empty" }, "No account connected yet."));
  };
  const oauthBtn = button("Connect with Instagram", () => connectWithInstagram(oauthBtn), { class: "primary" });
  const connect = h("section", { class: "card", "aria-labelledby": "connect-title" },
    h("h2", { id: "connect-title" }, "Connect an account"),
    h("p", {}, "You will be sent to Instagram to approve access, then brought back here."),
    oauthBtn);
  let sandbox = null;
  if (store.sandbox) {
    const username = h("input", { type: "text", id: "sandbox-username", placeholder: "demo_shop", maxlength: 30 });
    const tz = zoneSelect(viewerZone(), { id: "sandbox-timezone" });
    const create = button("Create a sandbox account", () => createSandboxAccount(create, username, tz), {
      id: "create-sandbox-account",
    });
    sandbox = h("section", { class: "card", "aria-labelledby": "sandbox-title" },
      h("h2", { id: "sandbox-title" }, "Sandbox"),
      h("p", {}, "This server runs the built-in Instagram sandbox: create a test account that publishes nowhere real."),
      h("div", { class: "row" }, field("Username (optional)", username), field("Timezone", tz)),
      create);
  }
  await loadAccounts().catch((err) => toast(err.message, "error"));
  refresh();
  replace(main, h("h1", {}, "Instagram accounts"), list, h("div", { class: "grid-2" }, connect, sandbox));
  // Newer account data (the live poll reads it after a failure, e.g. "needs reconnect").
  return onChange(refresh);
}
