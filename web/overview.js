"use strict";
// The overview: counts of the queue and connections, mail per minute (an SVG plot drawn here:
// no plotting library needed for five lines), disk space. Refreshed every 5 s.
const SERIES = ["received", "delivered", "deferred", "bounced", "rejected"];
const COLOURS = { received: "#2357c6", delivered: "#1f7a3f", deferred: "#d08700",
  bounced: "#b42318", rejected: "#7a8699" };
let last = null;

function card(label, value, sub, id) {
  const c = Taube.el("div", { class: "card", id: "card-" + id });
  c.appendChild(Taube.el("div", { class: "label" }, label));
  c.appendChild(Taube.el("div", { class: "value" }, String(value)));
  if (sub) c.appendChild(Taube.el("div", { class: "sub" }, sub));
  return c;
}

function kv(dl, k, v) {
  dl.appendChild(Taube.el("dt", {}, k));
  dl.appendChild(Taube.el("dd", {}, v));
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function plot(o) {
  const minutes = Number(document.getElementById("range").value);
  const chart = document.getElementById("chart");
  while (chart.firstChild) chart.removeChild(chart.firstChild);
  const w = chart.clientWidth || 800, h = chart.clientHeight || 260;
  const left = 36, right = 8, top = 8, bottom = 22;
  chart.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const a = o.activity;
  const n = Math.min(minutes, a.received.length);
  const from = a.received.length - n;
  let peak = 1;
  for (const s of SERIES) for (let i = from; i < a[s].length; i++) peak = Math.max(peak, a[s][i]);
  // Four whole-numbered steps up to at least the peak.
  const tick = Math.ceil(peak / 4);
  const max = tick * 4;
  const x = (i) => left + ((i - from) / Math.max(1, n - 1)) * (w - left - right);
  const y = (v) => top + (1 - v / max) * (h - top - bottom);
  for (let k = 0; k <= 4; k++) {
    const v = tick * k;
    chart.appendChild(svg("line", { class: "grid", x1: left, x2: w - right, y1: y(v), y2: y(v) }));
    const t = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" });
    t.textContent = v;
    chart.appendChild(t);
  }
  const step = n > 120 ? 60 : 15;
  for (let i = from; i < a.received.length; i++) {
    const t0 = a.first_minute + i * 60;
    if ((t0 / 60) % step !== 0) continue;
    // A label at either edge is anchored inside the plot, not cut off.
    const anchor = x(i) > w - right - 20 ? "end" : x(i) < left + 20 ? "start" : "middle";
    const t = svg("text", { x: x(i), y: h - 6, "text-anchor": anchor });
    t.textContent = new Date(t0 * 1000).toISOString().substr(11, 5);
    chart.appendChild(t);
  }
  for (const s of SERIES) {
    const pts = [];
    for (let i = from; i < a[s].length; i++) pts.push(x(i).toFixed(1) + "," + y(a[s][i]).toFixed(1));
    chart.appendChild(svg("polyline", { points: pts.join(" "), fill: "none", stroke: COLOURS[s],
      "stroke-width": 2, "stroke-linejoin": "round", class: "series-" + s }));
  }
  const legend = document.getElementById("legend");
  legend.textContent = "";
  for (const s of SERIES) {
    let total = 0;
    for (let i = from; i < a[s].length; i++) total += a[s][i];
    legend.appendChild(Taube.el("span", { class: "s-" + s }, `${s} ${total}`));
  }
}

// The share of sessions over TLS, inbound (STARTTLS or implicit) and outbound (connections the
// queue opened), per bucket of the chosen range: 24 buckets, none drawn where nothing happened.
const TLS_SERIES = [
  { name: "inbound", sessions: "sessions_in", tls: "tls_in", colour: "#2357c6" },
  { name: "outbound", sessions: "opened_out", tls: "tls_out", colour: "#1f7a3f" },
];

function plotTls(o) {
  const minutes = Number(document.getElementById("range").value);
  const chart = document.getElementById("tls-chart");
  while (chart.firstChild) chart.removeChild(chart.firstChild);
  const w = chart.clientWidth || 800, h = chart.clientHeight || 140;
  const left = 36, right = 8, top = 8, bottom = 22;
  chart.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const a = o.activity;
  if (!a.sessions_in) return;
  const n = Math.min(minutes, a.sessions_in.length);
  const from = a.sessions_in.length - n;
  const per = Math.max(1, Math.ceil(n / 24));
  const buckets = Math.ceil(n / per);
  const x = (b) => left + (b / Math.max(1, buckets - 1)) * (w - left - right);
  const y = (pct) => top + (1 - pct / 100) * (h - top - bottom);
  for (const v of [0, 50, 100]) {
    chart.appendChild(svg("line", { class: "grid", x1: left, x2: w - right, y1: y(v), y2: y(v) }));
    const t = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" });
    t.textContent = v + "%";
    chart.appendChild(t);
  }
  for (const b of [0, buckets - 1]) {
    const t = svg("text", { x: x(b), y: h - 6, "text-anchor": b ? "end" : "start" });
    t.textContent = new Date((a.first_minute + (from + b * per) * 60) * 1000).toISOString().substr(11, 5);
    chart.appendChild(t);
  }
  const legend = document.getElementById("tls-legend");
  legend.textContent = "";
  for (const s of TLS_SERIES) {
    let all = 0, tls = 0;
    let run = [];
    const flush = () => {
      if (run.length > 1)
        chart.appendChild(svg("polyline", { points: run.join(" "), fill: "none", stroke: s.colour,
          "stroke-width": 2, "stroke-linejoin": "round", class: "tls-" + s.name }));
      else if (run.length === 1) {
        const [cx, cy] = run[0].split(",");
        chart.appendChild(svg("circle", { cx, cy, r: 3, fill: s.colour, class: "tls-" + s.name }));
      }
      run = [];
    };
    for (let b = 0; b < buckets; b++) {
      let bs = 0, bt = 0;
      for (let i = from + b * per; i < Math.min(from + (b + 1) * per, a.sessions_in.length); i++) {
        bs += a[s.sessions][i];
        bt += a[s.tls][i];
      }
      all += bs;
      tls += bt;
      if (bs === 0) flush();
      else run.push(x(b).toFixed(1) + "," + y((100 * bt) / bs).toFixed(1));
    }
    flush();
    const text = all ? `${s.name} ${Math.round((100 * tls) / all)}% of ${all}` : `${s.name}: none`;
    legend.appendChild(Taube.el("span", { class: "tls-" + s.name, id: "tls-share-" + s.name }, text));
  }
}

function render(o) {
  last = o;
  const cards = document.getElementById("cards");
  cards.textContent = "";
  const q = o.queue || { messages: 0, deferred: 0, hold: 0, oldest_age: 0, recipients: 0 };
  cards.appendChild(card("Queued messages", q.messages, q.recipients + " recipient(s) to deliver", "queued"));
  cards.appendChild(card("Deferred", q.deferred, "tried and waiting", "deferred"));
  cards.appendChild(card("On hold", q.hold, "until released", "hold"));
  cards.appendChild(card("Oldest in queue", q.messages ? Taube.duration(q.oldest_age) : "—",
    q.oldest_arrival ? "since " + Taube.time(q.oldest_arrival) : "", "oldest"));
  cards.appendChild(card("SMTP sessions", o.smtp_connections, "inbound, open now", "smtp"));
  const out = o.outbound || { open: 0, open_tls: 0, opening: 0 };
  cards.appendChild(card("Outbound", out.open, out.open ? `${Math.round((100 * out.open_tls) / out.open)}% TLS, ${out.opening} opening` : `${out.opening} opening`, "outbound"));
  const disk = document.getElementById("disk");
  disk.textContent = "";
  for (const d of o.disk) {
    const free = d.total_bytes ? `${Taube.bytes(d.free_bytes)} free of ${Taube.bytes(d.total_bytes)} (${Math.round((100 * d.free_bytes) / d.total_bytes)}%)` : "unknown";
    kv(disk, d.what === "queue" ? "Queue" : "Mail root", free);
    kv(disk, "", d.path);
  }
  const inb = document.getElementById("inbound");
  inb.textContent = "";
  const i = o.inbound || { sessions: 0, tls: 0, rejects: {} };
  kv(inb, "SMTP sessions", String(i.sessions));
  kv(inb, "TLS", i.sessions ? `${i.tls} (${Math.round((100 * i.tls) / i.sessions)}%)` : "—");
  // By reason: verb, code and enhanced status, with the first such reply's text (addresses
  // masked by the server), most frequent first.
  const reasons = (i.reject_reasons || []).slice().sort((a, b) => b.count - a.count);
  if (!reasons.length) kv(inb, "Rejected", "none");
  for (const r of reasons) kv(inb, `${r.what} × ${r.count}`, r.example || "—");
  const qs = document.getElementById("queue-states");
  qs.textContent = "";
  for (const k of ["incoming", "active", "deferred", "hold"]) kv(qs, k, String(q[k] || 0));
  document.getElementById("updated").textContent = "· " + Taube.time(o.now) + (o.stopping ? " · stopping" : "");
  plot(o);
  plotTls(o);
}

async function refresh() {
  const r = await Taube.api("GET", "/overview");
  if (r.ok) render(r.data);
  else Taube.notice((r.data && r.data.error) || "cannot load the overview", "error");
}

(async () => {
  await Taube.start("index.html");
  document.getElementById("range").addEventListener("change", () => last && render(last));
  window.addEventListener("resize", () => last && render(last));
  await refresh();
  setInterval(refresh, 5000);
})();
