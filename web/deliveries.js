"use strict";
// The delivery history (docs/console.md "Deliveries"): finished deliveries, newest first,
// searched by queue id, Message-ID, sender or recipient and by status; the search is kept in
// the address (a bookmark), and ?id=QUEUEID opens one message with every attempt. Older pages
// follow the server's cursor (next_page), so new deliveries never shift what is being read.
let cursors = [""];  // the page cursors seen, newest first; the last is the current page

function search() {
  const p = new URLSearchParams(location.search);
  return { q: p.get("q") || "", status: p.get("status") || "", id: p.get("id") || "" };
}

function setSearch(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  if (s.status) p.set("status", s.status);
  if (s.id) p.set("id", s.id);
  history.replaceState(null, "", "deliveries.html" + (p.toString() ? "?" + p : ""));
}

function td(label, cls, text) {
  const c = Taube.el("td", { "data-label": label, class: cls || "" });
  if (text !== undefined) c.textContent = text;
  return c;
}

function row(r) {
  const tr = Taube.el("tr", { class: "delivery", "data-qid": r.queue_id });
  tr.appendChild(td("Finished", "", Taube.time(r.time)));
  const s = td("Status"); s.appendChild(Taube.state(r.status)); tr.appendChild(s);
  const q = td("Queue ID", "mono");
  const a = Taube.el("a", { href: "deliveries.html?id=" + encodeURIComponent(r.queue_id), class: "qid" }, r.queue_id);
  a.addEventListener("click", (e) => { e.preventDefault(); openMessage(r.queue_id); });
  q.appendChild(a);
  tr.appendChild(q);
  tr.appendChild(td("Sender", "rcpt", r.sender || "<>"));
  const rc = td("Recipient", "rcpt", r.recipient);
  if (r.original && r.original !== r.recipient) rc.appendChild(Taube.el("div", { class: "muted" }, "for " + r.original));
  tr.appendChild(rc);
  tr.appendChild(td("Attempts", "", String(r.attempts.length)));
  tr.appendChild(td("Reply", "reply", r.reply));
  return tr;
}

function attemptsTable(list) {
  const t = Taube.el("table", { class: "data attempts" });
  const h = Taube.el("tr");
  for (const x of ["Time", "Destination", "TLS", "Took", "Result", "Reply or error"]) h.appendChild(Taube.el("th", {}, x));
  const head = Taube.el("thead"); head.appendChild(h); t.appendChild(head);
  const body = Taube.el("tbody");
  for (const a of list) {
    const tr = Taube.el("tr", { class: "attempt" });
    tr.appendChild(td("Time", "", Taube.time(a.time)));
    const dest = a.host && a.host !== a.address ? a.host + (a.address ? " [" + a.address + "]" : "")
      : (a.address || a.host || "—");
    tr.appendChild(td("Destination", "mono", dest));
    tr.appendChild(td("TLS", "", a.tls ? "yes" : "no"));
    tr.appendChild(td("Took", "", a.seconds.toFixed(a.seconds < 10 ? 2 : 0) + " s"));
    const st = td("Result"); st.appendChild(Taube.state(a.status)); tr.appendChild(st);
    tr.appendChild(td("Reply or error", "reply", a.reply));
    body.appendChild(tr);
  }
  t.appendChild(body);
  return t;
}

async function openMessage(id) {
  const s = search();
  s.id = id;
  setSearch(s);
  const r = await Taube.api("GET", "/deliveries/" + encodeURIComponent(id));
  const panel = document.getElementById("detail");
  const box = document.getElementById("d-records");
  box.textContent = "";
  document.getElementById("d-qid").textContent = id;
  panel.classList.remove("hidden");
  if (!r.ok) {
    box.appendChild(Taube.el("p", { class: "muted" }, (r.data && r.data.error) || "cannot load it"));
    return;
  }
  const first = r.data.items[0];
  const dl = Taube.el("dl", { class: "kv", id: "d-envelope" });
  const kv = (k, v) => { dl.appendChild(Taube.el("dt", {}, k)); dl.appendChild(Taube.el("dd", {}, v)); };
  kv("Message-ID", first.message_id || "—");
  kv("Sender", first.sender || "<>");
  kv("Arrived", Taube.time(first.arrival));
  kv("Queue file", first.queue_file);
  box.appendChild(dl);
  for (const rec of r.data.items) {
    const sec = Taube.el("section", { class: "record" });
    const h = Taube.el("h3", {}, rec.recipient + " ");
    h.appendChild(Taube.state(rec.status));
    sec.appendChild(h);
    sec.appendChild(Taube.el("p", { class: "muted" },
      `${Taube.time(rec.time)} · dsn ${rec.dsn || "—"} · relay ${rec.relay} · ${rec.reply}`));
    if (rec.attempts.length) sec.appendChild(attemptsTable(rec.attempts));
    else sec.appendChild(Taube.el("p", { class: "muted" }, "No delivery attempt (expired or deleted before one)."));
    box.appendChild(sec);
  }
  panel.scrollIntoView({ block: "start" });
}

async function load() {
  const s = search();
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  if (s.status) p.set("status", s.status);
  const cursor = cursors[cursors.length - 1];
  if (cursor) p.set("page", cursor);
  p.set("per_page", "50");
  const r = await Taube.api("GET", "/deliveries?" + p.toString());
  if (!r.ok) {
    Taube.notice((r.data && r.data.error) || "cannot load the deliveries", "error");
    return;
  }
  const d = r.data;
  const rows = document.getElementById("rows");
  rows.textContent = "";
  for (const rec of d.items) rows.appendChild(row(rec));
  document.getElementById("empty").classList.toggle("hidden", d.items.length > 0);
  document.getElementById("count").textContent = d.items.length ? `${d.items.length} shown` : "";
  document.getElementById("history").textContent =
    `history ${Taube.bytes(d.history.bytes)} of ${Taube.bytes(d.history.max_bytes)}`;
  const more = document.getElementById("more");
  more.disabled = !d.next_page;
  more.onclick = () => { cursors.push(d.next_page); load(); };
  document.getElementById("first").disabled = cursors.length === 1;
}

(async () => {
  await Taube.start("deliveries.html");
  const s = search();
  document.getElementById("f-q").value = s.q;
  document.getElementById("f-status").value = s.status;
  document.getElementById("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    setSearch({ q: document.getElementById("f-q").value.trim(),
                status: document.getElementById("f-status").value });
    cursors = [""];
    document.getElementById("detail").classList.add("hidden");
    load();
  });
  document.getElementById("first").addEventListener("click", () => { cursors = [""]; load(); });
  document.getElementById("d-close").addEventListener("click", () => {
    document.getElementById("detail").classList.add("hidden");
    const cur = search(); cur.id = ""; setSearch(cur);
  });
  await load();
  if (s.id) openMessage(s.id);
})();
