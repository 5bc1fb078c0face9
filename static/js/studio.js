// Small behaviours shared by every page. No inline scripts anywhere, so the pages work under a
// strict Content-Security-Policy.
(function () {
  "use strict";
  // Confirm dangerous actions: <button data-confirm="Really?">
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
