/* openwfm live pages: sign-in, API calls, the event stream, the connection banner. */
"use strict";

const OW = (() => {
  const page = document.body.dataset.page;
  const storeName = page === "agent" ? "openwfm.agent-token" : "openwfm.key";
  let key = null;
  let offline = false;

  function $(selector, root) { return (root || document).querySelector(selector); }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function connection(ok) {
    const banner = $("#banner");
    if (ok && offline) { offline = false; banner.hidden = true; document.body.classList.remove("offline"); }
    if (!ok && !offline) { offline = true; banner.hidden = false; document.body.classList.add("offline"); }
  }

  function notice(text, isError) {
    const node = $("#notice");
    node.textContent = text || "";
    node.classList.toggle("error", !!isError);
    if (text) setTimeout(() => { if (node.textContent === text) node.textContent = ""; }, 6000);
  }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: Object.assign({ Authorization: `Bearer ${key}` },
          body === undefined ? {} : { "Content-Type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (failure) {
      connection(false);
      throw new ApiError(0, "the server cannot be reached");
    }
    connection(true);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (failure) { data = { detail: text }; }
    if (!response.ok) throw new ApiError(response.status, (data && data.detail) || response.statusText);
    return data;
  }

  /* Server-sent events over fetch (so the key travels in the Authorization header).
     Reconnects by itself from the last event seen; calls onEvent(event) for each. */
  function stream(after, onEvent) {
    let cursor = after;
    let delay = 500;
    async function run() {
      for (;;) {
        try {
          const response = await fetch(`/v1/events/stream?after=${cursor}`, {
            headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
            cache: "no-store",
          });
          if (response.status === 401 || response.status === 403) {
            connection(true);
            notice("this key cannot read the event stream (events:read): refreshing every few seconds", true);
            return;
          }
          if (!response.ok) throw new ApiError(response.status, response.statusText);
          connection(true);
          delay = 500;
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const data = block.split("\n").filter((l) => l.startsWith("data: "))
                .map((l) => l.slice(6)).join("\n");
              if (!data) continue;
              const event = JSON.parse(data);
              cursor = Math.max(cursor, event.seq);
              onEvent(event);
            }
          }
        } catch (failure) {
          /* fall through to reconnect */
        }
        connection(false);
        onEvent(null);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 4000);
      }
    }
    run();
  }

  /* Calls refresh() at most once at a time; events arriving meanwhile trigger one more. */
  function refresher(refresh) {
    let running = false;
    let again = false;
    async function go() {
      if (running) { again = true; return; }
      running = true;
      try {
        do { again = false; await refresh(); } while (again);
      } catch (failure) {
        if (failure.status === 401) {   // the key was revoked: sign in again
          sessionStorage.removeItem(storeName);
          location.reload();
          return;
        }
        if (failure.status) notice(failure.message, true);
      } finally {
        running = false;
      }
    }
    return go;
  }

  function fromFragment() {
    const match = location.hash.match(/key=([^&]+)/);
    if (!match) return null;
    history.replaceState(null, "", location.pathname + location.search);
    return decodeURIComponent(match[1]);
  }

  /* Shows the sign-in form until a key works; resolves with GET /v1/me. */
  async function signIn(help) {
    const form = $("#login");
    $("#login-help").textContent = help;
    key = fromFragment() || sessionStorage.getItem(storeName);
    for (;;) {
      if (key) {
        try {
          const me = await api("GET", "/v1/me");
          sessionStorage.setItem(storeName, key);
          form.hidden = true;
          $("#main").hidden = false;
          const logout = $("#logout");
          logout.hidden = false;
          logout.onclick = () => { sessionStorage.removeItem(storeName); location.reload(); };
          return me;
        } catch (failure) {
          if (failure.status === 0) { await new Promise((r) => setTimeout(r, 1000)); continue; }
          $("#login-error").textContent = failure.message;
          sessionStorage.removeItem(storeName);
        }
      }
      form.hidden = false;
      $("#main").hidden = true;
      $("#login-key").focus();
      key = await new Promise((resolve) => {
        form.onsubmit = (event) => { event.preventDefault(); resolve($("#login-key").value.trim()); };
      });
    }
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
  }

  function clock(nowS) {
    const node = $("#clock");
    if (!node) return;
    const date = new Date(nowS * 1000);
    node.textContent = date.toISOString().slice(11, 19);
    node.dataset.nowS = String(nowS);
  }

  return { $, el, api, stream, refresher, signIn, duration, percent, notice, clock, connection, ApiError };
})();
