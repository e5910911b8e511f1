/**
 * The admin page's only script, served from `<basePath>/assets/admin.js` (the
 * Content-Security-Policy allows no inline script). It keeps a page live: on
 * each `change` from the page's event stream it fetches the page again and
 * swaps its `<main>`, unless the operator is typing in one of its forms.
 */
export const ADMIN_JS = `"use strict";
(function () {
  var url = document.body.dataset.live;
  if (!url || !window.EventSource) return;
  var state = document.getElementById("live-state");
  var busy = false, pending = false;
  function typing() {
    var el = document.activeElement;
    return !!(el && el.closest && el.closest("#main form") && el.matches("input, textarea, select"));
  }
  function refresh() {
    if (busy || typing()) { pending = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var next = new DOMParser().parseFromString(text, "text/html").getElementById("main");
        var main = document.getElementById("main");
        if (next && main) main.replaceWith(document.adoptNode(next));
        document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || "0") + 1);
      })
      .catch(function () { pending = true; })
      .then(function () {
        busy = false;
        if (pending) { pending = false; refresh(); }
      });
  }
  document.addEventListener("focusout", function () { setTimeout(function () { if (pending) { pending = false; refresh(); } }, 0); });
  var source = new EventSource(url);
  source.addEventListener("ready", function () { if (state) state.textContent = "live"; refresh(); });
  source.addEventListener("change", refresh);
  source.addEventListener("error", function () { if (state) state.textContent = "reconnecting"; });
})();
`;
