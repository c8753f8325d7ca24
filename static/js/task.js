// The feedback, edit and edit-quality pages' own keys and where focus goes; time on task, drafts and the shared keys
// come from workspace.js. The page works without this file (plain form posts; the rules check then runs on submit
// only).
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function firstField(ws) {
    var type = ws.dataset.taskType;
    if (type === "feedback") return byId("feedback_1");
    if (type === "edit") return byId("edit-text");
    return ws.querySelector('input[name="choice"]:checked') || ws.querySelector('input[name="choice"]');
  }

  function open(ws, fresh) {
    if (fresh) window.scrollTo(0, 0);
    var field = firstField(ws);
    if (field) field.focus({ preventScroll: true });
  }

  function invalid(el) {
    var input = el.matches("fieldset") ? el.querySelector("input") : el;
    if (input) input.focus({ preventScroll: true });
  }

  function key(e, f, ws) {
    var k = e.key.toLowerCase();
    var type = ws.dataset.taskType;
    var focus = null;
    if ((k === "1" || k === "2") && type === "feedback") {
      focus = byId("feedback_" + k);
    } else if ((k === "1" || k === "2") && type === "edit_quality") {
      var radio = f.querySelector('input[name="choice"][value="' + k + '"]');
      if (radio) { radio.checked = true; radio.dispatchEvent(new Event("change", { bubbles: true })); focus = radio; }
    } else if (k === "e" && type === "edit") {
      focus = byId("edit-text");
    } else if (k === "c" && type === "edit") {
      focus = byId("change-summary");
    }
    if (focus) focus.focus();
    return !!focus;
  }

  window.PrefstackWorkspace({
    open: open,
    invalid: invalid,
    escape: function (f) { f.querySelector(".actions button").focus(); },
    key: key,
  });
})();
