// The annotate page's few behaviours beyond htmx: keyboard shortcuts, time on task, and drafts.
// The page works without this file (plain form posts); with it, everything is reachable from the keyboard.
(function () {
  "use strict";

  var timerFor = null; // assignment id the timer belongs to
  var base = 0; // seconds counted before the current visible stretch
  var started = 0; // performance.now() when the current visible stretch began, 0 while hidden
  var saveTimer = null;
  var dirty = false;

  function form() { return document.getElementById("annotate-form"); }
  function workspace() { return document.getElementById("workspace"); }
  function rows() {
    var f = form();
    return f ? Array.prototype.slice.call(f.querySelectorAll("[data-row]")) : [];
  }

  // --- time on task: only while the page is visible -----------------------------------------------------------
  function seconds() {
    return base + (started ? (performance.now() - started) / 1000 : 0);
  }
  function pause() {
    if (started) { base += (performance.now() - started) / 1000; started = 0; }
  }
  function resume() {
    if (!started && !document.hidden && timerFor) started = performance.now();
  }
  function stampTime(f) {
    var input = f && f.querySelector('input[name="time_on_task_seconds"]');
    if (input) input.value = seconds().toFixed(1);
  }

  // --- focus helpers ---------------------------------------------------------------------------------------------
  function focusRow(row, preventScroll) {
    if (!row) return;
    var input = row.querySelector("input:checked") || row.querySelector("input");
    if (input) input.focus({ preventScroll: !!preventScroll });
  }
  function justification() { return document.getElementById("justification"); }
  function firstUnanswered() {
    var all = rows();
    for (var i = 0; i < all.length; i++) {
      if (!all[i].querySelector("input:checked")) return all[i];
    }
    return null;
  }
  function focusNext(row) {
    var all = rows();
    var next = all[all.indexOf(row) + 1];
    if (next) focusRow(next); else if (justification()) justification().focus();
  }

  function init() {
    var ws = workspace();
    if (!ws || !ws.dataset.assignment) {
      timerFor = null;
      pause();
      // The empty workspace's next step: what it marks autofocus (the qualification link of a refused claim), or
      // the claim button.
      var claim = ws && (ws.querySelector("[autofocus]") || ws.querySelector("[data-claim]"));
      if (claim) claim.focus();
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
    if (invalid) {
      if (invalid.matches("[data-row]")) focusRow(invalid); else invalid.focus();
      return;
    }
    // A new comparison is read from the top: focus waits on the first question without scrolling to it.
    var row = firstUnanswered();
    if (row) focusRow(row, fresh); else if (justification()) justification().focus({ preventScroll: fresh });
    if (fresh) showFromTheTop(ws);
  }

  // --- a new comparison opens at its prompt (or the lead's note), the conversation at its last user turn ---------
  function showFromTheTop(ws) {
    var box = ws.querySelector(".conversation");
    var users = box ? box.querySelectorAll(".turn-user") : [];
    if (users.length) {
      var last = users[users.length - 1];
      box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 4;
    }
    window.scrollTo(0, 0);
    var note = document.getElementById("review-note");
    if (note) note.scrollIntoView({ block: "nearest" });
  }

  // --- the hovered or focused level's description, in the line under its response's ratings ------------------
  function showLevel(level) {
    var ratings = level && level.closest(".ratings");
    var hint = ratings && ratings.querySelector("[data-level-hint]");
    if (!hint) return;
    var legend = level.closest("fieldset").querySelector("legend");
    hint.textContent = (legend ? legend.textContent + " " : "") + level.dataset.tip;
  }
  document.addEventListener("focusin", function (e) {
    showLevel(e.target.closest && e.target.closest(".level"));
  });
  document.addEventListener("mouseover", function (e) {
    showLevel(e.target.closest && e.target.closest(".level"));
  });

  // --- choosing with digits ----------------------------------------------------------------------------------------
  function choose(row, digit) {
    var inputs = Array.prototype.slice.call(row.querySelectorAll('input[type="radio"]'));
    var input = null;
    if (row.dataset.row === "strength") {
      input = inputs[digit - 1] || null; // 1 … 7, left to right
    } else {
      input = inputs.filter(function (i) { return i.value === String(digit); })[0] || null;
    }
    if (!input) return false;
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    focusNext(row);
    return true;
  }

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable) return true;
    return el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox";
  }

  document.addEventListener("keydown", function (e) {
    var f = form();
    if (!f) return;
    var target = e.target;
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      var owner = (target.closest && target.closest("form")) || f;
      owner.requestSubmit();
      return;
    }
    if (isTyping(target)) {
      if (e.key === "Escape") {
        e.preventDefault();
        target.blur();
        focusRow(f.querySelector('[data-row="strength"]'));
      }
      return;
    }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var key = e.key;
    if (/^[0-9]$/.test(key)) {
      var row = (target.closest && target.closest("[data-row]")) || firstUnanswered();
      if (row && choose(row, parseInt(key, 10))) e.preventDefault();
    } else if (key === "j" || key === "J") {
      e.preventDefault();
      if (justification()) justification().focus();
    } else if (key === "g" || key === "G") {
      var g = document.getElementById("guidelines");
      if (g) { e.preventDefault(); g.open = !g.open; }
    } else if (key === "s" || key === "S") {
      var skip = document.getElementById("skip");
      if (skip) {
        e.preventDefault();
        skip.open = true;
        var reason = document.getElementById("skip-reason");
        if (reason) reason.focus();
      }
    }
  });

  // --- drafts: saved a moment after each change, and when the annotator leaves --------------------------------
  function saveDraft(useBeacon) {
    var f = form();
    var ws = workspace();
    if (!f || !ws || !dirty || !ws.dataset.draftUrl) return;
    clearTimeout(saveTimer);
    stampTime(f);
    var body = new FormData(f);
    dirty = false;
    var status = f.querySelector(".draft-status");
    if (useBeacon && navigator.sendBeacon) {
      navigator.sendBeacon(ws.dataset.draftUrl, body);
      return;
    }
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
    saveTimer = setTimeout(function () { saveDraft(false); }, 1200);
  }
  document.addEventListener("change", changed);
  document.addEventListener("input", changed);

  // The time spent goes with every submission (and draft); capture runs before htmx reads the form.
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "annotate-form") {
      stampTime(e.target);
      clearTimeout(saveTimer);
      dirty = false;
    }
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
    if (e.target && (e.target.id === "workspace" || (e.target.querySelector && e.target.querySelector("#workspace")))) init();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
