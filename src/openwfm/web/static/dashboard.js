/* The wallboard: one tile per queue, refreshed on every router event (no reload). */
"use strict";

(() => {
  const { $, el, api, stream, refresher, signIn, duration, percent, clock } = OW;
  const tv = document.body.classList.contains("tv");
  const history = {};          // queue -> [{t, waiting}]
  const HISTORY_S = 1800;
  let chartDrawn = 0;
  window.__wallboard = { renders: [] };   // seq covered and render time, for tests and bench

  function slClass(value, target) {
    if (value === null || value === undefined) return "na";
    return value >= target ? "ok" : value >= target - 0.1 ? "warn" : "bad";
  }

  function figure(label, value, field, extra) {
    return el("div", { class: `figure ${extra || ""}`, dataset: { field } },
      el("span", { class: "label", text: label }), el("span", { class: "value", text: value }));
  }

  function agentChips(agents) {
    const names = [["available", "avail"], ["busy", "busy"], ["wrap_up", "wrap"],
      ["away", "away"], ["offline", "off"]];
    return el("div", { class: "chips", dataset: { field: "agents" } },
      names.map(([k, label]) => el("span", { class: `chip ${k}`, dataset: { state: k } },
        el("b", { text: agents[k] || 0 }), ` ${label}`)));
  }

  function tile(q) {
    const today = q.today, recent = q.last_15_min, target = q.target;
    const abandonBad = target.max_abandon !== null && today.abandon_rate !== null
      && today.abandon_rate > target.max_abandon;
    const node = el("article", { class: "tile", dataset: { queue: q.queue }, tabindex: "0",
      "aria-label": `queue ${q.queue}` },
      el("header", {}, el("h2", { text: q.queue }), el("span", { class: `badge ${q.channel}`, text: q.channel })),
      el("div", { class: "big" },
        figure("Waiting", q.waiting, "waiting", q.waiting ? "hot" : ""),
        figure("Longest wait", duration(q.longest_wait_s), "longest_wait"),
        figure("Est. wait", q.estimated_wait_s === null ? "–" : duration(q.estimated_wait_s), "estimated_wait")),
      el("div", { class: "sl" },
        figure(`SL today (${Math.round(100 * target.service_level)}% in ${target.within_s}s)`,
          percent(today.service_level), "sl_today", slClass(today.service_level, target.service_level)),
        figure("SL last 15 min", percent(recent.service_level), "sl_15",
          slClass(recent.service_level, target.service_level))),
      el("div", { class: "small" },
        figure("Offered", today.offered, "offered_today"),
        figure("Answered", today.answered, "answered_today"),
        figure("Abandoned", `${today.abandoned} (${percent(today.abandon_rate)})`, "abandoned_today",
          abandonBad ? "bad" : ""),
        figure(q.channel === "chat" ? "Free chat slots" : "Free agents", q.free_capacity, "free_capacity")),
      agentChips(q.agents));
    if (q.outlook && q.outlook.length) {
      const next = q.outlook[0];
      node.append(figure("Projected SL next", percent(next.service_level), "projected_sl",
        slClass(next.service_level, target.service_level)));
    }
    if (q.alerts && q.alerts.length) {
      node.append(el("ul", { class: "tile-alerts", dataset: { field: "alerts" } },
        q.alerts.map((a) => el("li", { class: a.severity, text: a.message || a.rule }))));
    }
    return node;
  }

  function drawChart(board) {
    if (typeof Plotly === "undefined") return;
    const now = Date.now();
    if (now - chartDrawn < 2000) return;
    chartDrawn = now;
    const traces = [];
    for (const q of board.queues) {
      const points = history[q.queue] || [];
      traces.push({ x: points.map((p) => new Date(p.t * 1000)), y: points.map((p) => p.waiting),
        name: `${q.queue} waiting`, mode: "lines", line: { shape: "hv" } });
      if (q.outlook && q.outlook.length) {
        traces.push({ x: q.outlook.map((p) => p.start), y: q.outlook.map((p) => p.service_level),
          name: `${q.queue} projected SL`, yaxis: "y2", mode: "lines+markers", line: { dash: "dot" } });
      }
    }
    const layout = {
      margin: { l: 48, r: 48, t: 32, b: 36 }, height: tv ? 320 : 260,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: getComputedStyle(document.body).color, size: tv ? 18 : 12 },
      xaxis: { type: "date", gridcolor: "rgba(148,163,184,0.25)" },
      yaxis: { title: "waiting", rangemode: "tozero", gridcolor: "rgba(148,163,184,0.25)" },
      yaxis2: { title: "SL", overlaying: "y", side: "right", range: [0, 1], tickformat: ".0%" },
      legend: { orientation: "h", y: 1.15 },
    };
    Plotly.react("chart", traces, layout, { displayModeBar: false, responsive: true });
  }

  function showAlerts(board) {
    const all = board.queues.flatMap((q) => q.alerts || []);
    const box = $("#alerts");
    box.hidden = all.length === 0;
    box.replaceChildren(el("h2", { text: `Alerts (${all.length})` }),
      el("ul", {}, all.map((a) => el("li", { class: a.severity, text: `${a.queue}: ${a.message || a.rule}` }))));
  }

  let lastSeen = 0;
  let lastBoard = null;
  async function refresh() {
    const requestedSeq = lastSeen;
    const board = await api("GET", "/v1/wallboard");
    clock(board.now_s);
    $("#title").textContent = `Wallboard · ${board.name}`;
    for (const q of board.queues) {
      const points = (history[q.queue] = history[q.queue] || []);
      points.push({ t: board.now_s, waiting: q.waiting });
      while (points.length && points[0].t < board.now_s - HISTORY_S) points.shift();
    }
    $("#tiles").replaceChildren(...board.queues.map(tile));
    showAlerts(board);
    const renders = window.__wallboard.renders;
    renders.push({ seq: Math.max(board.seq, requestedSeq), at_ms: performance.timeOrigin + performance.now() });
    if (renders.length > 20000) renders.splice(0, 10000);
    window.__wallboard.seq = board.seq;
    lastBoard = board;
    drawChart(board);
  }

  function loadPlotly() {
    const script = document.createElement("script");
    script.src = "/static/plotly.min.js";
    script.onload = () => { chartDrawn = 0; if (lastBoard) drawChart(lastBoard); };
    document.head.append(script);
  }

  async function start() {
    await signIn("The wallboard needs a key with stats:read and events:read (or the admin key).");
    if (tv) document.querySelectorAll(".controls").forEach((n) => { n.hidden = true; });
    loadPlotly();
    const go = refresher(refresh);
    await go();
    stream(window.__wallboard.seq || 0, (event) => {
      if (event) lastSeen = Math.max(lastSeen, event.seq);
      go();
    });
    setInterval(go, 5000);   // the clocks (longest wait) move between events too
  }

  start();
})();
