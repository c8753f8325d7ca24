// "?" opens the project's guidelines page from any task page (the link carrying data-guidelines-link), unless
// the annotator is typing in a text field.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "?" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (target.type !== "radio" && target.type !== "checkbox") return;
    }
    var link = document.querySelector("[data-guidelines-link]");
    if (!link) return;
    event.preventDefault();
    window.location.assign(link.href);
  });
})();
