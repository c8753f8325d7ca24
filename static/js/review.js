// Keyboard shortcuts for reviewing annotations (the disagreement queue and an annotator's page): j / k move to the
// next / previous annotation card, a accepts it, r opens its reject form on the reason, x ticks it for bulk accept.
// Without JavaScript the same buttons and checkboxes work by hand; nothing here is needed to review.
(function () {
  "use strict";

  var current = null;

  function cards() {
    return Array.prototype.slice.call(document.querySelectorAll(".annotation-card"));
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function select(card) {
    if (!card) return;
    cards().forEach(function (c) { c.classList.remove("is-current"); });
    card.classList.add("is-current");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
    current = card.id;
  }

  function selected() {
    var card = current ? document.getElementById(current) : null;
    return card || null;
  }

  function move(step) {
    var all = cards();
    if (!all.length) return;
    var index = all.indexOf(selected());
    var next = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var card = selected();
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": {
        var accept = card && card.querySelector("button.accept");
        if (!accept) return;
        accept.click();
        break;
      }
      case "r": {
        var reject = card && card.querySelector("details.reject");
        if (!reject) return;
        reject.open = true;
        reject.querySelector("textarea").focus();
        break;
      }
      case "x": {
        var tick = card && card.querySelector(".bulk-tick input");
        if (!tick) return;
        tick.checked = !tick.checked;
        break;
      }
      default: return;
    }
    event.preventDefault();
  }

  document.addEventListener("keydown", onKey);
  // A reviewed card is swapped in place (htmx outerHTML): keep it the current one.
  document.addEventListener("htmx:afterSwap", function () {
    var card = selected();
    if (!card) return;
    card.classList.add("is-current");
    if (!card.contains(document.activeElement)) card.focus({ preventScroll: true });
  });
  // htmx pushes filters and pages into the address bar without a reload: the bulk form goes back to where the lead is.
  document.addEventListener("submit", function (event) {
    if (event.target.id !== "bulk-accept") return;
    var next = event.target.querySelector("input[name=next]");
    if (next) next.value = window.location.pathname + window.location.search;
  });
  // A click or focus inside a card makes it the current one.
  document.addEventListener("focusin", function (event) {
    var card = event.target.closest && event.target.closest(".annotation-card");
    if (card && card.id !== current) {
      cards().forEach(function (c) { c.classList.remove("is-current"); });
      card.classList.add("is-current");
      current = card.id;
    }
  });
})();
