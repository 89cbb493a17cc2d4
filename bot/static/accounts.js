// The console's B2B accounts (customers rolled up by their verified company): the account list
// with members at risk, and one account's page (health, why this score, trend, members). Plain
// DOM; everything from the server is inserted with textContent, never parsed as HTML. The
// styles are the customer pages' (customers.css).
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const TIERS = { healthy: "healthy", watch: "watch", at_risk: "at risk" };
  const COMPONENTS = {
    good_outcomes: "Good outcomes",
    last_good_outcome: "Time since a good outcome",
    contact_frequency: "Contact frequency",
    frustration: "Frustration",
    escalations: "Escalations",
    unresolved: "Unresolved conversations",
    reopened: "Reopened conversations",
    bot_failures: "Bot failures hit",
    csat: "CSAT answers",
    nps: "NPS answers",
  };
  const $ = (selector, root = document) => root.querySelector(selector);

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = String(value);
      else if (key === "href") el.href = new URL(String(value), location.origin).href;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const badge = (text, kind) => h("span", { class: `badge ${kind || ""}`, text });
  const tierBadge = (tier) => (tier ? badge(TIERS[tier] || tier, `tier tier-${tier}`) : null);
  const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "—");
  const signed = (value) => (value > 0 ? `+${value.toFixed(1)}` : value.toFixed(1));
  const score = (value) => (value === null ? "—" : value.toFixed(0));
  const accountHref = (company) => `/console/accounts?company=${encodeURIComponent(company)}`;

  const api = (path) => window.supportbotApi.call("GET", path); // console-api.js, loaded first

  function customerName(customer) {
    return customer.name || customer.email || customer.external_id || `Customer #${customer.id}`;
  }

  // ------------------------------------------------------------------- list

  async function renderList(atRisk) {
    const data = await api(`/api/cme/accounts?limit=500${atRisk ? "&at_risk=true" : ""}`);
    const tabs = h(
      "nav",
      { class: "tabs", "aria-label": "Account lists" },
      h("a", { href: "/console/accounts?at_risk=true", "aria-current": atRisk ? "page" : null, text: "With customers at risk" }),
      h("a", { href: "/console/accounts", "aria-current": atRisk ? null : "page", text: "All accounts" }),
    );
    const rows = data.accounts.map((account) =>
      h(
        "tr",
        { class: "account-row", "data-customer-company": account.company },
        h("td", {}, h("a", { href: accountHref(account.company), text: account.company })),
        h("td", {}, tierBadge(account.tier)),
        h("td", { class: "num health", text: score(account.score) }),
        h("td", { class: "num members", text: account.members }),
        h("td", { class: "num at-risk-count", text: account.at_risk }),
        h("td", { class: "num", text: account.watch }),
        h("td", { class: "num", text: account.vip }),
        h("td", { text: when(account.last_seen_at) }),
      ),
    );
    const table = h(
      "table",
      { class: "customer-table account-table" },
      h("thead", {}, h("tr", {}, ["Account", "Tier", "Health", "Members", "At risk", "Watch", "VIP", "Last seen"].map(
        (label) => h("th", { scope: "col", text: label }),
      ))),
      h("tbody", {}, rows),
    );
    const empty = atRisk
      ? "No account has a customer at risk."
      : "No accounts yet: customers join one when their signed identity names a company (data-customer-company).";
    $("#accounts").replaceChildren(
      h("h1", { text: atRisk ? "Accounts with customers at risk" : "Accounts" }),
      h("p", { class: "hint", text: "Customers roll up by their verified company. Most customers at risk first, then the lowest health." }),
      tabs,
      rows.length ? table : h("p", { class: "empty", text: empty }),
    );
  }

  // ----------------------------------------------------------------- detail

  function whyTable(health) {
    if (!health.why.length) return h("p", { class: "empty", text: "Not computed yet, or no conversations to judge by." });
    return h(
      "table",
      { class: "why", "aria-label": "Why this score" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", text: "Component" }),
        h("th", { scope: "col", text: "Members with it" }),
        h("th", { scope: "col", class: "num", text: "Weight" }),
        h("th", { scope: "col", class: "num", text: "Points" }))),
      h("tbody", {},
        h("tr", { class: "baseline" },
          h("td", { text: "Starting point" }),
          h("td", { text: "the mean health of all customers" }),
          h("td", {}),
          h("td", { class: "num", text: health.population === null ? "—" : health.population.toFixed(1) })),
        health.why.map((component) =>
          h("tr", { class: `component ${component.contribution < 0 ? "down" : component.contribution > 0 ? "up" : ""}`,
            "data-component": component.name },
            h("th", { scope: "row", text: COMPONENTS[component.name] || component.name }),
            h("td", { text: component.detail }),
            h("td", { class: "num", text: component.weight }),
            h("td", { class: "num", text: signed(component.contribution) })))),
    );
  }

  function trendChart(points) {
    if (points.length < 2) return null;
    const width = 160;
    const height = 40;
    const step = width / (points.length - 1);
    const chart = document.createElementNS(SVG, "svg");
    chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
    chart.setAttribute("class", "trend");
    chart.setAttribute("role", "img");
    chart.setAttribute("aria-label", `Account health trend: ${points.map((p) => p.score.toFixed(0)).join(", ")}`);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.map((p, i) => `${(i * step).toFixed(1)},${(height - (p.score / 100) * height).toFixed(1)}`).join(" "));
    chart.append(line);
    return chart;
  }

  function membersTable(account, members, limit) {
    const rows = members.map((customer) =>
      h(
        "tr",
        { class: "customer-row member-row", "data-customer-id": customer.id },
        h("td", {}, h("a", { href: `/console/customers/${customer.id}`, text: customerName(customer) }),
          customer.vip ? badge("VIP", "vip") : null),
        h("td", {}, tierBadge(customer.health_tier)),
        h("td", { class: "num", text: score(customer.health_score) }),
        h("td", { class: "num", text: customer.health_drop ? signed(-customer.health_drop) : "—" }),
        h("td", { class: "num", text: customer.conversations }),
        h("td", { text: customer.channels.join(", ") || "—" }),
        h("td", { text: when(customer.last_seen_at) }),
      ),
    );
    return h("section", { class: "card members", "aria-label": "Members" },
      h("h3", { text: `Members (${account.members})` }),
      account.members > members.length ? h("p", { class: "hint", text: `The ${limit} with the lowest health are shown.` }) : null,
      h("table", { class: "customer-table" },
        h("thead", {}, h("tr", {}, ["Customer", "Tier", "Health", "Change (7 days)", "Conversations", "Channels", "Last seen"].map(
          (label) => h("th", { scope: "col", text: label })))),
        h("tbody", {}, rows)));
  }

  async function renderAccount(company) {
    const data = await api(`/api/cme/account?company=${encodeURIComponent(company)}`);
    const { account, health } = data;
    document.title = `${account.company} · Accounts · supportbot console`;
    $("#accounts").replaceChildren(
      h("p", { class: "crumbs" }, h("a", { href: "/console/accounts", text: "Accounts" })),
      h("header", { class: "customer-header card" },
        h("div", { class: "title-line" },
          h("h1", { class: "account-name", text: account.company }),
          tierBadge(account.tier)),
        h("dl", { class: "identity" },
          h("dt", { text: "Members" }), h("dd", { class: "members", text: account.members }),
          h("dt", { text: "At risk" }), h("dd", { class: "at-risk-count", text: account.at_risk }),
          h("dt", { text: "Watch" }), h("dd", { text: account.watch }),
          h("dt", { text: "VIP" }), h("dd", { text: account.vip }),
          h("dt", { text: "Last seen" }), h("dd", { text: when(account.last_seen_at) }))),
      h("div", { class: "customer-grid" },
        h("div", { class: "column" },
          h("section", { class: "card health", "aria-label": "Health" },
            h("h3", { text: "Account health" }),
            h("div", { class: "score-line" },
              h("span", { class: `score-big tier-${health.tier || "none"}`, text: score(health.score) }),
              tierBadge(health.tier),
              health.drop ? h("span", { class: "drop", text: `${signed(-health.drop)} in 7 days` }) : null,
              trendChart(health.trend)),
            h("p", { class: "hint", text: `The mean of ${account.scored} scored members' health.` }),
            h("h4", { text: "Why this score" }),
            whyTable(health))),
        h("div", { class: "column" }, membersTable(account, data.members, data.members_limit))),
    );
  }

  async function route() {
    const params = new URLSearchParams(location.search);
    try {
      if (params.get("company")) await renderAccount(params.get("company"));
      else await renderList(params.get("at_risk") === "true");
    } catch (error) {
      $("#accounts").replaceChildren(h("p", { class: "empty", text: error.message }));
    }
  }

  route();
})();
