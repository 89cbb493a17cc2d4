// Insight in the console: the open-alerts banner on every console page, and the insight page
// (alerts with acknowledge / resolve, topics with trend and outcomes). Polls the CME API.
(() => {
  "use strict";
  const POLL_MS = 3000;
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

  const api = window.supportbotApi.call; // console-api.js, loaded first

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

  // ------------------------------------------------------------ knowledge drafts

  const draftPath = (id) => `/api/cme/drafts/${encodeURIComponent(id)}`;

  function rate(value) {
    return value === null || value === undefined ? "–" : percent(value);
  }

  function effectText(effect) {
    if (!effect) return "";
    const { before, after } = effect;
    return (
      `Topic, ${effect.weeks} weeks before → after publishing: answered ${rate(before.answer_rate)} → ` +
      `${rate(after.answer_rate)}, escalated ${rate(before.escalation_rate)} → ${rate(after.escalation_rate)} ` +
      `(${before.questions} → ${after.questions} questions)`
    );
  }

  function draftItem(draft) {
    const title = el("input", { class: "draft-title", value: draft.title, maxlength: "200", "aria-label": "Title" });
    const questions = el("textarea", { class: "draft-questions", rows: "3", "aria-label": "Questions, one a line" });
    questions.value = draft.questions.join("\n");
    const body = el("textarea", { class: "draft-body", rows: "8", "aria-label": "Body" });
    body.value = draft.body;
    const edited = () => ({
      title: title.value,
      questions: questions.value.split("\n").map((q) => q.trim()).filter(Boolean),
      body: body.value,
    });
    async function act(action) {
      try {
        if (action === "save" || action === "publish") await api("PUT", draftPath(draft.id), edited());
        if (action === "publish") await api("POST", `${draftPath(draft.id)}/publish`);
        if (action === "discard") await api("POST", `${draftPath(draft.id)}/discard`);
        toast(action === "save" ? "Draft saved" : action === "publish" ? "Published: the bot serves it within seconds" : "Draft discarded");
      } catch (error) {
        toast(`Could not ${action} the draft: ${error.message}`);
      }
      renderDrafts();
    }
    if (!draft.draft) {
      const effect = el("p", { class: "draft-effect" });
      api("GET", draftPath(draft.id)).then((d) => (effect.textContent = effectText(d.effect))).catch(() => {});
      return el(
        "li",
        { class: "draft published", "data-draft-id": draft.id },
        el("strong", {}, draft.title),
        el("span", { class: "draft-state" }, " published"),
        effect,
      );
    }
    return el(
      "li",
      { class: "draft", "data-draft-id": draft.id, id: `draft-${draft.id}` },
      el("label", {}, "Title ", title),
      el("label", {}, "Questions (one a line) ", questions),
      el("label", {}, "Body (markdown) ", body),
      el(
        "div",
        { class: "draft-actions" },
        el("button", { type: "button", class: "save", onclick: () => act("save") }, "Save"),
        el("button", { type: "button", class: "publish", onclick: () => act("publish") }, "Publish"),
        el("button", { type: "button", class: "discard", onclick: () => act("discard") }, "Discard"),
      ),
    );
  }

  async function renderDrafts() {
    const list = $("#drafts");
    if (!list) return;
    try {
      const data = await api("GET", "/api/cme/drafts");
      list.replaceChildren(...data.drafts.map(draftItem));
      $("#drafts-empty").hidden = data.drafts.length > 0;
    } catch (error) {
      toast(`Could not load the drafts: ${error.message}`);
    }
  }

  // On a conversation in the console: a "Draft article" button (resolved cases with a CME reply).
  function offerDraft() {
    const match = location.pathname.match(/^\/console\/conversations\/([A-Za-z0-9_-]+)$/);
    const pane = $("#conversation");
    if (!match || !pane || $("#draft-article")) return;
    const button = el(
      "button",
      {
        type: "button",
        id: "draft-article",
        class: "draft-article",
        onclick: async () => {
          try {
            const draft = await api("POST", `/api/cme/conversations/${match[1]}/draft`);
            location.assign(`/console/insight#draft-${draft.id}`);
          } catch (error) {
            toast(`No draft: ${error.message}`);
          }
        },
      },
      "Draft article",
    );
    const chips = el("p", { id: "conversation-topics", class: "conversation-topics" });
    pane.prepend(button, chips);
    api("GET", `/api/cme/conversations/${match[1]}/topics`)
      .then((data) => {
        const seen = new Map(data.topics.map((t) => [t.topic_id, t]));
        chips.replaceChildren(
          ...(seen.size ? ["Topics: "] : []),
          ...[...seen.values()].map((t) =>
            el("span", { class: "topic-chip", title: t.article_id || "no article" }, t.label),
          ),
        );
      })
      .catch(() => {});
  }

  async function refresh() {
    offerDraft();
    try {
      const alerts = await api("GET", "/api/cme/alerts?limit=50");
      banner(alerts);
      renderAlerts(alerts);
      if ($("#topics")) renderTopics(await api("GET", "/api/cme/topics"));
    } catch (error) {
      // Signed out or the server restarting: the next poll tries again.
    }
  }

  renderDrafts();
  refresh();
  setInterval(refresh, POLL_MS);
  setInterval(offerDraft, 500);
})();
