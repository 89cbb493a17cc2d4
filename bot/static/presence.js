// Availability and notifications in the console: online / away / offline (sent every minute as
// a heartbeat; away by itself after 5 minutes without mouse or keyboard), and, when the CME opts
// in, a browser notification and a short sound for a new escalation or a conversation assigned
// to them. Uses the console's helpers (window.supportbotConsole).
"use strict";

(() => {
  const ui = window.supportbotConsole;
  if (!ui) return;
  const { api, h, toast } = ui;
  const HEARTBEAT_MS = 60000;
  const IDLE_MS = 5 * 60000;
  const KEY = "supportbot:console:notify";
  const state = { chosen: "online", idle: false, lastActive: Date.now(), known: null, audio: null };

  const select = h("select", { id: "presence", "aria-label": "Your availability", onchange: () => {
    state.chosen = select.value;
    send();
  } }, ...["online", "away", "offline"].map((value) => h("option", { value, text: value })));
  const notify = h("input", { type: "checkbox", id: "notify", onchange: async () => {
    if (notify.checked && "Notification" in window && Notification.permission === "default") {
      await Notification.requestPermission();
    }
    localStorage.setItem(KEY, notify.checked ? "1" : "");
  } });
  notify.checked = localStorage.getItem(KEY) === "1";
  const box = h("span", { class: "presence" }, select,
    h("label", { class: "notify" }, notify, " Notify me"));
  const me = document.getElementById("me");
  if (me) me.before(box);

  async function send() {
    const status = state.chosen === "online" && state.idle ? "away" : state.chosen;
    select.dataset.effective = status;
    try {
      await api("POST", "/api/cme/presence", { status });
    } catch (error) {
      toast(error.message);
    }
  }
  for (const kind of ["mousemove", "keydown", "pointerdown"]) {
    document.addEventListener(kind, () => {
      state.lastActive = Date.now();
      if (state.idle) {
        state.idle = false;
        send();
      }
    }, { passive: true });
  }
  setInterval(() => {
    const idle = Date.now() - state.lastActive > IDLE_MS;
    if (idle !== state.idle) state.idle = idle;
    send();
  }, HEARTBEAT_MS);
  send();

  function beep() {
    try {
      state.audio = state.audio || new AudioContext();
      const tone = state.audio.createOscillator();
      const gain = state.audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.08;
      tone.connect(gain).connect(state.audio.destination);
      tone.start();
      tone.stop(state.audio.currentTime + 0.15);
    } catch (_) { /* no audio: the notification is enough */ }
  }
  function alert(title, body, id) {
    if (!notify.checked) return;
    beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const note = new Notification(title, { body: body || "", tag: id });
    note.onclick = () => {
      window.focus();
      location.assign(`/console/conversations/${encodeURIComponent(id)}`);
    };
  }

  // New escalations and conversations given to me, from the live queue.
  document.addEventListener("supportbot:queue", (event) => {
    const rows = event.detail || [];
    const mine = (row) => row.status === "agent" && ui.me() && row.owner_id === ui.me().id;
    const now = new Map(rows.map((row) => [row.id, row]));
    if (state.known) {
      for (const row of rows) {
        const before = state.known.get(row.id);
        const label = (row.customer && (row.customer.name || row.customer.email)) || "A customer";
        const question = row.main_question || row.latest_message || "";
        if (mine(row) && !(before && mine(before))) alert(`Assigned to you: ${label}`, question, row.id);
        else if (!before && row.status === "waiting") alert(`New escalation: ${label}`, question, row.id);
      }
    }
    state.known = now;
  });
})();
