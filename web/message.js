"use strict";
// One queued message: envelope, recipients, why it waits, the SMTP transcripts of the last
// attempts and the headers (never the body), with the same actions as the queue table.
const id = new URLSearchParams(location.search).get("id") || "";

function kv(dl, k, v) {
  dl.appendChild(Taube.el("dt", {}, k));
  dl.appendChild(Taube.el("dd", {}, v));
}

// Transcript lines "C: ...", "S: ..." coloured by who spoke (CSS classes, no inline styles).
function transcript(pre, text) {
  pre.textContent = "";
  if (!text) {
    pre.textContent = "(none kept: not tried yet, or the last attempt did not reach an SMTP dialog)";
    return;
  }
  for (const line of text.split("\n")) {
    if (!line) continue;
    let cls = "";
    if (/^(C|>)/.test(line)) cls = "c";
    else if (/^(S|<)/.test(line)) cls = /[45]\d\d[ -]/.test(line) ? "e" : "s";
    pre.appendChild(Taube.el("span", { class: cls }, line + "\n"));
  }
}

function render(d) {
  const m = d.item;
  document.title = "Taube — " + m.queue_id;
  document.getElementById("qid").textContent = m.queue_id;
  const st = document.getElementById("qstate");
  st.textContent = "";
  st.appendChild(Taube.state(m.queue_name));
  document.getElementById("why").textContent = d.why;
  const env = document.getElementById("envelope");
  env.textContent = "";
  kv(env, "Sender", "<" + m.sender + ">");
  kv(env, "Arrival", Taube.time(m.arrival_time));
  kv(env, "Expires", Taube.time(m.expires));
  kv(env, "Size", Taube.bytes(m.message_size));
  if (m.held_since) kv(env, "On hold since", Taube.time(m.held_since));
  if (m.client) kv(env, "Client", `${m.client} (helo ${m.helo})`);
  if (m.auth_user) kv(env, "Submitted by", m.auth_user);
  if (m.envid) kv(env, "ENVID", m.envid);
  kv(env, "Queue file", m.queue_file);
  const rows = document.getElementById("rcpt-rows");
  rows.textContent = "";
  for (const r of m.recipients) {
    const tr = Taube.el("tr");
    const a = Taube.el("td", { "data-label": "Recipient", class: "rcpt" }, r.address + (r.original ? ` (for ${r.original})` : ""));
    tr.appendChild(a);
    const s = Taube.el("td", { "data-label": "State" });
    s.appendChild(Taube.state(r.state));
    tr.appendChild(s);
    tr.appendChild(Taube.el("td", { "data-label": "Attempts" }, String(r.attempts) + (r.route ? ` via ${r.route}` : "")));
    tr.appendChild(Taube.el("td", { "data-label": "Next" }, r.next_attempt ? Taube.time(r.next_attempt) : "—"));
    tr.appendChild(Taube.el("td", { "data-label": "Last reply", class: "reply" }, r.last_reply || "—"));
    rows.appendChild(tr);
  }
  transcript(document.getElementById("transcript"), d.transcript);
  // The attempts before the last (the server keeps five), newest first; left open as the
  // operator left it across the 3-s refresh.
  const attempts = d.attempts || [];
  const last = attempts.length ? attempts[attempts.length - 1] : null;
  document.getElementById("last-heading").textContent = last && last.heading ? "· " + last.heading : "";
  const earlier = attempts.slice(0, -1).reverse();
  const panel = document.getElementById("earlier-panel");
  panel.classList.toggle("hidden", earlier.length === 0);
  document.getElementById("earlier-summary").textContent = `Earlier attempts (${earlier.length})`;
  const box = document.getElementById("earlier");
  box.textContent = "";
  for (const a of earlier) {
    box.appendChild(Taube.el("h3", { class: "attempt" }, a.heading || "an earlier attempt"));
    const pre = Taube.el("pre", { class: "text" });
    transcript(pre, a.transcript);
    box.appendChild(pre);
  }
  document.getElementById("headers").textContent = d.headers || "(not readable)";
  const bar = document.getElementById("actions");
  bar.textContent = "";
  const acts = m.queue_name === "hold" ? ["release", "bounce", "delete"] : ["retry", "hold", "bounce", "delete"];
  for (const act of acts) {
    const [label, question, danger] = Taube.actions[act];
    const b = Taube.el("button", { type: "button", id: "act-" + act, class: danger ? "danger" : "" }, label);
    b.addEventListener("click", async () => {
      if (!(await Taube.confirm(`${label}: ${m.queue_id}`, question, danger))) return;
      const r = await Taube.api("POST", `/queue/${encodeURIComponent(m.queue_file)}/${act}`);
      Taube.notice(`${label.toLowerCase()}: ${Taube.resultText(r.data ? r.data.result || r.data.error : "")}`, r.ok ? "ok" : "error");
      await load();
    });
    bar.appendChild(b);
  }
}

async function load() {
  if (document.querySelector("dialog[open]")) return;
  const r = await Taube.api("GET", "/queue/" + encodeURIComponent(id));
  if (r.status === 404) {
    // Delivered, bounced or deleted since: nothing left to show but that.
    Taube.notice(`${id} is no longer in the queue (delivered, returned or deleted). `, "ok");
    document.getElementById("notice").appendChild(Taube.el("a",
      { href: "deliveries.html?id=" + encodeURIComponent(id), id: "to-history" }, "See its delivery history."));
    document.getElementById("qstate").textContent = "";
    document.getElementById("actions").textContent = "";
    return;
  }
  if (!r.ok) {
    Taube.notice((r.data && r.data.error) || "cannot load the message", "error");
    return;
  }
  render(r.data);
}

// Built by the server with the real bounce's functions (GET /queue/ID/dsn), only when opened:
// it reads the message, which a page refreshed every 3 s should not do.
async function loadDsn() {
  const why = document.getElementById("dsn-why");
  const pre = document.getElementById("dsn");
  const r = await Taube.api("GET", `/queue/${encodeURIComponent(id)}/dsn`);
  if (!r.ok) {
    why.textContent = (r.data && r.data.error) || "cannot build the notice";
    pre.textContent = "";
    return;
  }
  const d = r.data;
  why.textContent = d.would_send
    ? `To <${d.to}>, reporting ${d.recipients.map((a) => "<" + a + ">").join(", ")} as failed.`
    : `No notice would be sent: ${d.why}.`;
  pre.textContent = d.message || "";
}

(async () => {
  await Taube.start("queue.html");
  document.getElementById("dsn-panel").addEventListener("toggle", (e) => {
    if (e.target.open) loadDsn();
  });
  document.getElementById("qid").textContent = id;
  await load();
  setInterval(load, 3000);
})();
