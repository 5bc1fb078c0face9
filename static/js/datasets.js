// Dataset pages: upload progress and a busy state for the import form (htmx does the request).
(function () {
  "use strict";

  function importForm(event) {
    var form = event.target && event.target.closest ? event.target.closest("form.import-form") : null;
    return form;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = importForm(event);
    if (!form) { return; }
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.dataset.label = button.textContent; button.textContent = "Importing…"; }
    var bar = form.querySelector("[data-upload-progress]");
    if (bar) { bar.classList.remove("hidden"); bar.firstElementChild.style.width = "0%"; }
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = importForm(event);
    if (!form || !event.detail.lengthComputable) { return; }
    var bar = form.querySelector("[data-upload-progress]");
    if (bar) { bar.firstElementChild.style.width = Math.round(100 * event.detail.loaded / event.detail.total) + "%"; }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = importForm(event);
    if (!form) { return; }
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = false; button.textContent = button.dataset.label || "Import"; }
    var bar = form.querySelector("[data-upload-progress]");
    if (bar) { bar.classList.add("hidden"); }
    // A successful import clears the chosen file so the same file is not sent twice by mistake.
    if (event.detail.successful && event.detail.xhr.getResponseHeader("HX-Trigger")) {
      var input = form.querySelector("input[type=file]");
      if (input) { input.value = ""; }
    }
  });
})();
