// Teams in the console: a filter that shows one team's conversations in every view (the team
// of the article that escalated it, article `team:`), and the CME's own teams, which automatic
// assignment routes a team's conversations to. Uses the console's helpers
// (window.supportbotConsole); built with DOM APIs and textContent only.
"use strict";

(() => {
  const ui = window.supportbotConsole;
  if (!ui) return;
  const { api, h, toast } = ui;
  const KEY = "supportbot:console:team";
  const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
  const known = new Set();

  const filter = h("select", { id: "team-filter", "aria-label": "Team", onchange: () => choose(filter.value) },
    h("option", { value: "", text: "All teams" }));
  const mine = h("input", { id: "my-teams", type: "text", maxlength: 200, autocomplete: "off",
    placeholder: "billing, technical", "aria-label": "Your teams, separated by commas" });
  const form = h("form", { class: "my-teams", id: "my-teams-form", onsubmit: save },
    h("label", { for: "my-teams", text: "My teams" }), mine, h("button", { type: "submit", text: "Save" }));
  const bar = h("div", { class: "team-bar", id: "team-bar" },
    h("label", { class: "team-filter" }, "Team ", filter),
    h("details", { class: "team-edit" }, h("summary", { text: "My teams" }), form));

  function choose(team) {
    localStorage.setItem(KEY, team);
    ui.setTeam(team);
  }

  function offer(teams) {
    for (const team of teams) {
      if (!team || known.has(team)) continue;
      known.add(team);
      filter.append(h("option", { value: team, text: team }));
    }
    const saved = localStorage.getItem(KEY) || "";
    if (saved && known.has(saved) && filter.value !== saved) {
      filter.value = saved;
      ui.setTeam(saved);
    }
  }

  async function load() {
    try {
      const data = await api("GET", "/api/cme/presence");
      offer(data.cmes.flatMap((cme) => cme.teams));
      const me = ui.me();
      const own = me && data.cmes.find((cme) => cme.user_id === me.id);
      if (own && document.activeElement !== mine) mine.value = own.teams.join(", ");
    } catch (error) {
      toast(error.message);
    }
  }

  async function save(event) {
    event.preventDefault();
    const teams = [...new Set(mine.value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean))];
    const wrong = teams.find((team) => !NAME.test(team));
    if (wrong) return toast(`"${wrong}" is not a team name: lower-case letters, digits, - and _`);
    const presence = document.getElementById("presence");
    const status = (presence && (presence.dataset.effective || presence.value)) || "online";
    try {
      await api("POST", "/api/cme/presence", { status, teams });
      toast(teams.length ? `Your teams: ${teams.join(", ")}` : "You are in no team");
      await load();
    } catch (error) {
      toast(error.message);
    }
  }

  let loaded = false;
  document.addEventListener("supportbot:queue", (event) => {
    offer((event.detail || []).map((row) => row.team));
    if (!loaded) {
      loaded = true; // the first queue comes after console.js knows who is signed in
      load();
    }
    if (!bar.isConnected) {
      // The views are built with the first queue; the team bar goes right under them.
      setTimeout(() => {
        const views = document.getElementById("views");
        if (views && !bar.isConnected) views.after(bar);
      });
    }
  });
})();
