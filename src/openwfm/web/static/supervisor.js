/* The supervisor's desk: agents and waiting contacts, with actions through the HTTP API. */
"use strict";

(() => {
  const { $, el, api, stream, refresher, signIn, duration, percent, notice, clock } = OW;
  let queues = {};     // queue -> channel
  let board = null;
  let loadedAt = 0;

  function presenceCell(agent) {
    const select = el("select", { "aria-label": `presence of ${agent.id}`, dataset: { agent: agent.id } },
      ["available", "away", "offline"].map((s) => el("option", { value: s, selected: s === agent.status, text: s })));
    const button = el("button", { type: "button", text: "Set", dataset: { agent: agent.id },
      onclick: async () => {
        try {
          await api("POST", `/v1/agents/${encodeURIComponent(agent.id)}/presence`, { status: select.value });
          notice(`${agent.id} is ${select.value}`);
          go();
        } catch (failure) { notice(failure.message, true); }
      } });
    return el("td", { class: "actions" }, select, button);
  }

  function adherenceCell(adherence) {
    if (!adherence) return el("td", { class: "hint", text: "no schedule" });
    if (adherence.in_adherence) return el("td", { class: "in", dataset: { field: "adherence" }, text: `in${adherence.activity ? ` (${adherence.activity})` : ""}` });
    const since = adherence.out_since ? ` since ${adherence.out_since.slice(11, 16)}` : "";
    return el("td", { class: "out", dataset: { field: "adherence" }, text: `out${since}${adherence.activity ? ` (${adherence.activity})` : ""}` });
  }

  function agentRow(agent) {
    return el("tr", { dataset: { agent: agent.id, state: agent.state } },
      el("th", { scope: "row", text: agent.id }),
      el("td", { text: agent.team || "" }),
      el("td", {}, el("span", { class: `state ${agent.state}`, dataset: { field: "state" }, text: agent.state })),
      el("td", { class: "since", dataset: { since: agent.time_in_state_s === null ? "" : agent.time_in_state_s },
        text: duration(agent.time_in_state_s) }),
      el("td", { text: agent.contacts.map((c) => `${c.queue} ${c.state}${c.segment ? ` (${c.segment})` : ""}`).join(", ") || "–" }),
      adherenceCell(agent.adherence),
      presenceCell(agent));
  }

  function moveCell(contact) {
    const targets = Object.entries(queues).filter(([q, ch]) => ch === contact.channel && q !== contact.queue);
    if (!targets.length) return el("td", { text: "–" });
    const select = el("select", { "aria-label": `move ${contact.id} to queue` },
      targets.map(([q]) => el("option", { value: q, text: q })));
    const button = el("button", { type: "button", text: "Move", onclick: async () => {
      try {
        await api("POST", `/v1/contacts/${encodeURIComponent(contact.id)}/move`, { queue: select.value });
        notice(`moved to ${select.value}`);
        go();
      } catch (failure) { notice(failure.message, true); }
    } });
    return el("td", { class: "actions" }, select, button);
  }

  function contactRow(contact) {
    return el("tr", { dataset: { contact: contact.id }, class: contact.gold ? "gold-row" : "" },
      el("th", { scope: "row", text: contact.id.slice(0, 12) }),
      el("td", { text: contact.queue }),
      el("td", {}, contact.gold ? el("span", { class: "gold", title: "gold", text: "★ " }) : null, contact.segment),
      el("td", { text: contact.state }),
      el("td", { class: "since", dataset: { since: contact.wait_s }, text: duration(contact.wait_s) }),
      moveCell(contact));
  }

  function intraday(wall) {
    const alerts = wall.queues.flatMap((q) => q.alerts || []);
    const outlook = wall.queues.filter((q) => q.outlook && q.outlook.length);
    if (!alerts.length && !outlook.length) return;
    $("#intraday").replaceChildren(
      el("ul", {}, outlook.map((q) => el("li", { text:
        `${q.queue}: projected SL ${q.outlook.map((p) => `${p.start.slice(11, 16)} ${percent(p.service_level)}`).join(", ")}` })),
        alerts.map((a) => el("li", { class: a.severity, text: `${a.queue}: ${a.message || a.rule}` }))));
  }

  async function refresh() {
    const [agents, waiting] = await Promise.all([api("GET", "/v1/agents"), api("GET", "/v1/contacts")]);
    board = agents;
    loadedAt = performance.now();
    clock(agents.now_s);
    const focused = document.activeElement && document.activeElement.closest("tr");
    const keep = focused ? focused.dataset.agent || focused.dataset.contact : null;
    if (keep && focused.querySelector("select") === document.activeElement) return;  // do not steal the user's choice
    $("#agents tbody").replaceChildren(...agents.agents.map(agentRow));
    $("#waiting tbody").replaceChildren(...(waiting.contacts.length ? waiting.contacts.map(contactRow)
      : [el("tr", {}, el("td", { colspan: "6", class: "hint", text: "Nobody is waiting." }))]));
    try { intraday(await api("GET", "/v1/wallboard")); } catch (failure) { /* stats:read missing */ }
  }

  function tick() {
    if (!board) return;
    const elapsed = (performance.now() - loadedAt) / 1000;
    document.querySelectorAll("td.since").forEach((td) => {
      if (td.dataset.since !== "") td.textContent = duration(Number(td.dataset.since) + elapsed);
    });
  }

  let go;
  async function start() {
    const me = await signIn("The supervisor's desk needs the admin key (presence changes are the admin's), "
      + "or a key with agents:read, contacts:read, contacts:write and events:read.");
    const wall = await api("GET", "/v1/wallboard").catch(() => null);
    if (wall) wall.queues.forEach((q) => { queues[q.queue] = q.channel; });
    $("#title").textContent = `Supervisor · ${me.center}`;
    go = refresher(refresh);
    await go();
    stream(board ? board.seq : 0, () => go());
    setInterval(tick, 1000);
    setInterval(go, 5000);   // also without events:read
  }

  start();
})();
