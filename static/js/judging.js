// Judging pages. No inline scripts: loaded with <script src defer>.
(function () {
  "use strict";
  // The judge form shows only the fields its backend uses.
  var USED = {
    offline: ["name", "backend", "params"],
    openai: null,
    local: ["name", "backend", "model", "params", "concurrency"]
  };
  function syncJudgeForm(form) {
    var backend = form.querySelector("[name=backend]");
    if (!backend) return;
    var used = USED[backend.value];
    form.querySelectorAll("[data-field]").forEach(function (el) {
      var show = !used || used.indexOf(el.getAttribute("data-field")) !== -1;
      el.classList.toggle("hidden", !show);
    });
    form.querySelectorAll("[data-backend-note]").forEach(function (el) {
      el.classList.toggle("hidden", el.getAttribute("data-backend-note") !== backend.value);
    });
  }
  function init(root) {
    root.querySelectorAll("[data-judge-form]").forEach(function (form) {
      syncJudgeForm(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "backend") syncJudgeForm(form);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
