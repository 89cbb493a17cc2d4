// Attachments in the console: files in the transcript (raster images previewed, anything else a
// download link; both from the CME download route, the session cookie authorising them) and a
// button that sends a file to the customer. Follows the open conversation through the
// console's `supportbot:conversation` event; built with DOM APIs and textContent only.
"use strict";

(() => {
  const ui = window.supportbotConsole;
  if (!ui) return;
  const { api, h, toast } = ui;
  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  const URL_PATTERN = /^\/api\/cme\/conversations\/[\w-]+\/attachments\/[0-9a-f]{32}$/;
  const state = { id: null };

  function size(bytes) {
    return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
  }

  function attachmentEl(file) {
    const url = String(file.url || "");
    if (!URL_PATTERN.test(url)) return null;
    const name = String(file.name || "attachment");
    if (IMAGE_TYPES.includes(file.content_type)) {
      return h("figure", { class: "attachment" },
        h("a", { href: url, target: "_blank", rel: "noopener" },
          h("img", { class: "attachment-image", src: url, alt: name, loading: "lazy" })),
        h("figcaption", { text: `${name} · ${size(Number(file.size) || 0)}` }));
    }
    return h("a", { class: "attachment file", href: url, download: name,
      text: `📎 ${name} (${size(Number(file.size) || 0)})` });
  }

  // The transcript is re-rendered on every change: decorate the turns that carry files.
  function decorate(packet) {
    for (const message of packet.transcript || []) {
      if (!Array.isArray(message.attachments) || !message.attachments.length) continue;
      const turn = document.querySelector(`#transcript li[data-seq="${Number(message.seq)}"]`);
      if (!turn || turn.querySelector(".attachments")) continue;
      const list = h("div", { class: "attachments" }, ...message.attachments.map(attachmentEl).filter(Boolean));
      const text = turn.querySelector(".text");
      if (text) text.replaceWith(list);
      else turn.append(list);
      for (const score of turn.querySelectorAll(".scores, .signals")) score.remove(); // not a turn
    }
  }

  async function upload(file) {
    const id = state.id;
    if (!id || !file) return;
    const body = new FormData();
    body.append("file", file, file.name);
    await api("POST", `/api/cme/conversations/${encodeURIComponent(id)}/attachments`, body);
  }

  function attachButton() {
    const input = h("input", { type: "file", id: "attach-file", class: "visually-hidden", tabindex: "-1",
      accept: IMAGE_TYPES.join(",") + ",application/pdf,text/plain" });
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = "";
      upload(file).catch((error) => toast(error.message));
    });
    const button = h("button", { type: "button", class: "attach-button", id: "attach-button",
      title: "Send a file to the customer", onclick: () => input.click() }, "Attach file");
    return [input, button];
  }

  document.addEventListener("supportbot:conversation", (event) => {
    const packet = event.detail;
    state.id = packet.conversation.id;
    decorate(packet);
    const actions = document.querySelector("#composer .composer-actions");
    if (actions && !document.getElementById("attach-button")) {
      actions.insertBefore(h("span", { class: "attach" }, ...attachButton()), document.getElementById("add-note"));
    }
  });
})();
