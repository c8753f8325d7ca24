// The set-up pages' one behaviour beyond htmx attributes: an import's upload progress (no inline handlers: CSP).
(function () {
  "use strict";
  document.addEventListener("htmx:xhr:progress", function (e) {
    var form = e.target && e.target.closest && e.target.closest("[data-upload-progress]");
    var bar = form && form.querySelector("progress");
    if (bar && e.detail && e.detail.total) bar.value = (e.detail.loaded / e.detail.total) * 100;
  });
})();
