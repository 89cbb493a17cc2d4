// Insight in the console: the open-alerts banner on every console page, and the insight page
// (alerts with acknowledge / resolve, topics with trend and outcomes). Polls the CME API.
(() => {
  "use strict";
  const POLL_MS = 3000;
  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (selector) => document.querySelector(selector);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  async function api(method, path) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || `${response.status}`);
    return data;
  }

  function toast(message) {
    const node = $("#toast");
    if (!node) return;
    node.textContent = message;
    node.hidden = false;
    setTimeout(() => (node.hidden = true), 6000);
  }

  async function change(alert, action) {
    try {
      await api("POST", `/api/cme/alerts/${alert.id}/${action}`);
    } catch (error) {
      toast(`Could not ${action} the alert: ${error.message}`);
    }
    refresh();
  }

  const percent = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`);

  function banner(data) {
    let node = $("#alert-banner");
    const open = data.alerts.filter((a) => a.status === "open");
    if (!open.length) {
      if (node) node.remove();
      return;
    }
    if (!node) {
      node = el("div", { id: "alert-banner", class: "alert-banner", role: "alert" });
      document.body.prepend(node);
    }
    const newest = open[0];
    node.replaceChildren(
      el("strong", {}, `${open.length} open alert${open.length > 1 ? "s" : ""}: `),
      el("span", { class: "alert-title" }, newest.title),
      " ",
      el("button", { type: "button", class: "acknowledge", onclick: () => change(newest, "acknowledge") }, "Acknowledge"),
      " ",
      el("a", { href: "/console/insight" }, "All alerts"),
    );
  }

  function alertItem(alert) {
    const why = Object.entries(alert.why || {})
      .filter(([key]) => key !== "topic_id")
      .map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(" → ") : value}`)
      .join(", ");
    const actions = [];
    if (alert.status === "open") {
      actions.push(el("button", { type: "button", class: "acknowledge", onclick: () => change(alert, "acknowledge") }, "Acknowledge"));
    }
    if (alert.status !== "resolved") {
      actions.push(el("button", { type: "button", class: "resolve", onclick: () => change(alert, "resolve") }, "Resolve"));
    }
    return el(
      "li",
      { class: `alert ${alert.status}`, "data-alert-id": String(alert.id) },
      el("div", { class: "alert-head" }, el("span", { class: "alert-status" }, alert.status), " ", el("strong", {}, alert.title)),
      el("div", { class: "alert-why" }, why),
      el("ul", { class: "alert-examples" }, ...alert.examples.map((e) => el("li", {}, e.text))),
      el(
        "div",
        { class: "alert-customers" },
        ...alert.customers.map((c) =>
          el("a", { href: `/console/conversations/${encodeURIComponent(c.conversation_id)}` }, `${c.name || c.customer_id || c.conversation_id}${c.vip ? " (VIP)" : ""} `),
        ),
      ),
      el("div", { class: "alert-actions" }, ...actions),
    );
  }

  function renderAlerts(data) {
    const list = $("#alerts");
    if (!list) return;
    list.replaceChildren(...data.alerts.map(alertItem));
    $("#alerts-empty").hidden = data.alerts.length > 0;
  }

  function renderTopics(data) {
    const body = $("#topics tbody");
    if (!body) return;
    body.replaceChildren(
      ...data.topics.map((t) =>
        el(
          "tr",
          { "data-topic-id": String(t.id), title: t.examples.map((e) => e.text).join("\n") },
          el("td", {}, t.label),
          el("td", {}, t.article_id || "–"),
          el("td", {}, String(t.volume)),
          el("td", {}, String(t.previous_volume)),
          el("td", {}, percent(t.answered_share)),
          el("td", {}, percent(t.escalation_rate)),
          el("td", {}, t.mean_frustration === null ? "–" : t.mean_frustration.toFixed(2)),
        ),
      ),
    );
  }

  async function refresh() {
    try {
      const alerts = await api("GET", "/api/cme/alerts?limit=50");
      banner(alerts);
      renderAlerts(alerts);
      if ($("#topics")) renderTopics(await api("GET", "/api/cme/topics"));
    } catch (error) {
      // Signed out or the server restarting: the next poll tries again.
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
