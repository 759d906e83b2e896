// A small client for the annotation API: JSON in and out, session auth with the CSRF header.

// A refusal's message: DRF's `detail`, else the first field's messages (a 400 names the field,
// e.g. {"points": "Two instances of one frame have the same track."}).
function messageOf(data) {
  if (!data || typeof data !== "object") return "";
  if (data.detail) return String(data.detail);
  for (const value of Object.values(data)) {
    if (typeof value === "string") return value;
    if (Array.isArray(value) && value.length && value.every((v) => typeof v === "string")) return value.join(" ");
  }
  return "";
}

export class ApiError extends Error {
  constructor(status, data) {
    super(messageOf(data) || `Request failed (${status})`);
    this.status = status;
    this.data = data;
  }
}

function cookie(name) {
  const match = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : "";
}

export class Api {
  constructor(base, csrfFallback = "") {
    this.base = base.endsWith("/") ? base : `${base}/`;
    this.csrfFallback = csrfFallback;
  }

  url(path) {
    return this.base + path;
  }

  // Resolves to {status, data}; throws ApiError for 4xx/5xx (except `expect`ed statuses) and
  // TypeError when the network fails, so callers can tell "retry later" from "rejected".
  async request(method, path, body = undefined, { expect = [], keepalive = false } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = cookie("csrftoken") || this.csrfFallback;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.url(path), {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive,
    });
    let data = null;
    if (response.status !== 204) {
      const text = await response.text();
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        data = { detail: text.slice(0, 200) };
      }
    }
    if (!response.ok && !expect.includes(response.status)) throw new ApiError(response.status, data);
    return { status: response.status, data };
  }

  get(path, options) {
    return this.request("GET", path, undefined, options);
  }

  post(path, body = {}, options) {
    return this.request("POST", path, body, options);
  }

  put(path, body, options) {
    return this.request("PUT", path, body, options);
  }
}

// Errors worth retrying with the same request: the network, timeouts, the server's 5xx, 429.
export function isTransient(error) {
  if (error instanceof ApiError) return error.status >= 500 || error.status === 429 || error.status === 408;
  return error instanceof TypeError;
}
