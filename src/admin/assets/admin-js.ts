import { CSRF_FIELD } from "../security.js";

/**
 * The admin page's only script, served from `<basePath>/assets/admin.js` (the
 * Content-Security-Policy allows no inline script). It keeps a page live: on
 * each `change` from the page's event stream it fetches the page again and
 * swaps its `<main>`, unless the operator is typing in one of its forms. A form
 * the operator has edited survives the swap as it is (a refresh that was already
 * in flight when they picked a filter must not put the old value back).
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
  // A form is matched across a swap by its class, target and hidden fields (the
  // CSRF token and return path aside): the filter form, or one step's action.
  function formKey(form) {
    var parts = [form.className, form.getAttribute("action") || ""];
    form.querySelectorAll("input[type=hidden]").forEach(function (input) {
      if (input.name !== "${CSRF_FIELD}" && input.name !== "back") parts.push(input.name + "=" + input.value);
    });
    return parts.join("|");
  }
  function keepEditedForms(main, next) {
    var fresh = {};
    next.querySelectorAll("form").forEach(function (form) { fresh[formKey(form)] = form; });
    main.querySelectorAll("form[data-edited]").forEach(function (form) {
      var replaced = fresh[formKey(form)];
      if (replaced) replaced.replaceWith(form);
    });
  }
  document.addEventListener("input", markEdited);
  document.addEventListener("change", markEdited);
  function markEdited(event) {
    var form = event.target && event.target.closest && event.target.closest("#main form");
    if (form) form.dataset.edited = "1";
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
        if (next && main) {
          next = document.adoptNode(next);
          keepEditedForms(main, next);
          main.replaceWith(next);
        }
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
