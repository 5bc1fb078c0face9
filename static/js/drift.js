// Drift review pages. No inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";
  // Approving a drift alert needs a written reason: say so before the round trip. The server
  // checks it again; this only saves a refused request.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-needs-reason]");
    if (!button || !button.form) { return; }
    var reason = button.form.querySelector("textarea[name=reason]");
    var hint = button.form.querySelector("[data-reason-hint]");
    if (reason && !reason.value.trim()) {
      event.preventDefault();
      event.stopPropagation();
      if (hint) { hint.hidden = false; }
      reason.focus();
    }
  }, true);
})();
