// Keyboard shortcuts in the console: c claim, r reply (focus the reply box), n internal note,
// e resolve, ? this list. They act through the open conversation's own buttons, so a shortcut
// can do nothing a click could not, and never fire while typing in a field (or with Ctrl, Alt
// or Cmd held). Built with DOM APIs and textContent only.
"use strict";

(() => {
  const ui = window.supportbotConsole;
  if (!ui) return;
  const { h } = ui;

  const click = (selector) => () => {
    const button = document.querySelector(selector);
    if (!button || button.disabled) return false;
    button.click();
    return true;
  };
  const KEYS = [
    ["c", "Claim the open conversation", click('#actions [data-action="claim"]')],
    ["r", "Reply: focus the reply box", click("#mode-reply")],
    ["n", "Write an internal note", click("#mode-note")],
    ["e", "Resolve the open conversation", click('#actions [data-action="resolve"]')],
    ["?", "Show or hide these shortcuts", () => toggleHelp()],
  ];

  const help = h("dialog", { id: "shortcuts-help", class: "shortcuts-help", "aria-labelledby": "shortcuts-title" },
    h("h2", { id: "shortcuts-title", text: "Keyboard shortcuts" }),
    h("dl", {}, KEYS.flatMap(([key, what]) => [h("dt", {}, h("kbd", { text: key })), h("dd", { text: what })])),
    h("p", { class: "muted", text: "Not while typing in a field. Ctrl+Enter sends from the reply box." }),
    h("form", { method: "dialog" }, h("button", { type: "submit", text: "Close" })));
  document.body.append(help);
  const me = document.getElementById("me");
  if (me) {
    me.before(h("button", { type: "button", class: "shortcuts-button", id: "shortcuts-button",
      title: "Keyboard shortcuts (?)", "aria-haspopup": "dialog", onclick: () => toggleHelp() }, "?"));
  }

  function toggleHelp() {
    if (help.open) help.close();
    else help.showModal();
    return true;
  }

  function typing(target) {
    if (!(target instanceof Element)) return false;
    return target.isContentEditable || Boolean(target.closest("input, textarea, select"));
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (help.open && event.key !== "?") return; // the dialog's own keys (Esc, Tab)
    const entry = KEYS.find(([key]) => key === event.key);
    if (entry && entry[2]()) event.preventDefault(); // the letter must not land in the reply box
  });
})();
