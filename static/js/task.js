// The feedback, edit and edit-quality page's few behaviours beyond htmx: keyboard shortcuts, time on task, drafts.
// The page works without this file (plain form posts; the rules check then runs on submit only).
(function () {
  "use strict";

  var timerFor = null;
  var base = 0;
  var started = 0;
  var saveTimer = null;
  var dirty = false;

  function form() { return document.getElementById("annotate-form"); }
  function workspace() { return document.getElementById("workspace"); }
  function byId(id) { return document.getElementById(id); }

  function seconds() { return base + (started ? (performance.now() - started) / 1000 : 0); }
  function pause() { if (started) { base += (performance.now() - started) / 1000; started = 0; } }
  function resume() { if (!started && !document.hidden && timerFor) started = performance.now(); }
  function stampTime(f) {
    var input = f && f.querySelector('input[name="time_on_task_seconds"]');
    if (input) input.value = seconds().toFixed(1);
  }

  function firstField(ws) {
    var type = ws.dataset.taskType;
    if (type === "feedback") return byId("feedback_1");
    if (type === "edit") return byId("edit-text");
    return ws.querySelector('input[name="choice"]:checked') || ws.querySelector('input[name="choice"]');
  }

  function init() {
    var ws = workspace();
    if (!ws || !ws.dataset.assignment) {
      timerFor = null;
      pause();
      // The empty workspace's next step: what it marks autofocus (the qualification link of a refused claim), or
      // the claim button (as on the annotate page).
      var claim = ws && (ws.querySelector("[autofocus]") || ws.querySelector("[data-claim]"));
      if (claim) claim.focus();
      return;
    }
    if (timerFor !== ws.dataset.assignment) {
      timerFor = ws.dataset.assignment;
      base = parseFloat(ws.dataset.timeOnTask || "0") || 0;
      started = 0;
      dirty = false;
      resume();
      window.scrollTo(0, 0);
    }
    var invalid = ws.querySelector('[aria-invalid="true"]');
    if (invalid) {
      var input = invalid.matches("fieldset") ? invalid.querySelector("input") : invalid;
      if (input) input.focus({ preventScroll: true });
      return;
    }
    var field = firstField(ws);
    if (field) field.focus({ preventScroll: true });
  }

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable) return true;
    return el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox";
  }

  document.addEventListener("keydown", function (e) {
    var f = form();
    var ws = workspace();
    if (!f || !ws) return;
    var target = e.target;
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      ((target.closest && target.closest("form")) || f).requestSubmit();
      return;
    }
    if (isTyping(target)) {
      if (e.key === "Escape") { e.preventDefault(); target.blur(); f.querySelector(".actions button").focus(); }
      return;
    }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var key = e.key.toLowerCase();
    var type = ws.dataset.taskType;
    var focus = null;
    if ((key === "1" || key === "2") && type === "feedback") {
      focus = byId("feedback_" + key);
    } else if ((key === "1" || key === "2") && type === "edit_quality") {
      var radio = f.querySelector('input[name="choice"][value="' + key + '"]');
      if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", { bubbles: true })); focus = radio; }
    } else if (key === "e" && type === "edit") {
      focus = byId("edit-text");
    } else if (key === "c" && type === "edit") {
      focus = byId("change-summary");
    } else if (key === "g") {
      var g = byId("guidelines");
      if (g) { e.preventDefault(); g.open = !g.open; }
    } else if (key === "s") {
      var skip = byId("skip");
      if (skip) { skip.open = true; focus = byId("skip-reason"); }
    }
    if (focus) { e.preventDefault(); focus.focus(); }
  });

  function saveDraft(useBeacon) {
    var f = form();
    var ws = workspace();
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
    saveTimer = setTimeout(function () { saveDraft(false); }, 1500);
  }
  document.addEventListener("change", changed);
  document.addEventListener("input", changed);
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "annotate-form") { stampTime(e.target); clearTimeout(saveTimer); dirty = false; }
  }, true);
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { saveDraft(true); pause(); } else { resume(); }
  });
  window.addEventListener("pagehide", function () { saveDraft(true); });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && (e.target.id === "workspace" || (e.target.querySelector && e.target.querySelector("#workspace")))) init();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
