// What every annotating page shares beyond htmx (the comparison page and the feedback, edit and edit-quality pages):
// time on task, counted only while the page is visible; drafts, saved a moment after each change and when the
// annotator leaves; Ctrl+Enter submits, Escape leaves a text field, G opens the guidelines, S the skip form; and the
// page's own set-up again after htmx swaps the workspace in. Each page passes what differs:
//   open(ws, fresh)    focus what the annotator answers first (fresh: a new assignment, read from the top)
//   invalid(el)        focus the field the server marked invalid
//   escape(form)       where Escape from a text field goes
//   key(e, form, ws)   the page's own letter and digit keys; true when handled
// Every page works without JavaScript (plain form posts).
(function () {
  "use strict";

  var DRAFT_DELAY_MS = 1200;

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable) return true;
    return el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox";
  }

  function workspace(page) {
    var timerFor = null; // the assignment the clock belongs to
    var base = 0; // seconds counted before the current visible stretch
    var started = 0; // performance.now() when the current visible stretch began; 0 while hidden
    var saveTimer = null;
    var dirty = false;

    function form() { return document.getElementById("annotate-form"); }
    function area() { return document.getElementById("workspace"); }

    // --- time on task ------------------------------------------------------------------------------------------
    function seconds() { return base + (started ? (performance.now() - started) / 1000 : 0); }
    function pause() { if (started) { base += (performance.now() - started) / 1000; started = 0; } }
    function resume() { if (!started && !document.hidden && timerFor) started = performance.now(); }
    function stampTime(f) {
      var input = f && f.querySelector('input[name="time_on_task_seconds"]');
      if (input) input.value = seconds().toFixed(1);
    }

    function init() {
      var ws = area();
      if (!ws || !ws.dataset.assignment) {
        timerFor = null;
        pause();
        // The empty workspace's next step: what it marks autofocus (the qualification link of a refused claim), or
        // the claim button.
        var next = ws && (ws.querySelector("[autofocus]") || ws.querySelector("[data-claim]"));
        if (next) next.focus();
        return;
      }
      var fresh = timerFor !== ws.dataset.assignment;
      if (fresh) {
        timerFor = ws.dataset.assignment;
        base = parseFloat(ws.dataset.timeOnTask || "0") || 0;
        started = 0;
        dirty = false;
        resume();
      }
      var invalid = ws.querySelector('[aria-invalid="true"]');
      if (invalid) { page.invalid(invalid); return; }
      page.open(ws, fresh);
    }

    // --- keys ----------------------------------------------------------------------------------------------------
    document.addEventListener("keydown", function (e) {
      var f = form();
      var ws = area();
      if (!f || !ws) return;
      var target = e.target;
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
        e.preventDefault();
        ((target.closest && target.closest("form")) || f).requestSubmit();
        return;
      }
      if (typing(target)) {
        if (e.key === "Escape") { e.preventDefault(); target.blur(); page.escape(f); }
        return;
      }
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      var key = e.key.toLowerCase();
      if (key === "g") {
        var g = document.getElementById("guidelines");
        if (g) { e.preventDefault(); g.open = !g.open; }
      } else if (key === "s") {
        var skip = document.getElementById("skip");
        if (skip) {
          e.preventDefault();
          skip.open = true;
          var reason = document.getElementById("skip-reason");
          if (reason) reason.focus();
        }
      } else if (page.key(e, f, ws)) {
        e.preventDefault();
      }
    });

    // --- drafts --------------------------------------------------------------------------------------------------
    function saveDraft(useBeacon) {
      var f = form();
      var ws = area();
      if (!f || !ws || !dirty || !ws.dataset.draftUrl) return;
      clearTimeout(saveTimer);
      stampTime(f);
      var body = new FormData(f);
      dirty = false;
      var status = f.querySelector(".draft-status");
      if (useBeacon && navigator.sendBeacon) { navigator.sendBeacon(ws.dataset.draftUrl, body); return; }
      fetch(ws.dataset.draftUrl, {
        method: "POST", body: body, credentials: "same-origin", keepalive: true,
        headers: { "X-Requested-With": "fetch" },
      }).then(function (r) {
        if (status) status.textContent = r.ok ? "Draft saved." : "";
      }).catch(function () { dirty = true; });
    }
    function changed(e) {
      if (!e.target.closest || !e.target.closest("#annotate-form")) return;
      dirty = true;
      clearTimeout(saveTimer);
      saveTimer = setTimeout(function () { saveDraft(false); }, DRAFT_DELAY_MS);
    }
    document.addEventListener("change", changed);
    document.addEventListener("input", changed);

    // The time spent goes with every submission and draft: capture runs before htmx reads the form.
    document.addEventListener("submit", function (e) {
      if (e.target && e.target.id === "annotate-form") { stampTime(e.target); clearTimeout(saveTimer); dirty = false; }
    }, true);
    document.addEventListener("click", function (e) {
      var button = e.target.closest && e.target.closest("[data-save-draft]");
      if (button) { stampTime(form()); clearTimeout(saveTimer); dirty = false; }
    }, true);
    document.addEventListener("htmx:afterRequest", function (e) {
      if (e.detail && e.detail.elt && e.detail.elt.matches && e.detail.elt.matches("[data-save-draft]")) {
        var status = document.querySelector(".draft-status");
        if (status) status.textContent = e.detail.successful ? "Draft saved." : "Could not save the draft.";
      }
    });

    document.addEventListener("visibilitychange", function () {
      if (document.hidden) { saveDraft(true); pause(); } else { resume(); }
    });
    window.addEventListener("pagehide", function () { saveDraft(true); });

    document.addEventListener("htmx:afterSettle", function (e) {
      var t = e.target;
      if (t && (t.id === "workspace" || (t.querySelector && t.querySelector("#workspace")))) init();
    });
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
  }

  window.PrefstackWorkspace = workspace;
})();
