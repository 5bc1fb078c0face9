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

  // A box that scrolls (a wide table on a phone, a long prompt) must be reachable with the
  // keyboard: it gets tabindex=0 while its content overflows it.
  function markScrollable(root) {
    var boxes = root.querySelectorAll(".table-wrap, .scroll, pre, main table, [data-scrollable]");
    Array.prototype.forEach.call(boxes, function (box) {
      var style = window.getComputedStyle(box);
      var scrolls = /(auto|scroll)/.test(style.overflowX + style.overflowY);
      var overflows = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (scrolls && overflows) {
        if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
        box.setAttribute("data-scrollable", "");
      } else if (box.hasAttribute("data-scrollable")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scrollable");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { markScrollable(document); });
  document.addEventListener("htmx:afterSettle", function () { markScrollable(document); });
  window.addEventListener("resize", function () { markScrollable(document); });

  // The menu button of narrow screens: opens and closes the navigation panel.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("open", open);
  });
})();
