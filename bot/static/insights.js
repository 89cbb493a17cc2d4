// The insight dashboard (/console/insights). Plain DOM and SVG, no libraries. Every figure shows
// its count over its denominator, explains itself in a tooltip (the server's definitions) and
// opens the list of its conversations, which downloads as CSV.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (selector) => document.querySelector(selector);
  const BUCKET_COLOURS = { low: "#9ac5a5", mild: "#e4c770", high: "#e08a4a", severe: "#c0392b" };
  const CHANNEL_COLOURS = ["#1357c5", "#7a4cc2", "#1d7a46", "#a35c00"];
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  let definitions = {};
  let current = null; // the query string of the shown window

  function el(tag, attrs = {}, text = null) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  function tip(node, text) {
    const title = svg("title");
    title.textContent = text;
    node.appendChild(title);
    return node;
  }

  const pct = (rate) => (rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`);
  const secs = (s) => (s === null || s === undefined ? "–" : s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

  function card(title, definitionKey) {
    const section = el("article", { class: "insight-card", "data-figure": definitionKey });
    const heading = el("h3", {}, title);
    const info = el("span", { class: "definition", tabindex: "0", role: "note" }, "i");
    info.title = definitions[definitionKey] || "";
    info.setAttribute("aria-label", info.title);
    heading.appendChild(info);
    section.appendChild(heading);
    $("#figures").appendChild(section);
    return section;
  }

  // A figure: "label  12.3%  (45 of 366)", clickable to its conversations.
  function figureRow(parent, label, figure, definitionKey) {
    const row = el("button", { type: "button", class: "figure", "data-drill": figure.drill });
    row.title = definitions[definitionKey] || "";
    row.appendChild(el("span", { class: "label" }, label));
    row.appendChild(el("span", { class: "value" }, pct(figure.rate)));
    row.appendChild(el("span", { class: "denominator" }, `${figure.count} of ${figure.denominator}`));
    const bar = el("span", { class: "bar" });
    const fill = el("span", { class: "fill" });
    fill.style.width = `${Math.round((figure.rate || 0) * 100)}%`; // CSSOM: the CSP allows no inline styles
    bar.appendChild(fill);
    row.appendChild(bar);
    row.addEventListener("click", () => drill(figure.drill, label));
    parent.appendChild(row);
    return row;
  }

  // Stacked bars by day: series is [{name, colour, value(day) -> number, drill(day) -> key}].
  function stackedBars(parent, days, series, label) {
    const width = 640, height = 160, pad = 24;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height + pad}`, class: "chart", role: "img" });
    chart.setAttribute("aria-label", label);
    const totals = days.map((day) => series.reduce((sum, s) => sum + s.value(day), 0));
    const top = Math.max(1, ...totals);
    const step = (width - pad) / Math.max(1, days.length);
    days.forEach((day, i) => {
      let y = height;
      for (const s of series) {
        const value = s.value(day);
        if (!value) continue;
        const h = (value / top) * (height - 10);
        y -= h;
        const rect = svg("rect", {
          x: pad + i * step + 1, y, width: Math.max(1, step - 2), height: h, fill: s.colour,
          class: "bar-part", "data-drill": s.drill(day),
        });
        tip(rect, `${day.day} · ${s.name}: ${value} of ${totals[i]}`);
        rect.addEventListener("click", () => drill(s.drill(day), `${s.name} on ${day.day}`));
        chart.appendChild(rect);
      }
    });
    const axis = svg("text", { x: pad, y: height + 16, class: "axis" });
    axis.textContent = days.length ? `${days[0].day} … ${days[days.length - 1].day} · max ${top}/day` : "no data";
    chart.appendChild(axis);
    parent.appendChild(chart);
  }

  function legend(parent, entries) {
    const list = el("ul", { class: "legend" });
    for (const [name, colour] of entries) {
      const item = el("li");
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = colour;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(name));
      list.appendChild(item);
    }
    parent.appendChild(list);
  }

  function heatmap(parent, grid) {
    const cell = 22, left = 36, topPad = 14;
    const chart = svg("svg", { viewBox: `0 0 ${left + 24 * cell} ${topPad + 7 * cell}`, class: "chart heatmap", role: "img" });
    chart.setAttribute("aria-label", "Conversations by hour of the week");
    const top = Math.max(1, ...grid.flat());
    for (let h = 0; h < 24; h += 3) {
      const label = svg("text", { x: left + h * cell + 2, y: 10, class: "axis" });
      label.textContent = String(h).padStart(2, "0");
      chart.appendChild(label);
    }
    grid.forEach((row, d) => {
      const label = svg("text", { x: 0, y: topPad + d * cell + 15, class: "axis" });
      label.textContent = DAYS[d];
      chart.appendChild(label);
      row.forEach((count, h) => {
        const rect = svg("rect", {
          x: left + h * cell, y: topPad + d * cell, width: cell - 2, height: cell - 2,
          fill: count ? `rgba(19, 87, 197, ${0.12 + 0.88 * (count / top)})` : "#eef1f5",
          class: "heat-cell", "data-drill": `counted&hour=${d * 24 + h}`,
        });
        tip(rect, `${DAYS[d]} ${String(h).padStart(2, "0")}:00 · ${count} conversations`);
        if (count) rect.addEventListener("click", () => drill(`counted&hour=${d * 24 + h}`, `${DAYS[d]} ${h}:00`));
        chart.appendChild(rect);
      });
    });
    parent.appendChild(chart);
  }

  function render(data) {
    definitions = data.definitions || {};
    $("#figures").replaceChildren();

    const resolution = card("Bot resolution", "confirmed");
    resolution.appendChild(el("p", { class: "muted" }, `${data.resolution.denominator} conversations with a question`));
    figureRow(resolution, "Confirmed", data.resolution.confirmed, "confirmed");
    figureRow(resolution, "Assumed", data.resolution.assumed, "assumed");
    figureRow(resolution, "Durable", data.resolution.durable, "durable");
    figureRow(resolution, "Ended on “couldn't find”", data.resolution.ended_not_found, "ended_not_found");
    stackedBars(resolution, data.resolution.by_day, [
      { name: "confirmed", colour: "#1d7a46", value: (d) => d.confirmed, drill: (d) => `confirmed&day=${d.day}` },
      { name: "not resolved", colour: "#d5dbe3", value: (d) => d.counted - d.confirmed, drill: (d) => `counted&day=${d.day}` },
    ], "Confirmed resolutions by day");

    const esc = card("Escalations", "escalated");
    figureRow(esc, "Escalated", data.escalations.escalated, "escalated");
    for (const reason of data.escalations.reasons) figureRow(esc, `reason: ${reason.reason}`, reason, "escalated");
    const reasonNames = data.escalations.reasons.map((r) => r.reason);
    stackedBars(esc, data.escalations.by_day, reasonNames.map((name, i) => ({
      name, colour: CHANNEL_COLOURS[i % CHANNEL_COLOURS.length],
      value: (d) => d.reasons[name] || 0, drill: (d) => `escalated&reason=${name}&day=${d.day}`,
    })), "Escalation reasons by day");
    legend(esc, reasonNames.map((name, i) => [name, CHANNEL_COLOURS[i % CHANNEL_COLOURS.length]]));

    const frt = card("First response to escalations", "first_response");
    const times = el("p", { class: "big" });
    times.textContent = `p50 ${secs(data["first-response"].p50_s)} · p90 ${secs(data["first-response"].p90_s)}`;
    times.title = definitions.first_response || "";
    frt.appendChild(times);
    figureRow(frt, "Answered", data["first-response"].responded, "first_response");
    figureRow(frt, `SLA met (${secs(data.sla_first_response_s)})`, data["first-response"].sla_met, "first_response");
    figureRow(frt, "SLA missed", data["first-response"].sla_missed, "first_response");

    const csat = card("CSAT", "csat");
    for (const [group, label] of [["bot_only", "Bot only"], ["human_involved", "Person involved"]]) {
      const figures = data.csat[group];
      csat.appendChild(el("h4", {}, `${label} · mean ${figures.mean === null ? "–" : figures.mean}`));
      figureRow(csat, "Response rate", figures.response_rate, "csat");
      figureRow(csat, "Satisfied (4-5)", figures.satisfied, "csat");
    }

    const nps = card("NPS", "nps");
    nps.appendChild(el("p", { class: "muted", id: "nps-slot" },
      data.nps.available
        ? `${data.nps.score} (${data.nps.answers} of ${data.nps.shown} shown answered, ` +
          `${Math.round(100 * data.nps.response_rate)}% response rate` +
          `${data.nps.asked > data.nps.shown ? `; ${data.nps.asked - data.nps.shown} asked but never seen` : ""})`
        : `Not collected yet (${data.nps.shown} shown, ${data.nps.asked} asked)`));

    const frustration = card("Frustration (peak per conversation)", "frustration");
    for (const [name, figure] of Object.entries(data.frustration.buckets)) figureRow(frustration, name, figure, "frustration");
    stackedBars(frustration, data.frustration.by_day, Object.keys(BUCKET_COLOURS).map((name) => ({
      name, colour: BUCKET_COLOURS[name], value: (d) => d[name], drill: (d) => `frustration=${name}&day=${d.day}`,
    })), "Frustration by day");
    legend(frustration, Object.entries(BUCKET_COLOURS));

    const volume = card("Volume", "volume");
    const channels = Object.keys(data.volume.channels).sort();
    for (const channel of channels) figureRow(volume, channel, data.volume.channels[channel], "volume");
    const byDay = new Map();
    for (const row of data.volume.by_day) {
      if (!byDay.has(row.day)) byDay.set(row.day, { day: row.day });
      byDay.get(row.day)[row.channel] = row.count;
    }
    stackedBars(volume, [...byDay.values()], channels.map((channel, i) => ({
      name: channel, colour: CHANNEL_COLOURS[i % CHANNEL_COLOURS.length],
      value: (d) => d[channel] || 0, drill: (d) => `counted&channel=${channel}&day=${d.day}`,
    })), "Conversations by day and channel");
    legend(volume, channels.map((c, i) => [c, CHANNEL_COLOURS[i % CHANNEL_COLOURS.length]]));
    const staffing = card("Conversations by hour of week", "volume");
    heatmap(staffing, data.volume.hour_of_week);
  }

  function query() {
    const params = new URLSearchParams();
    for (const name of ["start", "end", "channel"]) {
      const value = $(`#${name}`).value;
      if (value) params.set(name, value);
    }
    return params;
  }

  async function load() {
    $("#status").textContent = "loading…";
    const params = query();
    const response = await fetch(`/api/cme/insights?${params}`, { credentials: "same-origin" });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      $("#status").textContent = body.detail || `error ${response.status}`;
      return;
    }
    const data = await response.json();
    current = params;
    $("#start").value = data.window.start;
    $("#end").value = data.window.end;
    $("#status").textContent = `${data.window.start} – ${data.window.end}`;
    render(data);
  }

  async function drill(key, label) {
    const params = new URLSearchParams(current || query());
    params.set("drill", key);
    const response = await fetch(`/api/cme/insights/conversations?${params}&limit=500`, { credentials: "same-origin" });
    const body = await response.json();
    const section = $("#drill");
    section.hidden = false;
    $("#drill-title").textContent = response.ok
      ? `${label}: ${body.total} conversation${body.total === 1 ? "" : "s"}${body.total > body.conversations.length ? ` (first ${body.conversations.length})` : ""}`
      : body.detail || `error ${response.status}`;
    $("#drill-csv").href = `/api/cme/insights/conversations.csv?${params}`;
    const rows = $("#drill-rows");
    rows.replaceChildren();
    for (const conversation of response.ok ? body.conversations : []) {
      const row = el("tr");
      const link = el("a", { href: `/console/conversations/${encodeURIComponent(conversation.conversation_id)}` },
        conversation.conversation_id.slice(0, 10));
      const first = el("td");
      first.appendChild(link);
      row.appendChild(first);
      row.appendChild(el("td", {}, conversation.channel));
      row.appendChild(el("td", {}, conversation.started_at.replace("T", " ").slice(0, 16)));
      const outcome = conversation.durable ? "durable" : conversation.confirmed ? "confirmed"
        : conversation.assumed ? "assumed" : conversation.escalated ? `escalated (${conversation.reasons.join(", ")})`
        : conversation.ended_not_found ? "couldn't find" : "not resolved";
      row.appendChild(el("td", {}, outcome));
      row.appendChild(el("td", {}, conversation.csat === null ? "" : conversation.csat));
      row.appendChild(el("td", {}, conversation.frustration_peak === null ? "" : conversation.frustration_peak.toFixed(2)));
      rows.appendChild(row);
    }
    section.scrollIntoView({ block: "nearest" });
  }

  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  load();
})();
