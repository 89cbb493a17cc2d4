// The console's customer pages: the customer list with the at-risk list, and one customer's
// page (identity, health and why, trend, timeline, CSAT/NPS answers, notes, VIP). Plain DOM;
// everything from the server is inserted with textContent, never parsed as HTML.
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
      else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  function svg(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
    return el;
  }
  const badge = (text, kind) => h("span", { class: `badge ${kind || ""}`, text });
  const tierBadge = (tier) => (tier ? badge(TIERS[tier] || tier, `tier tier-${tier}`) : null);
  const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "—");
  const signed = (value) => (value > 0 ? `+${value.toFixed(1)}` : value.toFixed(1));

  function toast(message) {
    const el = $("#toast");
    el.textContent = message;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (el.hidden = true), 6000);
  }

  const api = window.supportbotApi.call; // console-api.js, loaded first

  function customerName(customer) {
    return customer.name || customer.email || customer.external_id || `Visitor #${customer.id}`;
  }

  // ------------------------------------------------------------------- list

  async function renderList(atRisk) {
    const main = $("#customers");
    const tabs = h(
      "nav",
      { class: "tabs", "aria-label": "Customer lists" },
      h("a", { href: "/console/customers?at_risk=true", "aria-current": atRisk ? "page" : null, text: "At risk" }),
      h("a", { href: "/console/customers", "aria-current": atRisk ? null : "page", text: "All customers" }),
    );
    const data = await api("GET", `/api/cme/customers?limit=200${atRisk ? "&at_risk=true" : ""}`);
    const rows = data.customers.map((customer) =>
      h(
        "tr",
        { class: "customer-row", "data-customer-id": customer.id },
        h("td", {}, h("a", { href: `/console/customers/${customer.id}`, text: customerName(customer) }),
          customer.vip ? badge("VIP", "vip") : null),
        h("td", { text: customer.company || "—" }),
        h("td", {}, tierBadge(customer.health_tier)),
        h("td", { class: "num", text: customer.health_score === null ? "—" : customer.health_score.toFixed(0) }),
        h("td", { class: "num", text: customer.health_drop ? signed(-customer.health_drop) : "—" }),
        h("td", { class: "num", text: customer.conversations }),
        h("td", { text: when(customer.last_seen_at) }),
      ),
    );
    const table = h(
      "table",
      { class: "customer-table" },
      h(
        "thead",
        {},
        h("tr", {}, ["Customer", "Company", "Tier", "Health", "Change (7 days)", "Conversations", "Last seen"].map(
          (label) => h("th", { scope: "col", text: label }),
        )),
      ),
      h("tbody", {}, rows),
    );
    const empty = atRisk ? "Nobody is at risk." : "No customers yet.";
    main.replaceChildren(
      h("h1", { text: atRisk ? "Customers at risk" : "Customers" }),
      atRisk ? h("p", { class: "hint", text: "Sorted by how far their health fell recently." }) : null,
      tabs,
      rows.length ? table : h("p", { class: "empty", text: empty }),
    );
  }

  // ----------------------------------------------------------------- detail

  async function renderCustomer(id) {
    const data = await api("GET", `/api/cme/customers/${id}`);
    const { customer, health } = data;
    document.title = `${customerName(customer)} · supportbot console`;
    const vipButton = h("button", {
      type: "button",
      class: "vip-toggle",
      text: customer.vip ? "Remove VIP" : "Mark VIP",
      onclick: async () => {
        try {
          await api("POST", `/api/cme/customers/${id}/vip`, { vip: !customer.vip });
          renderCustomer(id);
        } catch (error) {
          toast(error.message);
        }
      },
    });
    const identity = h(
      "dl",
      { class: "identity" },
      h("dt", { text: "Customer id" }), h("dd", { text: customer.external_id || "—" }),
      h("dt", { text: "Email" }), h("dd", { text: customer.email || "—" }),
      h("dt", { text: "Slack user" }), h("dd", { text: data.slack_user_id || "—" }),
      h("dt", { text: "Company" }), h("dd", { text: customer.company || "—" }),
      h("dt", { text: "Channels" }), h("dd", { text: customer.channels.join(", ") || "—" }),
      h("dt", { text: "Last seen" }), h("dd", { text: when(customer.last_seen_at) }),
    );
    $("#customers").replaceChildren(
      h("p", { class: "crumbs" }, h("a", { href: "/console/customers", text: "Customers" })),
      h(
        "header",
        { class: "customer-header card" },
        h(
          "div",
          { class: "title-line" },
          h("h1", { class: "customer", text: customerName(customer) }),
          customer.verified ? badge("verified", "verified") : badge(data.visitor ? "anonymous visitor" : "unverified", "unverified"),
          customer.vip ? badge("VIP", "vip") : null,
          tierBadge(health.tier),
          h("span", { class: "spacer" }),
          vipButton,
        ),
        identity,
      ),
      h("div", { class: "customer-grid" },
        h("div", { class: "column" }, healthCard(health, data.account), answersCard(data)),
        h("div", { class: "column" }, notesCard(id, data.notes), timelineCard(data.timeline)),
      ),
    );
  }

  function healthCard(health, account) {
    const score = health.score === null ? "—" : health.score.toFixed(0);
    const why = health.why.length
      ? h(
          "table",
          { class: "why", "aria-label": "Why this score" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col", text: "Component" }),
            h("th", { scope: "col", text: "What we saw" }),
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
        )
      : h("p", { class: "empty", text: "Not computed yet, or no conversations to judge by." });
    return h(
      "section",
      { class: "card health", "aria-label": "Health" },
      h("h3", { text: "Health" }),
      h("div", { class: "score-line" },
        h("span", { class: `score-big tier-${health.tier || "none"}`, text: score }),
        tierBadge(health.tier),
        health.drop ? h("span", { class: "drop", text: `${signed(-health.drop)} in 7 days` }) : null,
        trendChart(health.trend)),
      account ? h("p", { class: "account" }, "Account ",
        h("a", { href: `/console/accounts?company=${encodeURIComponent(account.company)}`, text: account.company }),
        `: ${account.score.toFixed(0)} (${TIERS[account.tier] || account.tier}) over ${account.customers} customers`) : null,
      h("h4", { text: "Why this score" }),
      why,
    );
  }

  function trendChart(points) {
    if (points.length < 2) return null;
    const width = 160;
    const height = 40;
    const step = width / (points.length - 1);
    const y = (score) => height - (score / 100) * height;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "trend", role: "img",
      "aria-label": `Health trend: ${points.map((p) => p.score.toFixed(0)).join(", ")}` });
    chart.append(svg("polyline", {
      points: points.map((p, i) => `${(i * step).toFixed(1)},${y(p.score).toFixed(1)}`).join(" "),
    }));
    return chart;
  }

  function timelineCard(timeline) {
    const items = timeline.map((conversation) =>
      h(
        "li",
        { class: `timeline-item outcome-${conversation.outcome}` },
        h("div", { class: "line" },
          h("a", { href: `/console/conversations/${encodeURIComponent(conversation.id)}`, text: when(conversation.created_at) }),
          badge(conversation.channel, "channel"),
          badge(conversation.status, `status-${conversation.status}`),
          badge(conversation.outcome, `outcome ${conversation.outcome}`),
          conversation.frustration_peak !== null ? h("span", { class: "peak", text: `peak frustration ${conversation.frustration_peak.toFixed(2)}` }) : null),
        h("p", { class: "first", text: conversation.first_message || "(no message)" }),
        conversation.escalations.map((escalation) =>
          h("p", { class: "escalation" }, "Escalated: ",
            escalation.reasons.map((reason) => badge(reason.code || "reason", "reason")),
            escalation.outcome ? ` (${escalation.outcome})` : "")),
        conversation.csat.map((csat) =>
          h("p", { class: "csat-answer", text: `CSAT ${csat.rating}/5${csat.reason ? ` · ${csat.reason.replaceAll("_", " ")}` : ""}${csat.comment ? ` · “${csat.comment}”` : ""}` })),
      ),
    );
    return h("section", { class: "card timeline", "aria-label": "Conversations" },
      h("h3", { text: `Conversations (${timeline.length})` }),
      items.length ? h("ol", { class: "timeline-list" }, items) : h("p", { class: "empty", text: "None yet." }));
  }

  function answersCard(data) {
    const ratings = data.timeline.flatMap((c) => c.csat);
    const answers = data.nps.filter((a) => a.score !== null);
    return h("section", { class: "card answers", "aria-label": "Satisfaction" },
      h("h3", { text: "CSAT and NPS" }),
      h("p", { text: ratings.length ? `CSAT: ${ratings.map((r) => r.rating).join(", ")} (of 5)` : "No CSAT answers." }),
      h("p", { text: `NPS: ${answers.length} answers of ${data.nps.filter((a) => a.shown).length} shown` }),
      h("ul", { class: "nps-answers" }, answers.map((answer) =>
        h("li", { class: "nps-answer", text: `${answer.score}/10 on ${when(answer.answered_at)}${answer.comment ? ` · “${answer.comment}”` : ""}` }))));
  }

  function notesCard(id, notes) {
    const text = h("textarea", { id: "note-text", rows: "3", maxlength: "4000", placeholder: "A note for every CME who helps this customer…" });
    const add = async (event) => {
      event.preventDefault();
      if (!text.value.trim()) return;
      try {
        await api("POST", `/api/cme/customers/${id}/notes`, { text: text.value });
        renderCustomer(id);
      } catch (error) {
        toast(error.message);
      }
    };
    return h("section", { class: "card notes", "aria-label": "Notes" },
      h("h3", { text: "Notes" }),
      h("ul", { class: "note-list" }, notes.map((note) =>
        h("li", { class: "customer-note" }, h("p", { text: note.text }),
          h("p", { class: "meta", text: `${note.author_name || "a CME"} · ${when(note.created_at)}` })))),
      h("form", { class: "note-form", onsubmit: add },
        h("label", { for: "note-text", class: "sr", text: "New note" }), text,
        h("button", { type: "submit", text: "Add note" })));
  }

  // ------------------------------------------------------------------ start

  async function route() {
    const match = location.pathname.match(/^\/console\/customers\/([1-9][0-9]{0,11})$/);
    try {
      if (match) await renderCustomer(match[1]);
      else await renderList(new URLSearchParams(location.search).get("at_risk") === "true");
    } catch (error) {
      $("#customers").replaceChildren(h("p", { class: "empty", text: error.message }));
    }
  }

  route();
})();
