"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const user = document.getElementById("user").value;
  const password = document.getElementById("password").value;
  const r = await Taube.api("POST", "/login", { user, password });
  if (r.ok) {
    // Only a page of the console: never an address a link could have put here.
    const next = new URLSearchParams(location.search).get("next") || "";
    location.href = /^\/console\/[\w.\-]*(\?[\w=&%.\-]*)?$/.test(next) ? next : "/console/";
    return;
  }
  Taube.notice((r.data && r.data.error) || "login failed", "error");
});
