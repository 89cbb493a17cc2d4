// Saved replies in the console: the team's and your own, with variables such as
// {customer.name} filled in from the open conversation when inserted. Uses the console's
// helpers (window.supportbotConsole); everything is built with DOM APIs and textContent.
"use strict";

(() => {
  const ui = window.supportbotConsole;
  if (!ui) return;
  const { api, h, toast } = ui;
  const state = { packet: null, replies: [], loading: null };

  function values() {
    const customer = (state.packet && state.packet.conversation.customer) || {};
    const me = ui.me() || {};
    const name = (customer.name || "").trim();
    return {
      "customer.name": name || "there",
      "customer.first_name": name ? name.split(/\s+/)[0] : "there",
      "customer.email": customer.email || "",
      "agent.name": me.name || "",
    };
  }

  // Known variables are filled in; anything else in braces stays as written.
  function fill(text) {
    const known = values();
    return text.replace(/\{([a-z_.]+)\}/g, (whole, name) => (name in known ? known[name] : whole));
  }

  function section() {
    const title = h("input", { id: "saved-title", maxlength: 120, required: true, "aria-label": "Title" });
    const text = h("textarea", { id: "saved-text", rows: 3, maxlength: 4000, required: true,
      "aria-label": "Reply text", placeholder: "Hi {customer.first_name}, …" });
    const scope = h("select", { id: "saved-scope", "aria-label": "Who can use it" },
      h("option", { value: "personal", text: "Only me" }), h("option", { value: "team", text: "The team" }));
    const form = h("form", { class: "saved-form", id: "saved-form", onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/api/cme/saved-replies", { title: title.value, text: text.value, scope: scope.value });
        title.value = text.value = "";
        await load();
      } catch (error) {
        toast(error.message);
      }
    } }, title, text, h("p", { class: "hint", text: "Variables: {customer.name}, {customer.first_name}, {customer.email}, {agent.name}" }),
    h("div", { class: "line" }, scope, h("button", { type: "submit", text: "Save reply" })));
    return h("section", { id: "saved-replies", class: "saved" },
      h("p", { class: "label", text: "Saved replies" }),
      h("ul", { class: "articles", id: "saved-list" }),
      h("details", { class: "saved-new" }, h("summary", { text: "New saved reply" }), form));
  }

  function item(reply) {
    return h("li", { class: "article saved-reply", dataset: { savedId: String(reply.id) } },
      h("div", { class: "line" },
        h("strong", { text: reply.title }),
        h("span", { class: `badge scope-${reply.scope}`, text: reply.scope }),
        h("button", { type: "button", class: "insert", onclick: () => ui.insertText(fill(reply.text)) }, "Insert"),
        h("button", { type: "button", class: "delete", "aria-label": `Delete ${reply.title}`, onclick: async () => {
          try {
            await api("DELETE", `/api/cme/saved-replies/${reply.id}`);
            await load();
          } catch (error) {
            toast(error.message);
          }
        } }, "×")),
      h("p", { class: "passage", text: reply.text }));
  }

  async function load() {
    const data = await api("GET", "/api/cme/saved-replies");
    state.replies = data.replies;
    const list = document.getElementById("saved-list");
    if (!list) return;
    list.replaceChildren(...state.replies.map(item));
    if (!state.replies.length) list.append(h("li", { class: "muted", text: "No saved replies yet." }));
  }

  document.addEventListener("supportbot:conversation", (event) => {
    state.packet = event.detail;
    const canned = document.getElementById("canned");
    if (!canned || document.getElementById("saved-replies")) return;
    canned.prepend(section());
    canned.prepend(canned.querySelector("h3")); // keep the card's heading first
    load().catch((error) => toast(error.message));
  });
})();
