"use strict";
// The log lines as they are written (Server-Sent Events from /api/v1/log), filtered on the
// server by a substring; the last 2,000 lines are kept on the page.
let source = null;

function open() {
  if (source) source.close();
  const log = document.getElementById("log");
  log.textContent = "";
  const f = document.getElementById("filter").value.trim();
  source = new EventSource("/api/v1/log" + (f ? "?filter=" + encodeURIComponent(f) : ""));
  source.onopen = () => { document.getElementById("status").textContent = "· connected"; };
  source.onerror = () => { document.getElementById("status").textContent = "· reconnecting…"; };
  source.onmessage = (ev) => {
    const m = / (warning|error|critical): /.exec(ev.data);
    log.appendChild(Taube.el("div", { class: m ? m[1] : "" }, ev.data));
    while (log.childNodes.length > 2000) log.removeChild(log.firstChild);
    if (document.getElementById("follow").checked) log.scrollTop = log.scrollHeight;
  };
}

(async () => {
  await Taube.start("log.html");
  document.getElementById("filter-form").addEventListener("submit", (ev) => { ev.preventDefault(); open(); });
  open();
})();
