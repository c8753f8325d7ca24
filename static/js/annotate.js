// The comparison page's own behaviours: digits choose levels, J goes to the justification, the level descriptions,
// and where focus goes. Time on task, drafts and the shared keys come from workspace.js.
// The page works without this file (plain form posts); with it, everything is reachable from the keyboard.
(function () {
  "use strict";

  function form() { return document.getElementById("annotate-form"); }
  function rows() {
    var f = form();
    return f ? Array.prototype.slice.call(f.querySelectorAll("[data-row]")) : [];
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

  function open(ws, fresh) {
    // A new comparison is read from the top: focus waits on the first question without scrolling to it.
    var row = firstUnanswered();
    if (row) focusRow(row, fresh); else if (justification()) justification().focus({ preventScroll: fresh });
    if (fresh) showFromTheTop(ws);
  }
  function invalid(el) {
    if (el.matches("[data-row]")) focusRow(el); else el.focus();
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

  function key(e) {
    var target = e.target;
    if (/^[0-9]$/.test(e.key)) {
      var row = (target.closest && target.closest("[data-row]")) || firstUnanswered();
      return !!row && choose(row, parseInt(e.key, 10));
    }
    if (e.key === "j" || e.key === "J") {
      if (justification()) justification().focus();
      return true;
    }
    return false;
  }

  window.PrefstackWorkspace({
    open: open,
    invalid: invalid,
    escape: function (f) { focusRow(f.querySelector('[data-row="strength"]')); },
    key: key,
  });
})();
