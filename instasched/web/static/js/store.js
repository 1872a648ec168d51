// Shared state of the running app (in memory only).
import { get } from "./api.js";

export const store = {
  user: null,
  accounts: [],
  accountId: null,
  facebookPick: null, // a pending Facebook Login choice of Pages (/?pick=<id>)
  sandbox: document.querySelector('meta[name="instasched-sandbox"]')?.content === "true",
  listeners: new Set(),
};

export function currentAccount() {
  return store.accounts.find((a) => a.id === store.accountId) || null;
}

export async function loadAccounts() {
  store.accounts = (await get("/api/instagram/accounts")) || [];
  if (!store.accounts.some((a) => a.id === store.accountId)) {
    store.accountId = store.accounts.length ? store.accounts[0].id : null;
  }
  notify();
  return store.accounts;
}

export function setAccount(id) {
  store.accountId = id;
  notify();
}

export function onChange(fn) {
  store.listeners.add(fn);
  return () => store.listeners.delete(fn);
}

function notify() {
  for (const fn of store.listeners) fn();
}

export function reset() {
  store.user = null;
  store.accounts = [];
  store.accountId = null;
  notify();
}
