// Small behaviours shared by every page. No inline scripts anywhere, so the pages work under a
// strict Content-Security-Policy.
(function () {
  "use strict";
  // The narrow-screen menu stays open without JavaScript; with it, the menu button folds it.
  document.documentElement.classList.add("js");

  // Confirm dangerous actions: <button data-confirm="Really?">
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // The menu button of narrow screens: opens and closes the navigation panel.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("open", open);
  });
})();
