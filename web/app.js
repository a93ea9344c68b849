// Taube's web console: what every page shares. The pages are static; everything they show
// comes from the JSON API (/api/v1, docs/console.md) with the session cookie, and every change
// carries the session's CSRF token in X-CSRF-Token. No framework, no build step.
"use strict";

const Taube = {
  csrf: null,
  user: null,

  async api(method, path, body) {
    const opts = { method, headers: {}, credentials: "same-origin" };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = Taube.csrf || "";
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch("/api/v1" + path, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (r.status === 401 && path !== "/login") {
      Taube.toLogin();
      throw new Error("not logged in");
    }
    return { status: r.status, ok: r.ok, data };
  },

  toLogin() {
    const next = location.pathname + location.search;
    location.href = "/console/login.html?next=" + encodeURIComponent(next);
  },

  // The session (and its CSRF token) of this browser; the login page when there is none.
  async start(current) {
    Taube.header(current);
    const r = await Taube.api("GET", "/session");
    Taube.csrf = r.data.csrf_token;
    Taube.user = r.data.user;
    document.getElementById("who-name").textContent = Taube.user;
    document.getElementById("logout").addEventListener("click", async () => {
      await Taube.api("POST", "/logout");
      location.href = "/console/login.html";
    });
  },

  header(current) {
    const h = document.createElement("header");
    h.className = "top";
    const pages = [["index.html", "Overview"], ["queue.html", "Queue"],
      ["deliveries.html", "Deliveries"], ["destinations.html", "Destinations"],
      ["log.html", "Live log"]];
    h.appendChild(Taube.el("a", { class: "brand", href: "/console/" }, "Taube"));
    const nav = Taube.el("nav");
    for (const [href, label] of pages) {
      const a = Taube.el("a", { href: "/console/" + href, id: "nav-" + href.split(".")[0] }, label);
      if (href === current) a.className = "current";
      nav.appendChild(a);
    }
    h.appendChild(nav);
    const who = Taube.el("div", { class: "who" });
    who.appendChild(Taube.el("span", { id: "who-name" }, ""));
    who.appendChild(Taube.el("button", { id: "logout", type: "button" }, "Log out"));
    h.appendChild(who);
    document.body.insertBefore(h, document.body.firstChild);
  },

  el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  },

  state(word) {
    return Taube.el("span", { class: "state " + word.replace(/ /g, "_") }, word.replace(/_/g, " "));
  },

  // "3 s", "4 min", "2 h 5 min", "3 d 4 h"
  duration(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  },

  time(t) {
    if (!t) return "—";
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  },

  bytes(n) {
    if (n === undefined) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  },

  notice(text, kind) {
    const n = document.getElementById("notice");
    n.textContent = text;
    n.className = "notice" + (kind ? " " + kind : "");
  },

  // Asks before an action (every queue action does); resolves true on "Yes".
  confirm(title, text, danger) {
    return new Promise((resolve) => {
      let d = document.getElementById("confirm");
      if (!d) {
        d = Taube.el("dialog", { id: "confirm" });
        d.appendChild(Taube.el("h2", { id: "confirm-title" }));
        d.appendChild(Taube.el("p", { id: "confirm-text" }));
        const b = Taube.el("div", { class: "buttons" });
        b.appendChild(Taube.el("button", { id: "confirm-no", type: "button" }, "Cancel"));
        b.appendChild(Taube.el("button", { id: "confirm-yes", type: "button", class: "primary" }, "Yes"));
        d.appendChild(b);
        document.body.appendChild(d);
      }
      document.getElementById("confirm-title").textContent = title;
      document.getElementById("confirm-text").textContent = text;
      const yes = document.getElementById("confirm-yes");
      yes.className = danger ? "primary danger" : "primary";
      const done = (v) => { d.close(); yes.onclick = null; resolve(v); };
      yes.onclick = () => done(true);
      document.getElementById("confirm-no").onclick = () => done(false);
      d.oncancel = () => resolve(false);
      d.showModal();
    });
  },

  // What each action is called on a button and in its question.
  actions: {
    retry: ["Retry now", "Try delivery now, whatever the retry schedule says?", false],
    hold: ["Hold", "Put on hold? Nothing is delivered until it is released.", false],
    release: ["Release", "Release from hold? Delivery is tried at once.", false],
    bounce: ["Bounce", "Return to the sender now, with a delivery status notification?", true],
    delete: ["Delete", "Delete without telling the sender? This cannot be undone.", true],
  },

  resultText(r) {
    return {
      done: "done", unchanged: "unchanged (nothing to do)", not_found: "not in the queue",
      busy: "being delivered right now; try again in a moment", failed: "failed (see the log)",
    }[r] || r;
  },
};
