// The HTTP JSON API. The session cookie travels by itself (HttpOnly: scripts never
// see it); nothing is kept in local storage. A refusal's message is this app's words for
// its code (strings.js), or the server's.
import { refusal, strings } from "./strings.js";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    const code = error.code || "error";
    const detail = error.detail || {};
    super(refusal(code, detail, error.message || strings.network.failed(status), strings.apiRefusals));
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError(0, { error: { code: "offline", message: strings.network.offline } });
  }
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);
