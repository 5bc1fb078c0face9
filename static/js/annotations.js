// Labelling page: keyboard first. 1 / 2 / 3 choose A, B or tie, s skips, u undoes the last
// label, r opens the rationale box, ? shows the keys. Every key clicks the matching button, so
// htmx sends the same request a mouse click would and swaps the next pair into #workspace.
// Also measures the time spent on each pair (minus time the tab was hidden).
(function () {
  "use strict";

  var shownAt = Date.now();
  var hiddenSince = null;
  var hiddenMs = 0;
  var busy = false;

  function workspace() { return document.getElementById("workspace"); }
  function keysDialog() { return document.getElementById("keys-dialog"); }

  function resetTimer() {
    shownAt = Date.now();
    hiddenMs = 0;
    hiddenSince = document.hidden ? Date.now() : null;
  }

  function elapsed() {
    var hidden = hiddenMs + (hiddenSince !== null ? Date.now() - hiddenSince : 0);
    return Math.max(0, Date.now() - shownAt - hidden);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hiddenSince = Date.now();
    } else if (hiddenSince !== null) {
      hiddenMs += Date.now() - hiddenSince;
      hiddenSince = null;
    }
  });

  // Runs in the capture phase, before htmx reads the form, so the time goes with the request.
  function stampTime(target) {
    var form = target && target.closest ? target.closest("#label-form") : null;
    if (!form) { return; }
    var field = form.querySelector("[data-time-spent]");
    if (field) { field.value = String(elapsed()); }
  }
  document.addEventListener("click", function (event) { stampTime(event.target); }, true);
  document.addEventListener("submit", function (event) { stampTime(event.target); }, true);

  function isTyping(element) {
    if (!element) { return false; }
    var tag = element.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable ||
      (tag === "INPUT" && !/^(radio|checkbox|button|submit)$/i.test(element.type));
  }

  function toggleKeys() {
    var dialog = keysDialog();
    if (!dialog) { return; }
    if (dialog.open) { dialog.close(); } else if (dialog.showModal) { dialog.showModal(); }
  }

  function press(key) {
    var root = workspace();
    var button = root ? root.querySelector('[data-key="' + key + '"]') : null;
    if (!button || button.disabled) { return false; }
    button.classList.add("pressed");
    button.click();
    return true;
  }

  function openRationale() {
    var root = workspace();
    var more = root ? root.querySelector("[data-more]") : null;
    var box = root ? root.querySelector("[data-rationale]") : null;
    if (!more || !box) { return false; }
    more.open = true;
    box.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (!document.querySelector("[data-label-page]")) { return; }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (isTyping(event.target)) {
      if (event.key === "Escape") { event.target.blur(); event.preventDefault(); }
      return;
    }
    var dialog = keysDialog();
    if (event.key === "?") { toggleKeys(); event.preventDefault(); return; }
    if (dialog && dialog.open) { return; }
    if (busy || event.repeat) { return; }
    var handled = false;
    switch (event.key) {
      case "1": case "2": case "3": case "s": case "u":
        handled = press(event.key);
        break;
      case "S": case "U":
        handled = press(event.key.toLowerCase());
        break;
      case "r": case "R":
        handled = openRationale();
        break;
      default:
        return;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-keys-open]")) { toggleKeys(); }
  });

  function inWorkspace(event) {
    var element = event.detail && event.detail.elt;
    return Boolean(element && element.closest && element.closest("#workspace"));
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!inWorkspace(event)) { return; }
    busy = true;
    var root = workspace();
    if (root) { root.classList.add("busy"); root.setAttribute("aria-busy", "true"); }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!inWorkspace(event)) { return; }
    busy = false;
    var root = workspace();
    if (root) { root.classList.remove("busy"); root.removeAttribute("aria-busy"); }
  });

  // htmx leaves the page alone on an error response: say so instead of failing silently.
  function showRequestError(message) {
    var root = workspace();
    var box = root ? root.querySelector("[data-request-error]") : null;
    if (!box) { return; }
    box.textContent = message;
    box.classList.remove("hidden");
  }
  document.addEventListener("htmx:responseError", function (event) {
    if (!inWorkspace(event)) { return; }
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    showRequestError("The label was not saved (error " + status + "). Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (!inWorkspace(event)) { return; }
    showRequestError("The server could not be reached; your label was not saved. Try again.");
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "workspace") { return; }
    var root = workspace();
    // htmx would wire up the swapped-in form only when the swap settles (20 ms later); a key
    // pressed before then would submit the bare form and reload the page. Wire it up now.
    if (root && window.htmx) { window.htmx.process(root); }
    busy = false;
    resetTimer();
    if (root && root.getBoundingClientRect().top < 0) { root.scrollIntoView({ block: "start" }); }
  });

  resetTimer();
})();
