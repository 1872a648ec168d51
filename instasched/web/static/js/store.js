// Shared state of the running app (in memory only; the chosen workspace's id is remembered in
// localStorage: not a secret, and the next login opens the same workspace).
import { get, setWorkspace } from "./api.js";

const WORKSPACE_KEY = "instasched.workspace";

export const store = {
  user: null,
  accounts: [],
  accountId: null,
  facebookPick: null, // a pending Facebook Login choice of Pages (/?pick=<id>)
  invitationToken: null, // an invitation link's token (/#invitation=<token>)
  workspaces: [], // GET /api/workspaces: {id, name, personal, requireApproval, role}
  workspaceId: null,
  sandbox: document.querySelector('meta[name="instasched-sandbox"]')?.content === "true",
  listeners: new Set(),
};

export function currentAccount() {
  return store.accounts.find((a) => a.id === store.accountId) || null;
}

export function currentWorkspace() {
  return store.workspaces.find((w) => w.id === store.workspaceId) || null;
}

/** The user's role in the current workspace: owner, editor, approver or viewer. */
export function role() {
  return currentWorkspace()?.role || "owner";
}

/** Creating and editing posts, media, templates, schedules (the API enforces it anyway). */
export function canWrite() {
  return ["owner", "editor"].includes(role());
}

/** Whether a post written here waits for an approver: the workspace requires approval and the
 *  user's role there may not approve. */
export function approvalNeeded() {
  return Boolean(currentWorkspace()?.requireApproval) && !["owner", "approver"].includes(role());
}

/** Accounts, webhooks, members, invitations and the workspace's settings. */
export function isOwner() {
  return role() === "owner";
}

function storedWorkspace() {
  try {
    return window.localStorage.getItem(WORKSPACE_KEY);
  } catch {
    return null;
  }
}

export async function loadWorkspaces() {
  store.workspaces = (await get("/api/workspaces")) || [];
  const wanted = store.workspaceId || storedWorkspace();
  const found = store.workspaces.find((w) => w.id === wanted) || store.workspaces.find((w) => w.personal);
  useWorkspace(found ? found.id : null);
  return store.workspaces;
}

function useWorkspace(id) {
  store.workspaceId = id;
  const workspace = currentWorkspace();
  // The personal workspace needs no header (it is the default); another one is named.
  setWorkspace(workspace && !workspace.personal ? workspace.id : null);
  try {
    if (id) window.localStorage.setItem(WORKSPACE_KEY, id);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

/** Act in another workspace: its accounts are loaded and every view redraws. */
export async function switchWorkspace(id) {
  useWorkspace(id);
  store.accounts = [];
  store.accountId = null;
  await loadAccounts();
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
  store.workspaces = [];
  store.workspaceId = null;
  setWorkspace(null);
  notify();
}

export function changed() {
  notify();
}
