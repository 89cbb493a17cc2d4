// The CME console. Plain DOM, no libraries. Everything the customer, the bot or the knowledge
// base wrote is inserted with textContent: nothing from the server is ever parsed as HTML.
"use strict";

(() => {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const SLA_S = Number(meta("sla-first-response-s")) || 300;
  const THRESHOLD = Number(meta("frustration-threshold")) || 0.7;
  const SVG = "http://www.w3.org/2000/svg";

  const state = {
    me: null,
    users: new Map(),
    openId: null,
    packet: null,
    socket: null,
    retry: 0,
    queueTimers: [],
    viewTimers: [],
    openSignals: new Set(),
    latestCustomerSeq: null,
    refreshTimer: null,
    typingOn: false,
    typingTimer: null,
    noteMode: false,
    view: "all",
    queueRows: [],
    resolvedRows: [],
    search: null, // { q, status, rows } while a search is shown instead of the queue
    team: "", // only this team's conversations (teams.js sets it)
  };

  // ---------------------------------------------------------------- helpers

  const $ = (selector, root = document) => root.querySelector(selector);

  function safeUrl(value) {
    try {
      const url = new URL(String(value), location.origin);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  // h("p", {class: "x", text: "..."}, child, ...): props are fixed by this file, never by data.
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = String(value);
      else if (key === "href") {
        const url = safeUrl(value);
        if (url) el.href = url;
      } else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") el.textContent = String(value);
      else el.setAttribute(key, String(value));
    }
    append(el, children);
    return el;
  }

  const badge = (text, kind) => h("span", { class: `badge ${kind || ""}`, text });
  const fixed = (value, digits = 2) => (typeof value === "number" ? value.toFixed(digits) : "–");

  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const hours = Math.floor(s / 3600);
    const mins = Math.floor((s % 3600) / 60);
    const secs = String(s % 60).padStart(2, "0");
    return hours ? `${hours}:${String(mins).padStart(2, "0")}:${secs}` : `${mins}:${secs}`;
  }

  function timeOf(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime())
      ? ""
      : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function customerName(customer, conversationId) {
    const known = customer && (customer.name || customer.email || customer.id);
    if (known) return known;
    // Two anonymous cards must not look alike: a short, stable label from the conversation id.
    return conversationId ? `Visitor ${String(conversationId).slice(0, 6)}` : "Anonymous visitor";
  }

  function userName(id) {
    if (id === null || id === undefined) return "";
    if (state.me && id === state.me.id) return "you";
    const user = state.users.get(id);
    return user ? user.name : `CME #${id}`;
  }

  function toast(message) {
    const el = $("#toast");
    el.textContent = message;
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (el.hidden = true), 6000);
  }

  const api = window.supportbotApi.call; // console-api.js, loaded first

  const conversationPath = (id) => `/api/cme/conversations/${encodeURIComponent(id)}`;

  // ------------------------------------------------------------ SLA timers

  // A timer counts from the server's waiting_seconds at the moment the data arrived, so a skewed
  // browser clock does not matter.
  function slaTimer(escalation, timers, compact = false) {
    if (!escalation) return null;
    const el = h("span", { class: "sla" });
    timers.push({ el, escalation, compact, at: performance.now() });
    return el;
  }

  function renderTimer({ el, escalation, compact, at }) {
    const answered = Boolean(escalation.first_response_at);
    const waited = escalation.waiting_seconds + (answered ? 0 : (performance.now() - at) / 1000);
    const left = SLA_S - waited;
    let text;
    let kind;
    if (answered) {
      text = compact ? `replied in ${clock(waited)}` : `first reply after ${clock(waited)}`;
      kind = left < 0 ? "breached" : "met";
    } else if (left >= 0) {
      text = compact ? `${clock(left)} left` : `${clock(left)} left to first reply`;
      kind = left < 60 ? "due" : "ok";
    } else {
      text = compact ? `SLA +${clock(-left)}` : `SLA breached ${clock(-left)} ago`;
      kind = "breached";
    }
    el.textContent = text;
    el.className = `sla ${kind}`;
    el.title = `waiting ${clock(waited)}; first-response target ${clock(SLA_S)}`;
  }

  function waitingClock(escalation, timers) {
    if (!escalation) return null;
    const el = h("span", { class: "waiting" });
    timers.push({
      el,
      escalation,
      at: performance.now(),
      render: (timer) => {
        const answered = Boolean(escalation.first_response_at);
        const extra = answered ? 0 : (performance.now() - timer.at) / 1000;
        timer.el.textContent = clock(escalation.waiting_seconds + extra);
      },
    });
    return el;
  }

  function tick() {
    for (const timer of [...state.queueTimers, ...state.viewTimers]) {
      if (!timer.el.isConnected) continue;
      (timer.render || renderTimer)(timer);
    }
  }

  // ---------------------------------------------------------------- queue

  const VIEWS = [
    ["mine", "Mine"],
    ["unassigned", "Unassigned"],
    ["all", "All"],
    ["resolved", "Resolved"],
  ];
  const EMPTY = {
    mine: "You have no claimed conversations.",
    unassigned: "Nobody is waiting. New escalations appear here.",
    all: "Nobody is waiting. New escalations appear here.",
    resolved: "No resolved conversations yet.",
  };

  // Search over every conversation: words anywhere in it or in the customer's name, email or
  // id, optionally one status. Results replace the queue until the search is cleared.
  function searchForm() {
    const q = h("input", { type: "search", id: "conversation-search", maxlength: 200, autocomplete: "off",
      placeholder: "Search conversations…", "aria-label": "Search all conversations" });
    const status = h("select", { id: "search-status", "aria-label": "Status" },
      h("option", { value: "", text: "any status" }),
      ...["waiting", "agent", "bot", "resolved"].map((value) => h("option", { value, text: value })));
    const run = async (event) => {
      event.preventDefault();
      if (!q.value.trim() && !status.value) {
        state.search = null;
        return renderQueue(state.queueRows);
      }
      const params = new URLSearchParams({ q: q.value.trim() });
      if (status.value) params.set("status", status.value);
      try {
        const data = await api("GET", `/api/cme/search?${params}`);
        state.search = { rows: data.conversations };
        renderQueue(state.queueRows);
      } catch (error) {
        toast(error.message);
      }
    };
    q.addEventListener("search", run); // the field's own clear button
    return h("form", { class: "search", id: "search", role: "search", onsubmit: run }, q, status,
      h("button", { type: "submit", text: "Search" }));
  }

  function viewTabs() {
    const tabs = h("div", { class: "views", role: "group", "aria-label": "Queue views", id: "views" });
    for (const [view, label] of VIEWS) {
      tabs.append(
        h("button", { type: "button", class: "view", dataset: { view }, "aria-pressed": String(view === state.view),
          onclick: () => setView(view) }, label, h("span", { class: "view-count" }), h("span", { class: "view-unread" })),
      );
    }
    return tabs;
  }

  function setView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll("#views .view")) {
      tab.setAttribute("aria-pressed", String(tab.dataset.view === view));
    }
    if (view === "resolved") loadResolved();
    renderQueue(state.queueRows);
  }

  async function loadResolved() {
    try {
      state.resolvedRows = (await api("GET", "/api/cme/queue?view=resolved")).conversations;
      if (state.view === "resolved") renderQueue(state.queueRows);
    } catch (error) {
      toast(error.message);
    }
  }

  function inView(view, row) {
    if (view === "mine") return row.status === "agent" && state.me && row.owner_id === state.me.id;
    if (view === "unassigned") return row.status === "waiting";
    return true;
  }

  function renderQueue(rows) {
    if (rows !== state.queueRows) document.dispatchEvent(new CustomEvent("supportbot:queue", { detail: rows }));
    state.queueRows = rows;
    state.queueTimers = [];
    if (!$("#views")) $("#queue").before(searchForm(), viewTabs());
    const ofTeam = (list) => (state.team ? list.filter((row) => row.team === state.team) : list);
    const shown = state.search
      ? state.search.rows
      : state.view === "resolved" ? ofTeam(state.resolvedRows) : ofTeam(rows).filter((row) => inView(state.view, row));
    $("#queue").replaceChildren(...shown.map((row) => queueItem(row)));
    $("#queue-count").textContent = rows.length ? String(rows.length) : "";
    for (const tab of document.querySelectorAll("#views .view")) {
      const inTab = tab.dataset.view === "resolved" ? [] : ofTeam(rows).filter((row) => inView(tab.dataset.view, row));
      tab.querySelector(".view-count").textContent = inTab.length ? String(inTab.length) : "";
      const unread = inTab.filter((row) => unreadOf(row) > 0).length;
      tab.querySelector(".view-unread").textContent = unread ? `${unread} unread` : "";
    }
    $("#queue-empty").textContent = state.search ? "No conversation matches." : EMPTY[state.view];
    $("#queue-empty").hidden = shown.length > 0;
    tick();
  }

  // Customer messages this CME has not seen; the open conversation is being seen.
  const unreadOf = (row) => (row.id === state.openId ? 0 : Number(row.unread) || 0);

  function queueItem(row) {
    const classes = ["queue-item", row.status === "waiting" ? "is-waiting" : "is-claimed"];
    if (row.id === state.openId) classes.push("active");
    const unread = unreadOf(row);
    if (unread) classes.push("has-unread");
    if (row.escalation && row.escalation.sla_breached && !row.escalation.first_response_at) {
      classes.push("is-breached");
    }
    const status =
      row.status === "waiting"
        ? badge("waiting", "status-waiting")
        : row.status === "resolved" || row.status === "bot"
          ? badge(row.status === "bot" ? "with the bot" : "resolved", `status-${row.status}`)
          : badge(`claimed by ${userName(row.owner_id)}`, "status-agent");
    const question = row.main_question || row.latest_message;
    const found = row.match && row.match !== question ? h("p", { class: "match", text: row.match }) : null;
    return h(
      "li",
      { class: classes.join(" "), dataset: { conversationId: row.id, team: row.team || "" } },
      h(
        "a",
        {
          href: `/console/conversations/${encodeURIComponent(row.id)}`,
          onclick: (event) => {
            event.preventDefault();
            navigate(row.id);
          },
        },
        h(
          "div",
          { class: "line" },
          h("span", { class: "customer", text: customerName(row.customer, row.id) }),
          unread ? h("span", { class: "unread", title: `${unread} unread`, text: String(unread) }) : null,
          row.vip ? badge("VIP", "vip") : null,
          row.customer && row.customer.health_tier === "at_risk" ? badge("at risk", "at-risk") : null,
          row.team ? badge(row.team, "team") : null,
          badge(row.channel, "channel"),
          slaTimer(row.escalation, state.queueTimers, true),
        ),
        h("p", { class: "question", text: question || "(no message yet)" }),
        row.latest_message && row.latest_message !== question
          ? h("p", { class: "latest", text: `Latest: ${row.latest_message}` })
          : null,
        found,
        h("div", { class: "line meta" }, status, frustrationMeter(row.frustration)),
      ),
    );
  }

  function frustrationMeter(value) {
    const level = value >= THRESHOLD ? "high" : value >= THRESHOLD / 2 ? "medium" : "low";
    const bar = h("span", { class: "bar" });
    bar.style.width = `${Math.round(Math.min(1, Math.max(0, value || 0)) * 100)}%`;
    return h(
      "span",
      { class: `frustration ${level}`, title: `frustration ${fixed(value)}` },
      h("span", { class: "track" }, bar),
      h("span", { class: "value", text: fixed(value) }),
    );
  }

  // ------------------------------------------------------- routing, socket

  function navigate(id) {
    const path = id ? `/console/conversations/${encodeURIComponent(id)}` : "/console";
    if (location.pathname !== path) history.pushState(null, "", path);
    route();
  }

  function route() {
    const match = location.pathname.match(/^\/console\/conversations\/([A-Za-z0-9_-]{1,64})$/);
    openConversation(match ? match[1] : null);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/cme/ws`);
    state.socket = socket;
    setConnection("connecting");
    socket.addEventListener("open", () => {
      state.retry = 0;
      setConnection("live");
      watch();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      onSocketMessage(message);
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      setConnection("offline");
      // A refused handshake looks like any dropped connection; /me tells whether the session
      // ended (api() then goes to the sign-in page) or the server is just away.
      api("GET", "/api/cme/me").catch(() => {});
      const delay = Math.min(15000, 500 * 2 ** state.retry++);
      setTimeout(connect, delay);
    });
  }

  function setConnection(status) {
    const el = $("#connection");
    el.textContent = status === "live" ? "live" : status === "offline" ? "reconnecting…" : "connecting…";
    el.className = `connection ${status}`;
  }

  function watch() {
    const socket = state.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "watch", conversation_id: state.openId }));
    }
  }

  function onSocketMessage(message) {
    if (message.type === "queue") {
      renderQueue(message.conversations || []);
    } else if (message.conversation_id && message.conversation_id === state.openId) {
      if (message.type === "watching" || message.type === "conversation") scheduleRefresh();
    }
  }

  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => state.openId && loadPacket(state.openId), 120);
  }

  // ---------------------------------------------------------- conversation

  function openConversation(id) {
    for (const item of document.querySelectorAll(".queue-item")) {
      item.classList.toggle("active", item.dataset.conversationId === id);
    }
    if (id === state.openId && state.packet) return;
    state.openId = id;
    state.packet = null;
    state.viewTimers = [];
    state.openSignals = new Set();
    state.latestCustomerSeq = null;
    state.noteMode = false;
    watch();
    const pane = $("#conversation");
    if (!id) {
      pane.replaceChildren(h("p", { class: "empty", text: "Select a conversation from the queue." }));
      document.title = "supportbot console";
      return;
    }
    pane.replaceChildren(conversationShell());
    loadPacket(id);
  }

  function conversationShell() {
    return h(
      "div",
      { class: "conversation", id: "view" },
      h("section", { class: "conv-header", id: "conv-header" }, h("p", { text: "Loading…" })),
      h("div", { class: "actions", id: "actions" }),
      h(
        "div",
        { class: "conv-body" },
        h(
          "div",
          { class: "conv-main" },
          h("ol", { class: "transcript", id: "transcript", "aria-label": "Transcript" }),
          composer(),
        ),
        h(
          "aside",
          { class: "conv-context" },
          h("section", { class: "card", id: "summary" }),
          h("section", { class: "card", id: "reasons" }),
          h("section", { class: "card", id: "trend" }),
          cannedPanel(),
          h("section", { class: "card", id: "retrieved" }),
        ),
      ),
    );
  }

  async function loadPacket(id) {
    let packet;
    try {
      packet = await api("GET", conversationPath(id));
    } catch (error) {
      if (state.openId === id) {
        $("#conv-header").replaceChildren(h("p", { class: "error", text: error.message }));
      }
      return;
    }
    if (state.openId !== id) return;
    state.packet = packet;
    renderConversation(packet);
  }

  function renderConversation(packet) {
    const conversation = packet.conversation;
    document.title = `${customerName(conversation.customer, conversation.id)} · supportbot console`;
    state.viewTimers = [];
    renderHeader(packet);
    renderActions(packet);
    renderTranscript(packet);
    renderSummary(packet);
    renderReasons(packet);
    renderTrend(packet);
    renderRetrieved(packet);
    updateComposer(packet);
    const latest = [...packet.transcript].reverse().find((m) => m.role === "customer");
    const latestSeq = latest ? latest.seq : null;
    if (latestSeq !== state.latestCustomerSeq) {
      state.latestCustomerSeq = latestSeq;
      loadSuggestions(conversation.id);
    }
    tick();
    markRead(packet);
    // Panels in their own files (saved replies) follow the open conversation.
    document.dispatchEvent(new CustomEvent("supportbot:conversation", { detail: packet }));
  }

  // Opening a conversation (and each refresh while it is shown) marks what it shows as read.
  async function markRead(packet) {
    if (document.hidden) return; // seen once the tab is back (visibilitychange)
    const id = packet.conversation.id;
    const seq = packet.transcript.reduce((top, message) => Math.max(top, message.seq), 0);
    try {
      await api("POST", `${conversationPath(id)}/read`, { seq });
    } catch {
      return; // the count stays; the next refresh tries again
    }
    const row = state.queueRows.find((item) => item.id === id);
    if (row && row.unread) {
      row.unread = 0;
      renderQueue(state.queueRows);
    }
  }

  function isMine(conversation) {
    return conversation.status === "agent" && state.me && conversation.owner_id === state.me.id;
  }

  function renderHeader(packet) {
    const { conversation, escalation } = packet;
    const customer = conversation.customer || {};
    const statusText = {
      waiting: "waiting for a CME",
      agent: `claimed by ${userName(conversation.owner_id)}`,
      bot: "with the bot",
      resolved: "resolved",
    }[conversation.status] || conversation.status;
    const identity = h(
      "dl",
      { class: "identity" },
      h("dt", { text: "Email" }),
      h("dd", { text: customer.email || "—" }),
      h("dt", { text: "Customer id" }),
      h("dd", { text: customer.id || "—" }),
      h("dt", { text: "Channel" }),
      h("dd", {}, conversation.channel, conversation.channel_ref ? ` · ${conversation.channel_ref}` : ""),
      h("dt", { text: "Waiting" }),
      h("dd", {}, waitingClock(escalation, state.viewTimers) || "—"),
      h("dt", { text: "SLA" }),
      h("dd", {}, slaTimer(escalation, state.viewTimers) || "—"),
      h("dt", { text: "Rating" }),
      h("dd", { id: "csat" }, packet.csat ? csatText(packet.csat) : "—"),
    );
    $("#conv-header").replaceChildren(
      h(
        "div",
        { class: "title-line" },
        h("h2", { class: "customer", text: customerName(customer, conversation.id) }),
        customer.record_id
          ? h("a", { class: "customer-link", href: `/console/customers/${customer.record_id}`, text: "Customer page" })
          : null,
        customer.health_tier === "at_risk" ? badge("at risk", "at-risk") : null,
        customer.verified ? badge("verified", "verified") : badge("unverified", "unverified"),
        conversation.vip ? badge("VIP", "vip") : null,
        badge(conversation.channel, "channel"),
        h("span", { class: `status status-${conversation.status}`, id: "status", text: statusText }),
      ),
      identity,
    );
  }

  function csatText(csat) {
    const stars = "★".repeat(csat.rating) + "☆".repeat(Math.max(0, 5 - csat.rating));
    return `${stars} ${csat.rating}/5${csat.comment ? ` · “${csat.comment}”` : ""}`;
  }

  function actionButton(label, handler, { primary = false, danger = false, name } = {}) {
    const classes = ["action", primary ? "primary" : "", danger ? "danger" : ""].join(" ").trim();
    return h("button", { type: "button", class: classes, "data-action": name, onclick: handler }, label);
  }

  function renderActions(packet) {
    const conversation = packet.conversation;
    const id = conversation.id;
    const mine = isMine(conversation);
    const run = (path, body, done) => async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        await api("POST", `${conversationPath(id)}/${path}`, body);
        if (done) done();
        await loadPacket(id);
      } catch (error) {
        toast(error.message);
        button.disabled = false;
      }
    };
    const buttons = [];
    if (conversation.status === "waiting") {
      buttons.push(actionButton("Claim", run("claim"), { primary: true, name: "claim" }));
    }
    if (mine) {
      buttons.push(actionButton("Release to queue", run("release"), { name: "release" }));
      const others = [...state.users.values()].filter((user) => user.id !== state.me.id);
      const select = h(
        "select",
        { "aria-label": "Transfer to", id: "transfer-to" },
        others.map((user) => h("option", { value: String(user.id), text: user.name })),
      );
      buttons.push(
        h(
          "span",
          { class: "transfer" },
          select,
          actionButton(
            "Transfer",
            (event) =>
              select.value
                ? run("transfer", { to_user_id: Number(select.value) })(event)
                : toast("There is no other CME to transfer to."),
            { name: "transfer" },
          ),
        ),
      );
      buttons.push(actionButton("Hand back to bot", run("hand-back"), { name: "hand-back" }));
    }
    if (conversation.status !== "resolved" && (conversation.status !== "agent" || mine)) {
      const answered = packet.transcript.some((message) => message.role === "agent");
      const resolve = run("resolve");
      const confirmed = (event) => {
        // Nobody from the team replied: make sure, and the widget then asks for no rating.
        const sure = answered || window.confirm("Nobody has replied to this customer yet. Resolve anyway?");
        if (sure) resolve(event);
      };
      buttons.push(actionButton("Resolve", confirmed, { danger: true, name: "resolve" }));
    }
    buttons.push(
      actionButton(conversation.vip ? "Unmark VIP" : "Mark VIP", run("vip", { vip: !conversation.vip }), {
        name: "vip",
      }),
    );
    $("#actions").replaceChildren(...buttons);
  }

  // ------------------------------------------------------------ transcript

  function renderTranscript(packet) {
    state.thumbs = new Map((packet.feedback || []).map((mark) => [mark.seq, mark.helpful]));
    const list = $("#transcript");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const customer = customerName(packet.conversation.customer, packet.conversation.id);
    const trigger = packet.escalation ? packet.escalation.trigger_seq : null;
    list.replaceChildren(...packet.transcript.map((message) => turn(message, customer, trigger)));
    if (atBottom || !list.dataset.seen) list.scrollTop = list.scrollHeight;
    list.dataset.seen = "1";
  }

  function turn(message, customer, triggerSeq) {
    const who = {
      customer,
      bot: "Bot",
      agent: message.author_id ? userName(message.author_id) : "Support",
      note: `Internal note · ${userName(message.author_id)}`,
      system: "",
    }[message.role];
    const classes = ["turn", `role-${message.role}`];
    if (message.seq === triggerSeq) classes.push("trigger");
    return h(
      "li",
      { class: classes.join(" "), dataset: { seq: String(message.seq), role: message.role } },
      h(
        "div",
        { class: "turn-head" },
        who ? h("span", { class: "who", text: who }) : null,
        h("time", { datetime: message.created_at, text: timeOf(message.created_at) }),
        message.seq === triggerSeq ? badge("escalated here", "trigger") : null,
        message.role === "customer" && message.scores ? turnScores(message.scores) : null,
        message.role === "bot" && typeof message.confidence === "number"
          ? badge(`confidence ${fixed(message.confidence)}`, "confidence")
          : null,
        state.thumbs && state.thumbs.has(message.seq)
          ? state.thumbs.get(message.seq)
            ? badge("👍 helpful", "thumb up")
            : badge("👎 not helpful", "thumb down")
          : null,
      ),
      messageText(message),
      message.role === "bot" ? citations(message.citations) : null,
      message.role === "customer" && message.scores ? signalDetails(message) : null,
    );
  }

  // Bot, CME and note text is markdown, rendered as DOM (markdown.js); customer text stays plain.
  function messageText(message) {
    if (message.role === "customer" || message.role === "system" || typeof supportbotMarkdown === "undefined") {
      return h("p", { class: "text", text: message.text });
    }
    const base = (message.citations && message.citations[0] && safeUrl(message.citations[0].url)) || null;
    const body = h("div", { class: "text md" });
    body.append(supportbotMarkdown.render(message.text, base, { breaks: message.role !== "bot" }));
    return body;
  }

  function turnScores(scores) {
    const label = scores.label || "neutral";
    return h(
      "span",
      { class: "scores" },
      badge(`${label} ${fixed(scores.sentiment)}`, `sentiment ${label}`),
      frustrationMeter(scores.frustration || 0),
    );
  }

  function citations(list) {
    if (!list || !list.length) return null;
    return h(
      "ul",
      { class: "citations" },
      list.map((citation) =>
        h(
          "li",
          {},
          h("a", {
            href: citation.url,
            target: "_blank",
            rel: "noopener noreferrer",
            text: citation.title || citation.article_id || citation.url,
          }),
        ),
      ),
    );
  }

  function signalDetails(message) {
    const signals = (message.scores.signals || []).slice();
    signals.sort((a, b) => (b.contribution || 0) - (a.contribution || 0));
    const decision = message.decision;
    const details = h(
      "details",
      { class: "signals", open: state.openSignals.has(message.seq) },
      h("summary", { text: "Why this score" }),
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h("tr", {}, ["Signal", "Value", "Weight", "Adds", "Detail"].map((t) => h("th", { text: t }))),
        ),
        h(
          "tbody",
          {},
          signals.map((signal) =>
            h(
              "tr",
              { class: signal.contribution > 0 ? "active" : "" },
              h("td", { text: String(signal.name || "").replaceAll("_", " ") }),
              h("td", { text: fixed(signal.value) }),
              h("td", { text: fixed(signal.weight) }),
              h("td", { text: fixed(signal.contribution) }),
              h("td", { text: signal.detail || "" }),
            ),
          ),
        ),
      ),
      decision
        ? h(
            "p",
            { class: "decision" },
            `Bot decision: ${decision.action}`,
            (decision.reasons || []).length
              ? ` — ${decision.reasons.map((reason) => reason.detail || reason.code).join("; ")}`
              : "",
          )
        : null,
    );
    details.addEventListener("toggle", () => {
      if (details.open) state.openSignals.add(message.seq);
      else state.openSignals.delete(message.seq);
    });
    return details;
  }

  // ----------------------------------------------------------- side cards

  function renderSummary(packet) {
    const summary = packet.summary || {};
    $("#summary").replaceChildren(
      h("h3", { text: "Summary" }),
      h("p", { class: "label", text: "Main question" }),
      h("blockquote", { class: "main-question", text: summary.main_question || "—" }),
      h("p", { class: "label", text: "Latest message" }),
      h("blockquote", { class: "latest-message", text: summary.latest_message || "—" }),
    );
  }

  function renderReasons(packet) {
    const escalation = packet.escalation;
    const reasons = escalation ? escalation.reasons || [] : [];
    $("#reasons").replaceChildren(
      h("h3", { text: "Why it escalated" }),
      reasons.length
        ? h(
            "ul",
            { class: "reasons" },
            reasons.map((reason) =>
              h(
                "li",
                {},
                badge(String(reason.code || "").replaceAll("_", " "), "reason"),
                h("span", { text: reason.detail || "" }),
              ),
            ),
          )
        : h("p", { class: "muted", text: "Not escalated." }),
    );
  }

  function renderTrend(packet) {
    const points = (packet.frustration_trend || []).filter((p) => typeof p.frustration === "number");
    const trigger = packet.escalation ? packet.escalation.trigger_seq : null;
    $("#trend").replaceChildren(
      h("h3", { text: "Frustration trend" }),
      points.length ? trendChart(points, trigger) : h("p", { class: "muted", text: "No scored turns yet." }),
    );
  }

  function trendChart(points, triggerSeq) {
    const width = 320;
    const height = 150;
    const pad = { left: 30, right: 12, top: 12, bottom: 24 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const x = (i) => pad.left + (points.length === 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
    const y = (v) => pad.top + (1 - Math.min(1, Math.max(0, v))) * plotH;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      class: "trend-chart",
      role: "img",
      "aria-label": "Frustration of each customer turn",
    });
    for (const level of [0, 0.5, 1]) {
      chart.append(
        svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(level), y2: y(level) }),
        svg("text", { class: "axis", x: pad.left - 6, y: y(level) + 4, "text-anchor": "end", text: level }),
      );
    }
    chart.append(
      svg("line", {
        class: "threshold",
        x1: pad.left,
        x2: width - pad.right,
        y1: y(THRESHOLD),
        y2: y(THRESHOLD),
      }),
      svg("text", {
        class: "threshold-label",
        x: width - pad.right,
        y: y(THRESHOLD) - 4,
        "text-anchor": "end",
        text: `escalates at ${fixed(THRESHOLD)}`,
      }),
    );
    const triggerIndex = points.findIndex((p) => p.seq === triggerSeq);
    if (triggerIndex >= 0) {
      chart.append(
        svg("line", {
          class: "trigger",
          x1: x(triggerIndex),
          x2: x(triggerIndex),
          y1: pad.top,
          y2: pad.top + plotH,
        }),
      );
    }
    const coords = points.map((p, i) => `${x(i).toFixed(1)},${y(p.frustration).toFixed(1)}`);
    if (points.length > 1) {
      const base = y(0).toFixed(1);
      chart.append(
        svg("polygon", {
          class: "area",
          points: `${x(0).toFixed(1)},${base} ${coords.join(" ")} ${x(points.length - 1).toFixed(1)},${base}`,
        }),
        svg("polyline", { class: "line", points: coords.join(" ") }),
      );
    }
    const every = Math.ceil(points.length / 8);
    points.forEach((p, i) => {
      chart.append(
        svg(
          "circle",
          { class: p.frustration >= THRESHOLD ? "point hot" : "point", cx: x(i), cy: y(p.frustration), r: 4 },
          svg("title", { text: `message ${p.seq}: frustration ${fixed(p.frustration)}` }),
        ),
      );
      if (i % every === 0 || i === points.length - 1) {
        chart.append(
          svg("text", { class: "axis", x: x(i), y: height - 6, "text-anchor": "middle", text: `#${p.seq}` }),
        );
      }
    });
    return chart;
  }

  function renderRetrieved(packet) {
    const retrieved = packet.retrieved || [];
    const answers = new Map(
      packet.transcript.filter((m) => m.role === "bot").map((m) => [m.seq - 1, m]),
    );
    $("#retrieved").replaceChildren(
      h("h3", { text: "What the bot found and said" }),
      retrieved.length
        ? h(
            "ol",
            { class: "retrieved" },
            retrieved
              .slice()
              .reverse()
              .map((entry) => {
                const answer = answers.get(entry.seq);
                return h(
                  "li",
                  {},
                  h("p", { class: "query" }, h("span", { class: "label", text: `#${entry.seq} ` }), entry.query || ""),
                  h(
                    "ul",
                    { class: "hits" },
                    (entry.hits || []).map((hit) =>
                      h(
                        "li",
                        {},
                        h("a", {
                          href: hit.url,
                          target: "_blank",
                          rel: "noopener noreferrer",
                          text: hit.title || hit.article_id,
                        }),
                        hit.section ? h("span", { class: "section", text: ` › ${hit.section}` }) : null,
                        h("span", { class: "score", text: fixed(hit.score) }),
                      ),
                    ),
                  ),
                  answer
                    ? h("p", { class: "answer" }, h("span", { class: "label", text: "Bot answered: " }), answer.text)
                    : null,
                );
              }),
          )
        : h("p", { class: "muted", text: "The bot did not search the knowledge base." }),
    );
  }

  // -------------------------------------------------------------- composer

  function composer() {
    const text = h("textarea", {
      id: "reply-text",
      rows: 3,
      maxlength: 4000,
      placeholder: "Write to the customer, or an internal note…",
      "aria-label": "Message",
    });
    const send = (note) => async (event) => {
      event.preventDefault();
      const id = state.openId;
      const value = text.value.trim();
      if (!id || !value) return;
      try {
        await api("POST", `${conversationPath(id)}/messages`, { text: value, note });
        text.value = "";
        stopTyping(id, note); // a reply switches the indicator off by arriving; a note must say so
        await loadPacket(id);
      } catch (error) {
        toast(error.message);
      }
    };
    text.addEventListener("input", () => typing());
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        const button = state.noteMode ? $("#add-note") : $("#send-reply");
        if (!button.disabled) button.click();
      }
    });
    const mode = (note, label) =>
      h("button", { type: "button", class: "mode", id: note ? "mode-note" : "mode-reply",
        "aria-pressed": String(note === state.noteMode), onclick: () => setNoteMode(note) }, label);
    return h(
      "form",
      { class: `composer${state.noteMode ? " note-mode" : ""}`, id: "composer", onsubmit: send(false) },
      h("div", { class: "modes", role: "group", "aria-label": "Write" }, mode(false, "Reply"), mode(true, "Internal note")),
      text,
      h(
        "div",
        { class: "composer-actions" },
        h("span", { class: "hint", id: "composer-hint" }),
        h("button", { type: "button", class: "note-button", id: "add-note", onclick: send(true) }, "Add internal note"),
        h("button", { type: "submit", class: "primary", id: "send-reply" }, "Send reply"),
      ),
    );
  }

  function updateComposer(packet) {
    const mine = isMine(packet.conversation);
    $("#send-reply").disabled = !mine;
    $("#composer-hint").textContent = mine
      ? `Replies go to the customer on ${packet.conversation.channel}. Notes stay internal.`
      : "Claim the conversation to reply. Notes stay internal.";
  }

  // Writing a note never shows the customer "typing"; switching to a note switches it off.
  function setNoteMode(note) {
    state.noteMode = note;
    $("#composer").classList.toggle("note-mode", note);
    $("#mode-note").setAttribute("aria-pressed", String(note));
    $("#mode-reply").setAttribute("aria-pressed", String(!note));
    $("#reply-text").placeholder = note ? "Internal note: only CMEs see it…" : "Write to the customer…";
    if (note && state.openId) stopTyping(state.openId, true);
    $("#reply-text").focus();
  }

  function typing() {
    const id = state.openId;
    if (!id || state.noteMode || !state.packet || !isMine(state.packet.conversation)) return;
    if (!state.typingOn) {
      state.typingOn = true;
      api("POST", `${conversationPath(id)}/typing`, { on: true }).catch(() => {});
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => stopTyping(id, true), 4000);
  }

  function stopTyping(id, tell) {
    clearTimeout(state.typingTimer);
    if (state.typingOn && tell) {
      api("POST", `${conversationPath(id)}/typing`, { on: false }).catch(() => {});
    }
    state.typingOn = false;
  }

  // -------------------------------------------------------- canned replies

  function cannedPanel() {
    const search = h("input", {
      type: "search",
      id: "canned-search",
      placeholder: "Search article titles…",
      "aria-label": "Search knowledge-base articles",
      autocomplete: "off",
    });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => searchArticles(search.value), 200);
    });
    return h(
      "section",
      { class: "card canned", id: "canned" },
      h("h3", { text: "Canned replies" }),
      h("p", { class: "label", text: "Suggested for this conversation" }),
      h("ul", { class: "articles", id: "suggestions" }),
      search,
      h("ul", { class: "articles", id: "article-results" }),
    );
  }

  async function loadSuggestions(id) {
    try {
      const data = await api("GET", `${conversationPath(id)}/suggestions`);
      if (state.openId !== id) return;
      const list = $("#suggestions");
      list.replaceChildren(...data.articles.map((article) => articleItem(article)));
      if (!data.articles.length) list.append(h("li", { class: "muted", text: "No suggestions." }));
    } catch (error) {
      toast(error.message);
    }
  }

  async function searchArticles(query) {
    const list = $("#article-results");
    if (!query.trim()) {
      list.replaceChildren();
      return;
    }
    try {
      const data = await api("GET", `/api/cme/articles?q=${encodeURIComponent(query)}`);
      list.replaceChildren(...data.articles.map((article) => articleItem(article)));
      if (!data.articles.length) list.append(h("li", { class: "muted", text: "No article titles match." }));
    } catch (error) {
      toast(error.message);
    }
  }

  function articleItem(article) {
    return h(
      "li",
      { class: "article" },
      h(
        "div",
        { class: "line" },
        h("a", { href: article.url, target: "_blank", rel: "noopener noreferrer", text: article.title }),
        typeof article.score === "number" ? h("span", { class: "score", text: fixed(article.score) }) : null,
        h(
          "button",
          { type: "button", class: "insert", onclick: () => insertArticle(article) },
          "Insert",
        ),
      ),
      h("p", { class: "passage", text: article.passage || "" }),
    );
  }

  function insertArticle(article) {
    // The section that answers, as markdown with a link the customer can click on any channel.
    const label = article.section ? `${article.title} › ${article.section}` : article.title;
    const safeLabel = label.replace(/[[\]]/g, "");
    insertText(`${(article.passage || "").trim()}\n\n[${safeLabel}](${article.url})`.trim());
  }

  function insertText(snippet) {
    const text = $("#reply-text");
    const start = text.selectionStart ?? text.value.length;
    const end = text.selectionEnd ?? text.value.length;
    const before = text.value.slice(0, start);
    const glue = before && !before.endsWith("\n") ? "\n\n" : "";
    text.value = before + glue + snippet + text.value.slice(end);
    text.focus();
    const caret = (before + glue + snippet).length;
    text.setSelectionRange(caret, caret);
  }

  // ------------------------------------------------------------------ start

  // What the console's other files (canned.js) may use.
  function setTeam(team) {
    state.team = team || "";
    renderQueue(state.queueRows);
  }

  window.supportbotConsole = Object.freeze({ api, h, toast, insertText, setTeam, me: () => state.me });

  async function start() {
    try {
      const [me, users] = await Promise.all([api("GET", "/api/cme/me"), api("GET", "/api/cme/users")]);
      state.me = me;
      state.users = new Map(users.users.map((user) => [user.id, user]));
      $("#me").textContent = me.name;
    } catch (error) {
      toast(error.message);
      return;
    }
    window.addEventListener("popstate", route);
    document.addEventListener("visibilitychange", () => state.packet && markRead(state.packet));
    setInterval(tick, 1000);
    connect();
    route();
  }

  start();
})();
