"use strict";
// Destinations: Postfix's qshape, live, with each next hop's health (GET /api/v1/destinations,
// docs/console.md). The order is kept in the address (destinations.html?sort=errors is a
// bookmark). Refreshed every 5 s.
// [field, one, several]
const KINDS = [["delivered", "sent", "sent"], ["deferred", "deferred", "deferred"],
  ["bounced", "bounced", "bounced"], ["connection_errors", "connection error", "connection errors"],
  ["tls_failures", "TLS failure", "TLS failures"]];
let page = 1, pages = 1;

function sortWord() {
  return new URLSearchParams(location.search).get("sort") || "queued";
}

function card(label, value, sub, id) {
  const c = Taube.el("div", { class: "card", id });
  c.appendChild(Taube.el("div", { class: "label" }, label));
  c.appendChild(Taube.el("div", { class: "value" }, String(value)));
  if (sub) c.appendChild(Taube.el("div", { class: "sub" }, sub));
  return c;
}

// "3 sent · 2 deferred", nothing where nothing happened.
function counts(c, cls) {
  const d = Taube.el("div", { class: cls || "" });
  let any = false;
  for (const [k, one, several] of KINDS) {
    if (!c[k]) continue;
    const s = Taube.el("span", { class: "count k-" + k }, `${c[k]} ${c[k] === 1 ? one : several}`);
    d.appendChild(s);
    any = true;
  }
  if (!any) d.appendChild(Taube.el("span", { class: "muted" }, "—"));
  return d;
}

function row(x, now) {
  const tr = Taube.el("tr", { id: "dest-" + x.destination.replace(/[^A-Za-z0-9_-]/g, "_") });
  const td = (label, cls) => Taube.el("td", { "data-label": label, class: cls || "" });
  let c = td("Destination", "mono dest");
  // An MX route's key is the recipients' domain and port: its queue is a filter away.
  const m = /^([^\[:][^:]*):\d+$/.exec(x.destination);
  if (m && x.queued) {
    c.appendChild(Taube.el("a", { href: "queue.html?domain=" + encodeURIComponent(m[1]) }, x.destination));
  } else {
    c.textContent = x.destination;
  }
  tr.appendChild(c);
  c = td("Queued");
  c.appendChild(Taube.el("strong", {}, String(x.queued)));
  for (const s of ["active", "deferred", "hold", "incoming"]) {
    if (!x.messages[s]) continue;
    c.appendChild(document.createTextNode(" "));
    const b = Taube.state(s);
    b.textContent = `${x.messages[s]} ${s}`;
    c.appendChild(b);
  }
  tr.appendChild(c);
  tr.appendChild(Object.assign(td("Oldest"), { textContent: x.oldest_arrival ? Taube.duration(x.oldest_age) : "—" }));
  tr.appendChild(Object.assign(td("Connections"), { textContent: x.scheduled ? `${x.connections} / ${x.limit}` : "—" }));
  c = td("Last hour"); c.appendChild(counts(x.last_hour)); tr.appendChild(c);
  c = td("Since start"); c.appendChild(counts(x.total, "muted")); tr.appendChild(c);
  c = td("State", "reply");
  let word = "ok", text = "";
  if (x.held) {
    word = "held";
    text = `held back until ${Taube.time(x.held_until)} (in ${Taube.duration(x.held_until - now)}), ` +
      `${x.consecutive_failures} failure${x.consecutive_failures === 1 ? "" : "s"} in a row`;
  } else if (x.last_failure && x.last_failure > x.last_success) {
    word = "failing";
  } else if (!x.last_success && !x.last_failure) {
    word = "not tried";
  }
  c.appendChild(Taube.el("span", { class: "state dest-" + word.replace(/ /g, "_") }, word));
  if (text) c.appendChild(Taube.el("div", {}, text));
  if (x.plaintext_until) c.appendChild(Taube.el("div", {}, `TLS failed: plaintext until ${Taube.time(x.plaintext_until)}`));
  if (x.last_error && x.last_failure >= x.last_success)
    c.appendChild(Taube.el("div", { class: "last-error" }, `${Taube.duration(now - x.last_failure)} ago: ${x.last_error}`));
  tr.appendChild(c);
  tr.appendChild(Object.assign(td("Last success"), { textContent: x.last_success ? Taube.duration(now - x.last_success) + " ago" : "never" }));
  return tr;
}

async function load() {
  const q = new URLSearchParams({ sort: sortWord(), page: String(page), per_page: "50" });
  const r = await Taube.api("GET", "/destinations?" + q.toString());
  if (!r.ok) {
    Taube.notice((r.data && r.data.error) || "cannot load the destinations", "error");
    return;
  }
  const d = r.data;
  pages = Math.max(1, d.pages);
  const h = d.totals.last_hour;
  const cards = document.getElementById("cards");
  cards.textContent = "";
  cards.appendChild(card("Destinations", d.total, `${d.tracked} with a history`, "card-destinations"));
  cards.appendChild(card("Queued", d.totals.queued, "messages, per destination", "card-queued"));
  cards.appendChild(card("Held back", d.totals.held, "destinations", "card-held"));
  cards.appendChild(card("Delivered", h.delivered, "last hour", "card-delivered"));
  cards.appendChild(card("Deferred", h.deferred, "last hour", "card-deferred"));
  cards.appendChild(card("Errors", h.connection_errors + h.tls_failures,
    `${h.connection_errors} connection, ${h.tls_failures} TLS, last hour`, "card-errors"));
  const rows = document.getElementById("rows");
  rows.textContent = "";
  for (const x of d.items) rows.appendChild(row(x, d.now));
  document.getElementById("empty").classList.toggle("hidden", d.items.length > 0);
  document.getElementById("count").textContent = `· ${d.total} destination(s)`;
  document.getElementById("updated").textContent = "as of " + Taube.time(d.now);
  document.getElementById("page").textContent = `page ${d.page} of ${pages}`;
  document.getElementById("prev").disabled = page <= 1;
  document.getElementById("next").disabled = page >= pages;
}

(async () => {
  await Taube.start("destinations.html");
  const sel = document.getElementById("sort");
  sel.value = sortWord();
  sel.addEventListener("change", () => {
    history.replaceState(null, "", "destinations.html?sort=" + encodeURIComponent(sel.value));
    page = 1;
    load();
  });
  document.getElementById("prev").addEventListener("click", () => { if (page > 1) { page--; load(); } });
  document.getElementById("next").addEventListener("click", () => { if (page < pages) { page++; load(); } });
  await load();
  setInterval(load, 5000);
})();
