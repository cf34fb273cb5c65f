/* The agent's desktop: presence, offers with a countdown, contacts in hand, own figures. */
"use strict";

(() => {
  const { $, el, api, refresher, signIn, duration, notice, clock } = OW;
  let agentId = null;
  let desk = null;
  let loadedAt = 0;

  async function act(method, path, body, done) {
    try {
      await api(method, path, body);
      if (done) notice(done);
    } catch (failure) {
      notice(failure.message, true);
    }
    go();
  }

  function context(contact) {
    const rows = [["Queue", `${contact.queue} (${contact.channel})`], ["Segment", contact.segment]];
    if (contact.customer_id) rows.push(["Customer", contact.customer_id]);
    if (contact.on_behalf_of) rows.push(["On behalf of", `${contact.on_behalf_of.name} (${contact.on_behalf_of.kind})`]);
    for (const [k, v] of Object.entries(contact.attributes || {})) rows.push([k, typeof v === "object" ? JSON.stringify(v) : v]);
    return el("dl", { class: "context" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  function offerCard(offer) {
    return el("article", { class: "card offer", dataset: { offer: offer.id } },
      el("header", {}, el("h3", { text: `Offer: ${offer.contact.queue}` }),
        el("span", { class: "countdown", dataset: { expires: offer.expires_in_s }, "aria-label": "seconds left",
          text: `${Math.max(0, Math.ceil(offer.expires_in_s))} s` })),
      context(offer.contact),
      el("div", { class: "buttons" },
        el("button", { type: "button", class: "primary", dataset: { action: "accept" }, text: "Accept (A)",
          onclick: () => act("POST", `/v1/offers/${offer.id}/accept`, undefined, "accepted") }),
        el("button", { type: "button", dataset: { action: "reject" }, text: "Reject (R)",
          onclick: () => act("POST", `/v1/offers/${offer.id}/reject`, undefined, "rejected") })));
  }

  function contactCard(contact) {
    const wrapping = contact.state === "wrapping";
    return el("article", { class: `card contact ${contact.state}`, dataset: { contact: contact.id, state: contact.state } },
      el("header", {}, el("h3", { text: `${contact.queue} · ${wrapping ? "wrap-up" : "talking"}` }),
        el("span", { class: "since", dataset: { since: desk.now_s - (wrapping ? contact.wrapup_s : contact.answered_s) },
          text: "" })),
      context(contact),
      el("div", { class: "buttons" },
        wrapping ? null : el("button", { type: "button", dataset: { action: "wrapup" }, text: "Wrap up (W)",
          onclick: () => act("POST", `/v1/contacts/${contact.id}/wrapup`, undefined, "wrap-up") }),
        el("button", { type: "button", class: "primary", dataset: { action: "complete" }, text: "Complete (C)",
          onclick: () => act("POST", `/v1/contacts/${contact.id}/complete`, undefined, "completed") })));
  }

  function figures(today) {
    const rows = [["Handled", today.handled], ["Mean handle time", duration(today.aht_s)],
      ["Offers accepted", today.offers_accepted], ["Rejected", today.offers_rejected], ["Missed", today.offers_missed]];
    $("#today").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  async function refresh() {
    desk = await api("GET", `/v1/agents/${encodeURIComponent(agentId)}/desk`);
    loadedAt = performance.now();
    clock(desk.now_s);
    const agent = desk.agent;
    const state = $("#agent-state");
    state.textContent = agent.state;
    state.dataset.state = agent.state;
    state.dataset.status = agent.status;
    $("#agent-since").dataset.since = agent.time_in_state_s === null ? "" : agent.time_in_state_s;
    document.querySelectorAll(".presence button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.status === agent.status));
    });
    const offerIds = desk.offers.map((o) => o.id).join();
    const offersBox = $("#offers");
    if (offersBox.dataset.ids !== offerIds || !desk.offers.length) {
      offersBox.dataset.ids = offerIds;
      offersBox.replaceChildren(...(desk.offers.length ? desk.offers.map(offerCard) : [el("p", { class: "hint", text: "No offer." })]));
    } else {
      desk.offers.forEach((o) => {
        const c = offersBox.querySelector(`[data-offer="${o.id}"] .countdown`);
        if (c) c.dataset.expires = o.expires_in_s;
      });
    }
    const contactKey = desk.contacts.map((c) => `${c.id}:${c.state}`).join();
    const contactsBox = $("#contacts");
    if (contactsBox.dataset.ids !== contactKey) {
      contactsBox.dataset.ids = contactKey;
      contactsBox.replaceChildren(...(desk.contacts.length ? desk.contacts.map(contactCard) : [el("p", { class: "hint", text: "None." })]));
    }
    figures(desk.today);
    tick();
  }

  function tick() {
    if (!desk) return;
    const elapsed = (performance.now() - loadedAt) / 1000;
    document.querySelectorAll(".countdown").forEach((n) => {
      n.textContent = `${Math.max(0, Math.ceil(Number(n.dataset.expires) - elapsed))} s`;
    });
    document.querySelectorAll("[data-since]").forEach((n) => {
      if (n.dataset.since !== "") n.textContent = n.id === "agent-since"
        ? `for ${duration(Number(n.dataset.since) + elapsed)}` : duration(Number(n.dataset.since) + elapsed);
    });
  }

  function keys(event) {
    if (event.target.matches("input, select, textarea") || event.ctrlKey || event.metaKey) return;
    if (event.altKey) {
      const status = { 1: "available", 2: "away", 3: "offline" }[event.key];
      if (status) { event.preventDefault(); setPresence(status); }
      return;
    }
    const action = { a: "accept", r: "reject", w: "wrapup", c: "complete" }[event.key.toLowerCase()];
    if (!action) return;
    const button = document.querySelector(`button[data-action="${action}"]`);
    if (button) { event.preventDefault(); button.click(); }
  }

  function setPresence(status) {
    act("POST", `/v1/agents/${encodeURIComponent(agentId)}/presence`, { status }, `you are ${status}`);
  }

  let go;
  async function start() {
    const me = await signIn("Sign in with your agent token (your supervisor creates it).");
    if (me.kind !== "agent") {
      agentId = new URLSearchParams(location.search).get("agent");
      if (!agentId) { notice("this key is not an agent token; add ?agent=ID to act for an agent", true); return; }
    } else {
      agentId = me.agent_id;
    }
    $("#agent-name").textContent = agentId;
    $("#title").textContent = `Agent · ${agentId}`;
    document.querySelectorAll(".presence button").forEach((b) => {
      b.addEventListener("click", () => setPresence(b.dataset.status));
    });
    document.addEventListener("keydown", keys);
    go = refresher(refresh);
    await go();
    setInterval(go, 1000);
    setInterval(tick, 250);
  }

  start();
})();
