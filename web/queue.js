"use strict";
// The queue table: filters in the address (so a filtered view can be bookmarked), a page of
// 50, per-row and bulk actions, each confirmed first. Refreshed every 5 s.
const FIELDS = ["sender", "recipient", "domain", "state"];
const selected = new Set();
let page = 1, pages = 1, busy = false;

function params() {
  const p = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  for (const f of FIELDS) if (p.get(f)) q.set(f, p.get(f));
  q.set("page", String(page));
  q.set("per_page", "50");
  return q;
}

function row(item, now) {
  const tr = Taube.el("tr", { id: "row-" + item.queue_id });
  const cb = Taube.el("input", { type: "checkbox", class: "pick", "aria-label": "select " + item.queue_id });
  cb.checked = selected.has(item.queue_file);
  cb.dataset.file = item.queue_file;
  cb.addEventListener("change", () => {
    if (cb.checked) selected.add(item.queue_file); else selected.delete(item.queue_file);
    updateBulk();
  });
  const td = (label, cls) => Taube.el("td", label ? { "data-label": label, class: cls || "" } : { class: cls || "" });
  let c = td(""); c.appendChild(cb); tr.appendChild(c);
  c = td("Queue ID", "mono");
  // By queue file name: the server finds it at once (a queue id means a search of the queue).
  c.appendChild(Taube.el("a", { href: "message.html?id=" + encodeURIComponent(item.queue_file), class: "qid" }, item.queue_id));
  tr.appendChild(c);
  c = td("State"); c.appendChild(Taube.state(item.queue_name)); tr.appendChild(c);
  tr.appendChild(Object.assign(td("Sender", "rcpt"), { textContent: item.sender || "<>" }));
  c = td("Recipients");
  let reply = "";
  let attempts = 0;
  for (const r of item.recipients) {
    const d = Taube.el("div", { class: "rcpt" });
    d.appendChild(Taube.el("span", {}, r.address + " "));
    d.appendChild(Taube.state(r.state));
    if (r.attempts) d.appendChild(Taube.el("span", { class: "muted" }, ` ×${r.attempts}`));
    c.appendChild(d);
    if (r.last_reply && !reply) reply = r.last_reply;
    attempts = Math.max(attempts, r.attempts);
  }
  tr.appendChild(c);
  tr.appendChild(Object.assign(td("Age"), { textContent: Taube.duration(now - item.arrival_time) }));
  const next = item.queue_name === "hold" ? "on hold" : item.next_attempt ? (item.next_attempt <= now ? "due now" : "in " + Taube.duration(item.next_attempt - now)) : "—";
  tr.appendChild(Object.assign(td("Next attempt"), { textContent: next }));
  tr.appendChild(Object.assign(td("Last reply", "reply"), { textContent: reply || (attempts ? "" : "not tried yet") }));
  c = td("Actions", "actions");
  const acts = item.queue_name === "hold" ? ["release", "bounce", "delete"] : ["retry", "hold", "bounce", "delete"];
  for (const a of acts) {
    const b = Taube.el("button", { type: "button", id: `act-${a}-${item.queue_id}`, class: Taube.actions[a][2] ? "danger" : "" }, Taube.actions[a][0]);
    b.addEventListener("click", () => one(item, a));
    c.appendChild(b);
    c.appendChild(document.createTextNode(" "));
  }
  tr.appendChild(c);
  return tr;
}

function updateBulk() {
  const n = selected.size;
  document.getElementById("selected").textContent = n ? `${n} selected` : "none selected";
  for (const a of Object.keys(Taube.actions)) document.getElementById("bulk-" + a).disabled = n === 0;
}

async function load() {
  if (busy || document.querySelector("dialog[open]")) return;
  const r = await Taube.api("GET", "/queue?" + params().toString());
  if (!r.ok) {
    Taube.notice((r.data && r.data.error) || "cannot load the queue", "error");
    return;
  }
  const d = r.data;
  pages = Math.max(1, d.pages);
  const rows = document.getElementById("rows");
  rows.textContent = "";
  const shown = new Set();
  for (const item of d.items) { rows.appendChild(row(item, d.now)); shown.add(item.queue_file); }
  for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
  document.getElementById("empty").classList.toggle("hidden", d.items.length > 0);
  document.getElementById("count").textContent = `· ${d.total} message(s)`;
  document.getElementById("page").textContent = `page ${d.page} of ${pages}`;
  document.getElementById("prev").disabled = page <= 1;
  document.getElementById("next").disabled = page >= pages;
  document.getElementById("select-all").checked = d.items.length > 0 && selected.size === d.items.length;
  updateBulk();
}

async function one(item, action) {
  const id = item.queue_id;
  const [label, question, danger] = Taube.actions[action];
  if (!(await Taube.confirm(`${label}: ${id}`, question, danger))) return;
  busy = true;
  const r = await Taube.api("POST", `/queue/${encodeURIComponent(item.queue_file)}/${action}`);
  busy = false;
  Taube.notice(`${id}: ${label.toLowerCase()}: ${Taube.resultText(r.data ? r.data.result || r.data.error : "")}`, r.ok ? "ok" : "error");
  await load();
}

async function bulk(action) {
  const ids = [...selected];
  const [label, question, danger] = Taube.actions[action];
  if (!ids.length || !(await Taube.confirm(`${label}: ${ids.length} message(s)`, question, danger))) return;
  busy = true;
  const r = await Taube.api("POST", "/bulk", { action, ids });
  busy = false;
  if (r.ok) {
    const counts = {};
    for (const x of r.data.results) counts[x.result] = (counts[x.result] || 0) + 1;
    const text = Object.entries(counts).map(([k, v]) => `${v} ${Taube.resultText(k)}`).join(", ");
    Taube.notice(`${label.toLowerCase()}: ${text}`, r.data.ok ? "ok" : "error");
    selected.clear();
  } else {
    Taube.notice((r.data && r.data.error) || "failed", "error");
  }
  await load();
}

(async () => {
  await Taube.start("queue.html");
  const p = new URLSearchParams(location.search);
  for (const f of FIELDS) document.getElementById("f-" + f).value = p.get(f) || "";
  document.getElementById("filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const f of FIELDS) { const v = document.getElementById("f-" + f).value.trim(); if (v) q.set(f, v); }
    history.replaceState(null, "", "queue.html" + (q.toString() ? "?" + q : ""));
    page = 1;
    selected.clear();
    load();
  });
  document.getElementById("select-all").addEventListener("change", (ev) => {
    for (const cb of document.querySelectorAll("input.pick")) {
      cb.checked = ev.target.checked;
      const id = cb.dataset.file;
      if (cb.checked) selected.add(id); else selected.delete(id);
    }
    updateBulk();
  });
  for (const a of Object.keys(Taube.actions)) document.getElementById("bulk-" + a).addEventListener("click", () => bulk(a));
  document.getElementById("prev").addEventListener("click", () => { if (page > 1) { page--; load(); } });
  document.getElementById("next").addEventListener("click", () => { if (page < pages) { page++; load(); } });
  await load();
  setInterval(load, 5000);
})();
