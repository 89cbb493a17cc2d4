/*! supportbot web widget. Embed with:
 *   <script src="https://support.example.com/widget.js" defer data-title="Acme support"></script>
 * Optional data-*: greeting, open ("true"), customer-id, customer-name, customer-email,
 * customer-company, customer-vip ("true"), customer-expires (unix seconds), customer-signature
 * (see the README's "Verified identity").
 * Builds every node with DOM APIs: untrusted text never goes through innerHTML.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || window.supportbotWidget) return;

  const data = script.dataset;
  const SERVER = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  // Look and words: the server's settings and the browser's language (supportbotConfig, served
  // with this file), overridden by the script tag's data-* attributes.
  const CONFIG = typeof supportbotConfig === "object" ? supportbotConfig : { labels: {} };
  const L = CONFIG.labels;
  const say = (key, values) => String(L[key] || key).replace(/\{(\w+)\}/g, (_, name) => String((values || {})[name]));
  const TITLE = data.title || "Support";
  const BOT_NAME = data.botName || CONFIG.botName || "Assistant";
  const GREETING = data.greeting || CONFIG.greeting || say("greeting", { name: BOT_NAME });
  const AVATAR = data.avatar || CONFIG.avatar || "";
  const ACCENT = /^#[0-9a-f]{6}$/i.test(data.accent || "") ? data.accent : CONFIG.accent;
  const NAMES = { customer: say("you"), bot: BOT_NAME, agent: say("agent") };
  const STATUS = {
    bot: say("status_bot"), waiting: say("status_waiting"), agent: say("status_agent"),
    resolved: say("status_resolved"),
  };
  const ICONS = {
    chat: "M4 4h16v12H9l-5 4z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M3 20l18-8L3 4v6l12 2-12 2z",
    clip: "M16.5 6.5l-8 8a2 2 0 0 0 2.8 2.8l8.5-8.5a4 4 0 0 0-5.7-5.7L5.6 11.6a6 6 0 0 0 8.5 8.5l6.4-6.4",
    thumb: "M7 10v11H3V10zm2 11h8.5a2 2 0 0 0 2-1.7l1.3-7A2 2 0 0 0 18.8 10H14V5.5A2.5 2.5 0 0 0 11.5 3L9 10z",
    star: "M12 2.5l2.9 6.2 6.6.7-5 4.5 1.4 6.6L12 17.2l-5.9 3.3 1.4-6.6-5-4.5 6.6-.7z",
  };
  const RATINGS = say("ratings").split("|");
  const LOW_REASONS = [["not_answered", "My question wasn't answered"],
    ["wrong_answer", "The answer was wrong"], ["too_slow", "It took too long"],
    ["hard_to_reach_human", "Hard to reach a person"], ["rude_or_unhelpful", "Unhelpful"],
    ["other", "Something else"]];

  let identity = null;
  if (data.customerId) {
    identity = { id: data.customerId, vip: /^(true|1|yes)$/i.test(data.customerVip || "") };
    for (const [field, value] of [["name", data.customerName], ["email", data.customerEmail],
      ["company", data.customerCompany], ["signature", data.customerSignature]]) {
      if (value) identity[field] = value;
    }
    if (/^\d+$/.test(data.customerExpires || "")) identity.expires = Number(data.customerExpires);
  }

  // One saved conversation per server and signed-in customer: a shared computer never shows
  // one customer's chat to the next.
  const KEY = "supportbot:" + SERVER + (identity ? ":" + identity.id : "");
  const saved = load();
  const st = {
    id: saved.id || null, token: saved.token || null, feedback: saved.feedback || {},
    csat: !!saved.csat, nps: saved.nps || null, handedOver: !!saved.handedOver, lowRating: 0, open: !!saved.open, messages: new Map(), outbox: new Map(),
    streamSeq: 0, status: "bot", ws: null, wsFails: 0, everLive: false, downSince: 0,
    lastFrame: 0, reconnect: 0, poll: 0, typing: {}, typingTimers: {}, unread: 0, creating: null,
  };

  // ---- DOM helpers ------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const name in attrs || {}) {
      const value = attrs[name];
      if (value == null || value === false) continue;
      if (typeof value === "function") el.addEventListener(name, value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child != null) el.append(child);
    return el;
  }
  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon icon-" + name);
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }
  function link(href, label) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, label);
  }

  // Safe markdown (bot/static/markdown.js, served in the same block scope as this file).
  const { render: markdown, safeHref } = supportbotMarkdown;

  // ---- The widget's DOM, in a shadow root ---------------------------------------------------
  const host = h("supportbot-widget", { id: "supportbot-widget" });
  const root = host.attachShadow({ mode: "open" });
  const wrap = h("div", { class: "wrap", hidden: true });
  const styles = h("link", { rel: "stylesheet", href: SERVER + "/widget.css" });
  const show = () => { wrap.hidden = false; };
  styles.addEventListener("load", show);
  styles.addEventListener("error", show);

  const badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  const launcher = h("button", {
    type: "button", class: "launcher", "aria-controls": "sb-panel", "aria-expanded": "false",
    "aria-label": say("open"), click: () => setOpen(!st.open),
  }, icon("chat"), badge);
  const statusLine = h("p", { class: "status", id: "sb-status" });
  const notice = h("p", { class: "notice", role: "status", "aria-live": "polite" });
  const log = h("div", {
    class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": say("log"), tabindex: "0",
  }, h("div", { class: "msg bot greeting" }, h("div", { class: "who" }, NAMES.bot),
    h("div", { class: "body" }, GREETING)));
  const typingText = h("span", null);
  const typing = h("div", { class: "typing", role: "status", hidden: true },
    h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), typingText);
  const csat = h("div", { class: "csat", hidden: true });
  // Waiting for a person: the real wait (from the server), a way back to the assistant, and an
  // email address for a follow-up once the wait is long or the team is away.
  const waitLine = h("p", { class: "wait-text", role: "status" });
  const withdrawButton = h("button", { type: "button", class: "withdraw", click: withdraw }, say("withdraw"));
  const emailInput = h("input", { type: "email", id: "sb-email", maxlength: "254", autocomplete: "email", required: true });
  const emailNote = h("p", { class: "email-note", "aria-live": "polite" });
  const emailForm = h("form", { class: "email", hidden: true, submit: leaveEmail },
    h("label", { for: "sb-email" }, say("email_ask")),
    h("div", { class: "email-row" }, emailInput, h("button", { type: "submit" }, say("email_save"))));
  const waitBox = h("div", { class: "waiting", hidden: true }, waitLine, emailForm, emailNote, withdrawButton);
  // Once resolved, with SMTP configured on the server: the transcript by email.
  const transcriptEmail = h("input", { type: "email", id: "sb-transcript-email", maxlength: "254",
    autocomplete: "email", placeholder: say("email_label") });
  const transcriptNote = h("p", { class: "email-note", "aria-live": "polite" });
  const transcriptForm = h("form", { class: "email transcript", hidden: true, submit: sendTranscript },
    h("label", { for: "sb-transcript-email" }, say("transcript")),
    h("div", { class: "email-row" }, transcriptEmail, h("button", { type: "submit" }, say("email_save"))),
    transcriptNote);
  const handoff = h("button", { type: "button", class: "handoff", click: talkToPerson },
    say("talk"));
  const input = h("textarea", {
    id: "sb-input", rows: "1", maxlength: "4000", placeholder: say("placeholder"),
    "aria-describedby": "sb-status", keydown: (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    },
  });
  // A file goes as its own message (POST .../attachments); the server sniffs and limits it.
  const fileInput = h("input", { type: "file", id: "sb-file", class: "sr", tabindex: "-1",
    accept: "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain", change: onFile });
  const attachButton = h("button", { type: "button", class: "attach", "aria-label": say("attach"),
    title: say("attach"), click: () => fileInput.click() }, icon("clip"));
  const form = h("form", { class: "composer", submit: onSubmit },
    h("label", { for: "sb-input", class: "sr" }, say("message_to") + " " + TITLE), input,
    fileInput, attachButton,
    h("button", { type: "submit", class: "send", "aria-label": say("send") }, icon("send")));
  const panel = h("section", {
    id: "sb-panel", class: "panel", role: "dialog", "aria-labelledby": "sb-title", hidden: true,
    keydown: (event) => { if (event.key === "Escape") { setOpen(false); launcher.focus(); } },
  },
  h("header", null,
    avatarEl(),
    h("div", { class: "titles" }, h("h2", { id: "sb-title" }, TITLE), statusLine),
    h("button", { type: "button", class: "close", "aria-label": say("close"),
      click: () => { setOpen(false); launcher.focus(); } }, icon("close"))),
  log, typing, notice, waitBox, csat, transcriptForm,
  h("div", { class: "actions" }, handoff), form);
  wrap.append(panel, launcher);
  root.append(styles, wrap);

  function avatarEl() {
    const src = AVATAR && safeHref(AVATAR);
    return src && /^https?:/.test(src) ? h("img", { class: "avatar", src, alt: "", width: "36", height: "36" }) : null;
  }
  // The accent colour through a constructed stylesheet: no inline style, so a strict CSP holds.
  if (/^#[0-9a-f]{6}$/i.test(ACCENT || "") && "adoptedStyleSheets" in root) {
    const dark = "#" + [1, 3, 5].map((i) => Math.round(parseInt(ACCENT.slice(i, i + 2), 16) * 0.82)
      .toString(16).padStart(2, "0")).join("");
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(`.wrap { --accent: ${ACCENT}; --accent-dark: ${dark}; }`);
    root.adoptedStyleSheets = [sheet];
  }

  // ---- Messages ----------------------------------------------------------------------------
  function messageEl(message) {
    const el = h("div", { class: "msg " + message.role, "data-seq": message.seq, "data-role": message.role });
    const when = new Date(message.created_at);
    if (!isNaN(when)) el.setAttribute("title", when.toLocaleString());
    if (message.role === "customer") el.append(h("span", { class: "sr" }, NAMES.customer + ": "));
    else if (Object.hasOwn(NAMES, message.role)) {
      const who = message.role === "agent" && message.author ? message.author : NAMES[message.role];
      el.append(h("div", { class: "who" }, who));
    }
    const body = h("div", { class: "body" });
    const citations = Array.isArray(message.citations) ? message.citations : [];
    if (message.role === "bot") {
      body.append(markdown(message.text, citations[0] && safeHref(citations[0].url)));
      const cited = citations.map((c) => safeHref(c.url)).filter(Boolean);
      const links = [...body.querySelectorAll("a")];
      for (const a of links) if (cited.includes(a.href)) a.classList.add("citation");
      for (const c of citations) {
        const href = safeHref(c.url);
        if (href && !links.some((a) => a.href === href)) {
          const label = c.section ? c.title + " › " + c.section : c.title;
          const a = link(href, label);
          a.classList.add("citation");
          body.append(h("p", { class: "source" }, say("source"), a));
        }
      }
    } else if (message.role === "agent") {
      body.append(markdown(message.text, null, { breaks: true })); // a canned reply's links work
    } else {
      body.textContent = message.text; // customer and system text is always plain text
    }
    const files = Array.isArray(message.attachments) ? message.attachments : [];
    if (files.length) body.replaceChildren(...files.map(attachmentEl));
    el.append(body);
    if (message.role === "bot" && citations.length) el.append(feedbackEl(message.seq));
    return el;
  }
  // Files are fetched with the conversation's token (never put in a URL): raster images shown
  // from a data: URL (allowed by the host page's CSP), anything else saved as a download.
  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  async function fetchFile(file) {
    if (!/^\/api\/conversations\/[\w-]+\/attachments\/[0-9a-f]+$/.test(String(file.url))) throw new Error("bad url");
    const response = await fetch(SERVER + file.url, {
      headers: { Authorization: "Bearer " + st.token }, credentials: "omit" });
    if (!response.ok) throw new Error(String(response.status));
    return response.blob();
  }
  function attachmentEl(file) {
    const name = String(file.name || "attachment");
    const size = Number(file.size) >= 1048576 ? (file.size / 1048576).toFixed(1) + " MB"
      : Math.max(1, Math.round(Number(file.size) / 1024)) + " KB";
    if (IMAGE_TYPES.includes(file.content_type)) {
      const img = h("img", { class: "attachment-image", alt: name });
      const figure = h("figure", { class: "attachment" }, img, h("figcaption", null, name));
      fetchFile(file).then((blob) => new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = reject;
        reader.readAsDataURL(blob);
      })).then((url) => {
        if (!/^data:image\/(png|jpeg|gif|webp);base64,/.test(url)) return;
        // The picture grows the log after it was scrolled: keep a reader at the bottom there.
        const stick = nearBottom();
        img.addEventListener("load", () => { if (stick) scrollDown(); }, { once: true });
        img.src = url;
      })
        .catch(() => { figure.replaceChildren(h("span", null, say("attachment_failed", { name }))); });
      return figure;
    }
    const button = h("button", { type: "button", class: "attachment file" }, name + " (" + size + ")");
    button.addEventListener("click", async () => {
      try {
        const url = URL.createObjectURL(await fetchFile(file));
        const a = h("a", { href: url, download: name });
        root.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (_) { notify(say("attachment_failed", { name }), "error"); }
    });
    return button;
  }
  async function onFile() {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    notify(say("sending"));
    try {
      await ensureConversation();
      const body = new FormData();
      body.append("file", file, file.name);
      const response = await fetch(SERVER + conversationPath("attachments"), {
        method: "POST", headers: { Authorization: "Bearer " + st.token }, credentials: "omit", body });
      let json = {};
      try { json = await response.json(); } catch (_) { /* not JSON */ }
      if (!response.ok) return notify(String(json.detail || say("not_sent")), "error");
      notify("");
      receive(json, false);
    } catch (error) {
      notify(error instanceof WidgetError ? error.message : unreachable().message, "error");
    }
  }
  function feedbackEl(seq) {
    const row = h("div", { class: "feedback", role: "group", "aria-label": say("helpful_group") },
      h("span", { class: "question", "aria-hidden": "true" }, say("helpful_q")));
    for (const helpful of [true, false]) {
      row.append(h("button", {
        type: "button", class: "thumb " + (helpful ? "up" : "down"), "data-helpful": String(helpful),
        "aria-label": say(helpful ? "helpful" : "not_helpful"), click: () => sendFeedback(seq, helpful, row),
      }, icon("thumb")));
    }
    row.append(h("span", { class: "thanks", "aria-live": "polite" }));
    showFeedback(row, st.feedback[seq]);
    return row;
  }
  function showFeedback(row, given) {
    // aria-disabled rather than disabled: the pressed button keeps the keyboard focus
    for (const button of row.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(String(given) === button.getAttribute("data-helpful")));
      button.setAttribute("aria-disabled", String(given !== undefined));
    }
    row.lastChild.textContent = given === undefined ? ""
      : say(given ? "thanks" : "sorry");
  }
  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function receive(message, inOrder) {
    if (!message || typeof message.seq !== "number") return;
    if (inOrder && message.seq > st.streamSeq) st.streamSeq = message.seq;
    if (st.messages.has(message.seq)) return;
    const stick = nearBottom();
    st.messages.set(message.seq, message);
    const pending = message.client_msg_id && st.outbox.get(message.client_msg_id);
    if (pending) {
      pending.delivered = true;
      pending.el.remove();
      st.outbox.delete(message.client_msg_id);
      save();
    }
    let next = null;
    for (const child of log.children) {
      const seq = child.getAttribute("data-seq");
      if (child.classList.contains("pending") || (seq !== null && Number(seq) > message.seq)) {
        next = child;
        break;
      }
    }
    log.insertBefore(messageEl(message), next);
    if (message.role === "bot" || message.role === "agent") setTyping(message.role, false);
    if (message.role !== "customer" && !st.open && st.countUnread) {
      st.unread++;
      badge.textContent = String(st.unread);
      badge.hidden = false;
    }
    if (stick || message.role === "customer") scrollDown();
  }
  function showPending(entry) {
    entry.note = h("span", { class: "note" });
    entry.el = h("div", { class: "msg customer pending", "data-client-id": entry.id },
      h("span", { class: "sr" }, NAMES.customer + ": "), h("div", { class: "body" }, entry.text),
      entry.note);
    log.append(entry.el);
    scrollDown();
  }
  function setPendingNote(entry, text, retry) {
    entry.note.replaceChildren(text);
    entry.el.classList.toggle("failed", !!retry);
    if (retry) {
      entry.note.append(" ", h("button", { type: "button", class: "retry",
        click: () => deliver(entry) }, say("retry")));
    }
  }

  // ---- State that the UI shows ----------------------------------------------------------------
  function setStatus(status) {
    if (!Object.hasOwn(STATUS, status)) return;
    st.status = status;
    statusLine.textContent = STATUS[status];
    panel.setAttribute("data-status", status);
    handoff.hidden = status === "waiting" || status === "agent";
    if (handoff.hidden && !st.handedOver) {
      st.handedOver = true; // from now on, only a person's reply earns a rating
      save();
    }
    if (status !== "bot") setTyping("bot", false);
    if (status !== "resolved" && (st.csat || st.nps)) {
      st.csat = false; // reopened: every resolution is rated on its own
      st.nps = null;
      save();
    }
    renderCsat();
    followWait();
    transcriptForm.hidden = !(CONFIG.mail && status === "resolved" && st.id);
  }

  // ---- Waiting for a person ---------------------------------------------------------------
  function durationText(seconds) {
    const minutes = Math.max(1, Math.round(seconds / 60));
    return minutes === 1 ? say("minute") : say("minutes", { n: minutes });
  }
  function followWait() {
    const waiting = st.status === "waiting" && !!st.id;
    waitBox.hidden = !waiting;
    clearInterval(st.waitTimer);
    st.waitTimer = 0;
    if (!waiting) return;
    loadWait();
    st.waitTimer = setInterval(() => {
      if (Date.now() - (st.waitAt || 0) > 30000) loadWait();
      else renderWait();
    }, 5000);
  }
  async function loadWait() {
    try {
      const response = await api("GET", conversationPath("wait"));
      if (!response.ok) return;
      st.wait = response.data;
      st.waitAt = Date.now();
      renderWait();
    } catch (_) { /* offline: keep the last known wait */ }
  }
  function renderWait() {
    const wait = st.wait;
    if (!wait || wait.status !== "waiting") return;
    const waited = wait.waited_s + (Date.now() - st.waitAt) / 1000;
    let text;
    if (!wait.team_on_duty && wait.opens_at) {
      const opens = new Date(wait.opens_at);
      text = say("wait_closed", { when: opens.toLocaleString([], { weekday: "long", hour: "2-digit", minute: "2-digit" }) });
    } else if (waited > wait.sla_s) {
      text = say("wait_late", { waited: durationText(waited) });
    } else {
      text = say("wait_sla", { wait: durationText(wait.sla_s) });
      if (wait.position) text += " " + say("wait_position", { position: wait.position });
    }
    waitLine.textContent = text;
    const ask = !wait.email_known && !st.emailLeft && (waited > wait.sla_s || !wait.team_on_duty);
    emailForm.hidden = !ask;
  }
  async function sendTranscript(event) {
    event.preventDefault();
    const email = transcriptEmail.value.trim();
    try {
      const response = await api("POST", conversationPath("transcript"), email ? { email } : {});
      if (response.status === 422) return (transcriptNote.textContent = say("email_bad"));
      if (!response.ok && response.status !== 409) throw unreachable();
      transcriptNote.textContent = say("transcript_sent");
      transcriptForm.querySelector("button").disabled = true;
    } catch (_) {
      notify(say("unreachable"), "error");
    }
  }
  async function withdraw() {
    withdrawButton.disabled = true;
    try {
      const response = await api("DELETE", conversationPath("handoff"));
      if (!response.ok) throw unreachable();
      setStatus(response.data.status);
      input.focus();
    } catch (_) {
      notify(say("unreachable"), "error");
    } finally {
      withdrawButton.disabled = false;
    }
  }
  async function leaveEmail(event) {
    event.preventDefault();
    const email = emailInput.value.trim();
    if (!email) return;
    try {
      const response = await api("POST", conversationPath("email"), { email });
      if (response.status === 422) return (emailNote.textContent = say("email_bad"));
      if (!response.ok) throw unreachable();
      st.emailLeft = true;
      emailForm.hidden = true;
      emailNote.textContent = say("email_saved", { email: response.data.email });
    } catch (_) {
      notify(say("unreachable"), "error");
    }
  }
  function setTyping(who, on) {
    if (who !== "bot" && who !== "agent") return;
    clearTimeout(st.typingTimers[who]);
    if (on) {
      st.typing[who] = true;
      st.typingTimers[who] = setTimeout(() => setTyping(who, false), 20000);
    } else {
      delete st.typing[who];
    }
    const shown = st.typing.agent ? "agent" : st.typing.bot ? "bot" : null;
    typing.hidden = !shown;
    typingText.textContent = say("typing", { name: NAMES[shown] || NAMES.bot });
    if (shown && nearBottom()) scrollDown();
  }
  function notify(text, kind) {
    notice.textContent = text || "";
    notice.className = "notice" + (text ? " shown " + (kind || "") : "");
  }
  function setOpen(open) {
    st.open = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", say(open ? "close_chat" : "open"));
    wrap.classList.toggle("open", open);
    if (open) {
      st.unread = 0;
      badge.hidden = true;
      scrollDown();
      input.focus();
      connect();
    }
    save();
  }
  function renderCsat() {
    // A conversation is rated when someone answered it: the bot, while no person was asked
    // for, or a person. One handed to a person that nobody replied to asks nothing.
    const roles = new Set([...st.messages.values()].map((message) => message.role));
    const answered = roles.has("agent") || (roles.has("bot") && !st.handedOver);
    const show = st.status === "resolved" && !!st.id && answered;
    const appearing = show && csat.hidden;
    csat.hidden = !show;
    if (!show) return;
    if (appearing) requestAnimationFrame(scrollDown); // the log just got shorter
    if (st.csat) {
      csat.replaceChildren(h("p", { class: "thanks" }, say("rated")));
      renderNps();
      return;
    }
    const comment = h("textarea", { id: "sb-csat-comment", rows: "2", maxlength: "2000" });
    if (st.lowRating) return renderLowRating(comment);
    const stars = h("div", { class: "stars", role: "group", "aria-labelledby": "sb-csat-q" });
    RATINGS.forEach((label, index) => {
      const rating = index + 1;
      const hover = () => stars.setAttribute("data-hover", String(rating));
      const rate = () => {
        if (rating > 2) return sendCsat(rating, comment.value.trim());
        st.lowRating = rating; // ask why before sending (optional)
        renderCsat();
      };
      stars.append(h("button", {
        type: "button", class: "star", "aria-label": say("rating", { n: rating, label }),
        mouseenter: hover, focus: hover, click: rate,
      }, icon("star")));
    });
    stars.addEventListener("mouseleave", () => stars.removeAttribute("data-hover"));
    csat.replaceChildren(
      h("p", { class: "question", id: "sb-csat-q" }, say("rate_q")),
      stars,
      h("label", { for: "sb-csat-comment" }, say("rate_comment")),
      comment,
    );
  }

  function renderLowRating(comment) {
    const choices = h("div", { class: "reasons", role: "radiogroup", "aria-labelledby": "sb-why-q" });
    for (const [value, label] of LOW_REASONS) {
      const id = "sb-why-" + value;
      choices.append(h("label", { for: id, class: "reason" },
        h("input", { type: "radio", name: "sb-why", id, value }), " " + label));
    }
    const send = () => {
      const chosen = choices.querySelector("input:checked");
      sendCsat(st.lowRating, comment.value.trim(), chosen ? chosen.value : null);
    };
    csat.replaceChildren(
      h("p", { class: "question", id: "sb-why-q" }, "Sorry about that. What went wrong? (optional)"),
      choices,
      h("label", { for: "sb-csat-comment" }, "Anything to add? (optional)"),
      comment,
      h("button", { type: "button", class: "send-rating", click: send }, "Send rating"),
    );
  }
  async function renderNps() {
    if (st.nps === "answered" || st.nps === "not-asked" || !st.id) {
      if (st.nps === "answered") csat.append(h("p", { class: "thanks" }, "Thanks for your answer!"));
      return;
    }
    if (st.nps !== "asked") {
      try {
        const response = await api("GET", conversationPath("nps"));
        if (!response.ok) return;
        st.nps = response.data.answered ? "answered" : response.data.asked ? "asked" : "not-asked";
        save();
      } catch (_) { return; }
      if (st.nps !== "asked") return;
    }
    const comment = h("textarea", { id: "sb-nps-comment", rows: "2", maxlength: "2000" });
    const scale = h("div", { class: "nps-scale", role: "group", "aria-labelledby": "sb-nps-q" });
    for (let score = 0; score <= 10; score++) {
      scale.append(h("button", {
        type: "button", class: "nps-score", "aria-label": `${score} of 10`,
        click: () => sendNps(score, comment.value.trim()),
      }, String(score)));
    }
    csat.append(h("div", { class: "nps" },
      h("p", { class: "question", id: "sb-nps-q" },
        "How likely are you to recommend us to a friend or colleague?"),
      h("div", { class: "nps-ends", "aria-hidden": "true" },
        h("span", null, "Not likely"), h("span", null, "Very likely")),
      scale,
      h("label", { for: "sb-nps-comment" }, "Why? (optional, send it with your score)"),
      comment));
  }

  // ---- Talking to the server ----------------------------------------------------------------
  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (_) { return {}; }
  }
  function save() {
    try {
      localStorage.setItem(KEY, JSON.stringify({
        id: st.id, token: st.token, feedback: st.feedback, csat: st.csat, nps: st.nps, open: st.open,
        handedOver: st.handedOver,
        outbox: [...st.outbox.values()].map((entry) => ({ id: entry.id, text: entry.text })),
      }));
    } catch (_) { /* storage blocked: the conversation lasts as long as the page */ }
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (st.token && path !== "/api/conversations") headers.Authorization = "Bearer " + st.token;
    const response = await fetch(SERVER + path, {
      method, headers, credentials: "omit", body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try { json = await response.json(); } catch (_) { /* not JSON */ }
    const retryAfter = Number(response.headers.get("Retry-After")) || (json && json.retry_after) || 0;
    return { ok: response.ok, status: response.status, data: json || {}, retryAfter };
  }
  const conversationPath = (what) => `/api/conversations/${encodeURIComponent(st.id)}/${what}`;
  function waitText(seconds) {
    return seconds >= 90 ? `${Math.ceil(seconds / 60)} minutes` : `${Math.max(1, seconds)} seconds`;
  }
  class WidgetError extends Error {}
  function unreachable() {
    return new WidgetError(say("unreachable"));
  }
  function ensureConversation() {
    if (st.id) return Promise.resolve();
    st.creating = st.creating || (async () => {
      try {
        const visitor = visitorId();
        const anonymous = visitor ? { visitor_id: visitor } : {};
        let response = await api("POST", "/api/conversations",
          identity ? { customer: identity, ...anonymous } : anonymous);
        if (response.status === 403 && identity) {
          console.warn("supportbot: customer identity refused (" + response.data.detail + "); continuing anonymously");
          identity = null;
          response = await api("POST", "/api/conversations", anonymous);
        }
        if (response.status === 429) {
          throw new WidgetError("We're getting a lot of new chats from your network right now. " +
            `Please try again in ${waitText(response.retryAfter)}.`);
        }
        if (!response.ok) throw unreachable();
        st.id = response.data.id;
        st.token = response.data.token;
        st.streamSeq = 0;
        save();
        setStatus(response.data.status);
        connect();
      } catch (error) {
        throw error instanceof WidgetError ? error : unreachable();
      } finally {
        st.creating = null;
      }
    })();
    return st.creating;
  }
  function onSubmit(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const entry = { id: uuid(), text };
    st.outbox.set(entry.id, entry);
    save();
    showPending(entry);
    deliver(entry);
  }
  async function deliver(entry) {
    setPendingNote(entry, say("sending"));
    notify("");
    try {
      await ensureConversation();
    } catch (error) {
      setPendingNote(entry, say("not_sent"), true);
      return notify(error.message, "error");
    }
    if (st.status === "bot") setTyping("bot", true);
    for (let attempt = 0; !entry.delivered; attempt++) {
      let response = null;
      try {
        response = await api("POST", conversationPath("messages"), { text: entry.text, client_msg_id: entry.id });
      } catch (_) { /* offline: retry below with the same client_msg_id */ }
      if (response && response.ok) {
        receive(response.data.message, false);
        if (response.data.reply) receive(response.data.reply, false);
        setStatus(response.data.status);
        setTyping("bot", false);
        return;
      }
      if (response && response.status === 429) {
        setTyping("bot", false);
        setPendingNote(entry, say("not_sent"), true);
        return notify("You're sending messages faster than we can answer. " +
          `Please wait ${waitText(response.retryAfter)}, then press Retry.`, "limited");
      }
      if (response && (response.status === 403 || response.status === 404)) {
        forgetConversation();
        setTyping("bot", false);
        setPendingNote(entry, say("not_sent"), true);
        return notify(say("ended"), "error");
      }
      if (response && response.status >= 400 && response.status < 500) {
        setTyping("bot", false);
        setPendingNote(entry, say("not_sent"), true);
        return notify(String(response.data.detail || "That message could not be sent."), "error");
      }
      if (attempt >= 4) {
        setTyping("bot", false);
        setPendingNote(entry, say("not_sent"), true);
        return notify(unreachable().message, "error");
      }
      await sleep(400 * 2 ** attempt);
    }
  }
  async function sendFeedback(seq, helpful, row) {
    if (st.feedback[seq] !== undefined || row.getAttribute("aria-busy") === "true") return;
    row.setAttribute("aria-busy", "true");
    try {
      const response = await api("POST", conversationPath("feedback"), { seq, helpful });
      if (!response.ok && response.status !== 409) throw unreachable();
      st.feedback[seq] = helpful;
      save();
      showFeedback(row, helpful);
    } catch (_) {
      notify(unreachable().message, "error");
    } finally {
      row.removeAttribute("aria-busy");
    }
  }
  async function talkToPerson() {
    handoff.disabled = true;
    notify("");
    try {
      await ensureConversation();
      const response = await api("POST", conversationPath("handoff"));
      if (!response.ok) throw unreachable();
      if (response.data.reply) receive(response.data.reply, false);
      setStatus(response.data.status);
    } catch (error) {
      notify(error instanceof WidgetError ? error.message : unreachable().message, "error");
    } finally {
      handoff.disabled = false;
      // The button hides once a person is asked for: keep the keyboard in the panel.
      if (st.open && !panel.contains(root.activeElement)) (handoff.hidden ? input : handoff).focus();
    }
  }
  async function sendCsat(rating, comment, reason) {
    try {
      const body = { rating };
      if (comment) body.comment = comment;
      if (reason) body.reason = reason;
      const response = await api("POST", conversationPath("csat"), body);
      if (!response.ok && response.status !== 409) throw unreachable();
      st.csat = true;
      st.lowRating = 0;
      save();
      renderCsat();
    } catch (_) {
      notify(unreachable().message, "error");
    }
  }
  async function sendNps(score, comment) {
    try {
      const body = comment ? { score, comment } : { score };
      const response = await api("POST", conversationPath("nps"), body);
      if (!response.ok && response.status !== 409) throw unreachable();
      st.nps = "answered";
      save();
      renderCsat();
    } catch (_) {
      notify(unreachable().message, "error");
    }
  }
  // One random id per browser for visitors who are not signed in: their conversations belong
  // to one customer record. reset() forgets it (a shared computer's next visitor is new).
  const VISITOR_KEY = "supportbot-visitor:" + SERVER; // not "supportbot:": that prefix is conversations
  function visitorId() {
    try {
      let visitor = localStorage.getItem(VISITOR_KEY);
      if (!/^[A-Za-z0-9_-]{16,64}$/.test(visitor || "")) {
        visitor = uuid().replace(/-/g, "");
        localStorage.setItem(VISITOR_KEY, visitor);
      }
      return visitor;
    } catch (_) { return null; /* storage blocked: a customer per conversation */ }
  }
  function forgetVisitor() {
    try { localStorage.removeItem(VISITOR_KEY); } catch (_) { /* nothing kept */ }
  }
  function forgetConversation() {
    if (st.ws) st.ws.close();
    st.id = st.token = null;
    st.streamSeq = 0;
    st.csat = false;
    st.nps = null;
    st.handedOver = false;
    st.lowRating = 0;
    st.feedback = {};
    stopPolling();
    for (const child of [...log.children]) if (child.hasAttribute("data-seq")) child.remove();
    st.messages.clear();
    setStatus("bot");
    save();
  }

  // ---- Live updates: WebSocket, resuming from the last seq; REST polling as the fallback ----
  function connect() {
    if (!st.id || st.ws) return;
    clearTimeout(st.reconnect);
    let ws;
    try {
      ws = new WebSocket(SERVER.replace(/^http/, "ws") + "/ws/conversations/" + encodeURIComponent(st.id));
    } catch (_) {
      return scheduleReconnect();
    }
    st.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token: st.token, after: st.streamSeq }));
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (_) { return; }
      st.lastFrame = Date.now();
      if (frame.type === "welcome") {
        st.countUnread = st.everLive;
        st.wsFails = 0;
        st.downSince = 0;
        st.everLive = true;
        stopPolling();
        for (const message of frame.messages || []) receive(message, true);
        st.countUnread = true;
        setStatus(frame.status);
        for (const who of ["bot", "agent"]) setTyping(who, !!(frame.typing || {})[who]);
      } else if (frame.type === "message") {
        receive(frame.message, true);
      } else if (frame.type === "status") {
        setStatus(frame.status);
      } else if (frame.type === "typing") {
        setTyping(frame.who, !!frame.on);
      }
    };
    ws.onclose = (event) => {
      if (st.ws === ws) st.ws = null;
      if ([4401, 4403, 4404].includes(event.code)) return forgetConversation();
      if (event.code === 4400 || !st.id) return;
      st.wsFails++;
      st.downSince = st.downSince || Date.now();
      scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    clearTimeout(st.reconnect);
    const delay = Math.min(5000, 300 * 2 ** Math.min(st.wsFails - 1, 5)) * (0.8 + Math.random() * 0.4);
    st.reconnect = setTimeout(connect, delay);
    const blocked = !st.everLive && st.wsFails >= 3;
    if (blocked || (st.downSince && Date.now() - st.downSince > 15000)) startPolling();
  }
  function startPolling() {
    if (st.poll || !st.id) return;
    const poll = async () => {
      if (!st.id) return stopPolling();
      try {
        const response = await api("GET", conversationPath("messages?after=" + st.streamSeq));
        if (response.status === 403 || response.status === 404) return forgetConversation();
        if (!response.ok) return;
        for (const message of response.data.messages || []) receive(message, true);
        setStatus(response.data.status);
      } catch (_) { /* still offline */ }
    };
    st.poll = setInterval(poll, 4000);
    poll();
  }
  function stopPolling() {
    clearInterval(st.poll);
    st.poll = 0;
  }
  setInterval(() => {
    const ws = st.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - st.lastFrame > 60000) ws.close(); // half-open: onclose reconnects
    else ws.send(JSON.stringify({ type: "ping" }));
  }, 25000);
  window.addEventListener("online", () => { st.wsFails = 0; connect(); });

  // ---- Start --------------------------------------------------------------------------------
  function start() {
    document.body.append(host);
    setStatus("bot");
    for (const { id, text } of saved.outbox || []) {
      const entry = { id, text };
      st.outbox.set(id, entry);
      showPending(entry);
      if (st.id) deliver(entry);
      else setPendingNote(entry, say("not_sent"), true);
    }
    if (st.id) connect();
    if (st.open || data.open === "true") setOpen(true);
    // Focus that fell out of the panel (to the page body) still lets Esc close it.
    document.addEventListener("keydown", (event) => {
      const loose = document.activeElement === document.body || document.activeElement === host;
      if (event.key === "Escape" && st.open && loose && !panel.contains(root.activeElement)) {
        setOpen(false);
        launcher.focus();
      }
    });
  }
  window.supportbotWidget = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    reset: () => { forgetConversation(); forgetVisitor(); }, // call on sign-out
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
