/*! supportbot console: the one JSON API helper every console page uses (console.js, canned.js,
 * attachments.js, presence.js, customers.js, insight.js). Loaded first, like markdown.js.
 * `supportbotApi.call(method, path, body)`: same-origin, the page's CSRF token on writes, JSON in
 * (or a FormData upload as it is) and JSON out; a 401 goes to the sign-in page; any other failure
 * throws `supportbotApi.ApiError` with the server's `detail`.
 */
"use strict";

window.supportbotApi = (() => {
  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  async function call(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
    if (body instanceof FormData) init.body = body; // the browser sets the multipart boundary
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      location.assign(`/console/login?next=${encodeURIComponent(location.pathname)}`);
      throw new ApiError("signed out", 401);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiError(data.detail || `${response.status} ${response.statusText}`, response.status);
    }
    return data;
  }

  return Object.freeze({ call, ApiError });
})();
