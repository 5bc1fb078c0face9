// Rubric editor behaviours. Loaded with defer on the rubric pages; no inline script anywhere.
(function () {
  "use strict";

  // A stale save answers 409 (conflict) and a refused value 422 (field errors): both carry the
  // message the author must see, so htmx swaps them like successes instead of dropping them.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "409", swap: true, error: false },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true }
    ];
  }

  // The save status says what is true: "Unsaved changes" from the first keystroke, "Saving..."
  // while a request is out, the server's answer once it lands, and "Unsaved changes" again when
  // the author typed on while that request was out. Counting edits tells the two apart.
  var edits = 0;
  var sentAt = 0;

  function status(text, state) {
    var box = document.getElementById("save-status");
    if (!box) { return; }
    box.setAttribute("data-state", state);
    box.textContent = "";
    var span = document.createElement("span");
    span.className = state === "failed" ? "error" : "muted";
    span.textContent = text;
    box.appendChild(span);
  }

  function inEditor(el) {
    return el && el.closest && el.closest("#editor") && !el.closest(".add-criterion");
  }

  document.addEventListener("input", function (event) {
    if (!inEditor(event.target)) { return; }
    edits += 1;
    status("Unsaved changes", "dirty");
  });
  document.addEventListener("change", function (event) {
    if (!inEditor(event.target) || event.target.tagName !== "SELECT") { return; }
    edits += 1;
    status("Unsaved changes", "dirty");
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!inEditor(event.detail.elt)) { return; }
    sentAt = edits;
    status("Saving…", "saving");
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var box = document.getElementById("save-status");
    if (!box || !inEditor(event.detail.elt)) { return; }
    if (box.querySelector(".error, .conflict")) {
      box.setAttribute("data-state", "failed");
    } else if (edits > sentAt) {
      status("Unsaved changes", "dirty");
    } else {
      box.setAttribute("data-state", "saved");
    }
  });
  ["htmx:sendError", "htmx:responseError"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (!inEditor(event.detail.elt)) { return; }
      status("Not saved: the server could not be reached. Your text is still here; keep typing to retry.", "failed");
    });
  });
  window.addEventListener("beforeunload", function (event) {
    var box = document.getElementById("save-status");
    var state = box && box.getAttribute("data-state");
    if (state === "dirty" || state === "saving" || state === "failed") {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // A new criterion was added: empty the box for the next one.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form.add-criterion")) { return; }
    var code = event.detail.xhr ? event.detail.xhr.status : 0;
    if (code < 200 || code > 299) { return; }  // a refused add keeps the title typed
    form.reset();
    var input = form.querySelector("input[name=title]");
    if (input) { input.focus(); }
  });

  // Publishing a criterion without a description: the judge would see its title alone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.publish-form")) { return; }
    var empty = [];
    document.querySelectorAll("#criteria > li.criterion").forEach(function (item) {
      var description = item.querySelector("textarea[name=description]");
      var title = item.querySelector("input[name=title]");
      if (description && !description.value.trim()) {
        empty.push("“" + (title ? title.value : "?") + "”");
      }
    });
    if (!empty.length) { return; }
    var message = (empty.length === 1 ? "The criterion " + empty[0] + " has" : "The criteria " + empty.join(", ") + " have") +
      " no description: the judge will see only the title. Publish anyway?";
    if (!window.confirm(message)) { event.preventDefault(); }
  });

  // Drag to reorder: only the handle is draggable, so text in the fields can still be selected
  // with the mouse; the whole card follows it.
  var dragged = null;

  function criterionOf(el) {
    return el && el.closest ? el.closest("#criteria > li.criterion") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var handle = event.target.closest && event.target.closest(".drag-handle");
    var item = criterionOf(handle);
    if (!item) { return; }
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.getAttribute("data-id"));
    if (event.dataTransfer.setDragImage) { event.dataTransfer.setDragImage(item, 16, 16); }
  });

  document.addEventListener("dragover", function (event) {
    var target = criterionOf(event.target);
    if (!dragged || !target || target === dragged) { return; }
    event.preventDefault();
    document.querySelectorAll("#criteria > li.drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
    target.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var target = criterionOf(event.target);
    if (!dragged || !target || target === dragged) { return; }
    event.preventDefault();
    var list = target.parentNode;
    var items = Array.prototype.slice.call(list.children);
    var after = items.indexOf(dragged) < items.indexOf(target);
    list.insertBefore(dragged, after ? target.nextSibling : target);
    var order = Array.prototype.map.call(list.querySelectorAll(":scope > li.criterion"), function (el) {
      return el.getAttribute("data-id");
    });
    var form = document.getElementById(list.getAttribute("data-reorder-form"));
    if (form && window.htmx) {
      form.querySelector("[name=order]").value = order.join(",");
      window.htmx.trigger(form, "reorder");
    }
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    document.querySelectorAll("#criteria > li.drop-target").forEach(function (el) {
      el.classList.remove("drop-target");
    });
  });
})();
