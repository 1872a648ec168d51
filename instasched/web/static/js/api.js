// The only module that talks to the server. The JWT lives in this module variable, in memory:
// not in localStorage/sessionStorage (an injected script could read it from there) and not in
// a cookie (nothing a cross-site request could ride on). A reload asks to log in again.

let token = null;
let onUnauthorized = () => {};
// The workspace every call acts in (docs/workspaces.md): sent as X-Workspace-Id; null: the
// user's personal workspace (no header).
let workspaceId = null;
export const WORKSPACE_HEADER = "X-Workspace-Id";

export function setWorkspace(id) {
  workspaceId = id || null;
}

export const SCHED = "/api/instagram/scheduling";

export class ApiError extends Error {
  constructor(status, body) {
    const message =
      (body && (body.message || (typeof body.detail === "string" && body.detail))) ||
      `Request failed (${status})`;
    super(message);
    this.status = status;
    this.error = body && body.error;
    this.detail = body && body.detail;
    this.body = body;
  }

  /** Field-level problems from a 422: [{field, message}]. */
  get fields() {
    if (Array.isArray(this.detail)) return this.detail.filter((d) => d && d.field);
    if (this.detail && this.detail.field) return [this.detail];
    if (this.body && this.body.field) return [{ field: this.body.field, message: this.message }];
    return [];
  }
}

export function setToken(value) {
  token = value;
}

export function hasToken() {
  return token !== null;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function buildUrl(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  return url.pathname + url.search;
}

export async function request(method, path, { json, query, headers, auth = true } = {}) {
  const init = { method, headers: { Accept: "application/json", ...(headers || {}) } };
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  if (auth && workspaceId) init.headers[WORKSPACE_HEADER] = workspaceId;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(buildUrl(path, query), init);
  } catch {
    throw new ApiError(0, { message: "The server cannot be reached; check your connection" });
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && auth && token) {
      token = null;
      onUnauthorized("Your session has ended; please log in again");
    }
    throw new ApiError(response.status, body);
  }
  return body;
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, json, opts = {}) => request("POST", path, { json, ...opts });
export const put = (path, json) => request("PUT", path, { json });
export const patch = (path, json) => request("PATCH", path, { json });
export const del = (path) => request("DELETE", path);

/** Multipart upload with progress (fetch has no upload progress; XMLHttpRequest does). */
export function upload(path, file, { query, onProgress, fieldName = "file" } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", buildUrl(path, query));
    xhr.setRequestHeader("Accept", "application/json");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    if (workspaceId) xhr.setRequestHeader(WORKSPACE_HEADER, workspaceId);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = { message: xhr.responseText.slice(0, 300) };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        if (xhr.status === 401) {
          token = null;
          onUnauthorized("Your session has ended; please log in again");
        }
        reject(new ApiError(xhr.status, body));
      }
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, { message: "The upload was interrupted; check your connection" })),
    );
    const form = new FormData();
    form.append(fieldName, file, file.name);
    xhr.send(form);
  });
}
