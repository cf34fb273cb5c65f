/* The supervisor's desk: agents and waiting contacts, with actions through the HTTP API. */
"use strict";

(() => {
  const { $, el, api, stream, refresher, signIn, duration, percent, notice, clock } = OW;
  let queues = {};     // queue -> channel
  let board = null;
  let loadedAt = 0;
  let mayReplan = false;  // the key may read the re-plan (admin, or intraday:read)

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

  /* Adherence now: live against a published schedule, or as the intraday stage published it;
     without a published schedule there is no adherence to show (never a guess). */
  function adherenceCell(adherence, source) {
    if (!source || !source.kind) return el("td", { class: "hint", dataset: { field: "adherence" }, text: "no published schedule" });
    if (!adherence) return el("td", { class: "hint", dataset: { field: "adherence" }, text: "not scheduled" });
    const activity = adherence.activity ? ` (${adherence.activity})` : "";
    if (adherence.in_adherence) return el("td", { class: "in", dataset: { field: "adherence" }, text: `in${activity}` });
    const since = adherence.out_since ? ` since ${adherence.out_since.slice(11, 16)}` : "";
    return el("td", { class: "out", dataset: { field: "adherence" }, text: `out${since}${activity}` });
  }

  function adherenceSource(source) {
    if (!source || !source.kind) return "Adherence now: no published schedule (the intraday stage publishes one with PUT /v1/intraday/replan).";
    if (source.kind === "live") return `Adherence now: live, against schedule version ${source.version}.`;
    return `Adherence now: as the intraday stage published it${source.as_of ? ` at ${source.as_of.slice(11, 16)}` : ""} (not live).`;
  }

  function agentRow(agent) {
    return el("tr", { dataset: { agent: agent.id, state: agent.state } },
      el("th", { scope: "row", text: agent.id }),
      el("td", { text: agent.team || "" }),
      el("td", {}, el("span", { class: `state ${agent.state}`, dataset: { field: "state" }, text: agent.state })),
      el("td", { class: "since", dataset: { since: agent.time_in_state_s === null ? "" : agent.time_in_state_s },
        text: duration(agent.time_in_state_s) }),
      el("td", { text: agent.contacts.map((c) => `${c.queue} ${c.state}${c.segment ? ` (${c.segment})` : ""}`).join(", ") || "–" }),
      adherenceCell(agent.adherence, board.adherence),
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

  function proposalRow(proposal) {
    const accepted = proposal.status === "accepted";
    const action = accepted ? el("td", { class: "in", dataset: { field: "status" }, text: "accepted" })
      : el("td", { class: "actions", dataset: { field: "status" } }, el("button", { type: "button", text: "Accept",
        "aria-label": `accept proposal ${proposal.proposal_id}`, onclick: async () => {
          try {
            const answer = await api("POST", `/v1/intraday/proposals/${encodeURIComponent(proposal.proposal_id)}/accept`);
            notice(`${proposal.proposal_id} accepted: schedule version ${answer.version}`);
            go();
          } catch (failure) { notice(failure.message, true); }
        } }));
    return el("tr", { dataset: { proposal: proposal.proposal_id, status: proposal.status } },
      el("th", { scope: "row", text: proposal.proposal_id }),
      el("td", { text: proposal.kind }),
      el("td", { text: proposal.agent }),
      el("td", { text: proposal.detail || "" }),
      el("td", { text: percent(proposal.projected_sl_after) }),
      action);
  }

  async function proposals() {
    if (!mayReplan) return;
    const replan = await api("GET", "/v1/intraday/replan");
    $("#replan-version").textContent = replan.published
      ? `Schedule version ${replan.version}${replan.as_of ? `, re-planned as of ${replan.as_of.slice(11, 16)}` : ""}.`
      : "No re-plan published (PUT /v1/intraday/replan).";
    $("#proposals tbody").replaceChildren(...(replan.proposals.length ? replan.proposals.map(proposalRow)
      : [el("tr", {}, el("td", { colspan: "6", class: "hint", text: "No proposals." }))]));
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
    $("#adherence-source").textContent = adherenceSource(agents.adherence);
    $("#waiting tbody").replaceChildren(...(waiting.contacts.length ? waiting.contacts.map(contactRow)
      : [el("tr", {}, el("td", { colspan: "6", class: "hint", text: "Nobody is waiting." }))]));
    try { intraday(await api("GET", "/v1/wallboard")); } catch (failure) { /* stats:read missing */ }
    await proposals();
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
    mayReplan = me.kind === "admin" || me.scopes.includes("intraday:read");
    if (!mayReplan) $("#replan-version").textContent = "Re-plan proposals need a key with intraday:read.";
    go = refresher(refresh);
    await go();
    stream(board ? board.seq : 0, () => go());
    setInterval(tick, 1000);
    setInterval(go, 5000);   // also without events:read
  }

  start();
})();
